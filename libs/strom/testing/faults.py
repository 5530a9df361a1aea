"""Fault injection: die like kill -9 at a named step of the checkpoint protocol.

A test sets ``STROM_FAULT_INJECT=<step>:<n>`` (``:n`` defaults to 1) on one TaskManager or
JobManager; :func:`arm_from_env` (called by the ``strom`` command before a service starts)
arms :class:`FaultInjection` on the runtime's hook, :func:`strom.fault_points.inject`. The
n-th time the process reaches ``<step>`` it exits with ``os._exit(137)``, before any cleanup.
Production never sets the variable. The steps are :data:`strom.fault_points.STEPS`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping

from strom import fault_points

ENV_VAR = "STROM_FAULT_INJECT"
EXIT_CODE = 137  # what a shell reports for kill -9


class FaultInjection:
    """Dies the ``count``-th time :meth:`__call__` is called with ``step`` (thread-safe)."""

    def __init__(self, step: str, count: int = 1) -> None:
        self.step = step
        self._remaining = count
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, spec: str) -> FaultInjection:
        """``<step>[:<n>]``; raises ValueError naming what is wrong (a typo would never fire)."""
        step, _, count = spec.partition(":")
        if step not in fault_points.STEPS:
            raise ValueError(f"{ENV_VAR}={spec!r}: unknown step {step!r}; one of {', '.join(fault_points.STEPS)}")
        if count and (not count.isdigit() or int(count) < 1):
            raise ValueError(f"{ENV_VAR}={spec!r}: the count after ':' must be a number >= 1")
        return cls(step, int(count or 1))

    def __call__(self, step: str) -> None:
        if step != self.step:
            return
        with self._lock:
            self._remaining -= 1
            if self._remaining == 0:
                print(f"fault injection: dying at {step}", file=sys.stderr, flush=True)
                os._exit(EXIT_CODE)


def arm_from_env(env: Mapping[str, str] = os.environ) -> FaultInjection | None:
    """Arm the injection ``STROM_FAULT_INJECT`` asks for, if any; returns it.

    Raises ValueError if the variable names no known step.
    """
    spec = env.get(ENV_VAR, "")
    if not spec:
        return None
    injection = FaultInjection.parse(spec)
    fault_points.arm(injection)
    return injection
