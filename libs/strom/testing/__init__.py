"""The test harness, shipped with the library so ``strom drill`` works from any install.

- :mod:`~strom.testing.drill`: failover drills (``strom drill``, ``ops/drill``, tests/integration/test_ha.py).
- :mod:`~strom.testing.faults`: crashes at named protocol steps (``STROM_FAULT_INJECT``), armed
  through the runtime's one hook, :mod:`strom.fault_points`.
- :mod:`~strom.testing.readiness`: :func:`~strom.testing.readiness.wait_until_ready`, the one
  "wait until the cluster is ready" of ``strom cluster up``, the drills and the tests.

Nothing under ``strom`` imports this package except the ``strom`` command (cli.py) and tests.
"""
