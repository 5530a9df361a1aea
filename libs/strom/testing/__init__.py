"""The test harness, shipped with the library so ``strom drill`` works from any install.

- :mod:`~strom.testing.drill`: failover drills (``strom drill``, ``ops/drill``, tests/integration/test_ha.py).
- :mod:`~strom.testing.faults`: crashes at named protocol steps (``STROM_FAULT_INJECT``), armed
  through the runtime's one hook, :mod:`strom.fault_points`.
- :mod:`~strom.testing.local`: :func:`~strom.testing.local.run_locally`, a whole job in one process
  without Kafka, ZooKeeper or Redis (on the runtime's own operator chains: :mod:`~strom.testing.local_job`,
  :mod:`~strom.testing.local_chain`, :mod:`~strom.testing.local_source`), with snapshot and restore.
- :mod:`~strom.testing.harness`: one operator by hand (Flink's operator test harnesses).
- :mod:`~strom.testing.readiness`: :func:`~strom.testing.readiness.wait_until_ready`, the one
  "wait until the cluster is ready" of ``strom cluster up``, the drills and the tests.

Nothing under ``strom`` imports this package except the ``strom`` command (cli.py) and tests.
"""
