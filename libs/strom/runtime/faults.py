"""Fault injection for tests: crash the process at a named step of the checkpoint protocol.

Production never sets ``STROM_FAULT_INJECT``. A test sets it on one
TaskManager or JobManager to ``<step>:<n>``; the n-th time the process
reaches ``<step>`` it dies with ``os._exit(137)``, like kill -9, before any
cleanup. Steps: after-barrier, after-snapshot, after-ack, sink-before-commit,
sink-after-commit (TaskManager), after-complete (JobManager, after the
completed checkpoint is written to Redis and before tasks are notified).
"""

from __future__ import annotations

import os
import sys
import threading

_spec = os.environ.get("STROM_FAULT_INJECT", "")
_step, _, _count = _spec.partition(":")
_remaining = int(_count or 1) if _step else 0
_lock = threading.Lock()


def inject(step: str) -> None:
    """Die here if the injection names ``step`` and its count is reached."""
    global _remaining
    if step != _step:
        return
    with _lock:
        _remaining -= 1
        if _remaining == 0:
            print(f"fault injection: dying at {step}", file=sys.stderr, flush=True)
            os._exit(137)
