"""Fault injection for tests: crash the process at a named step of the checkpoint protocol.

Production never sets ``STROM_FAULT_INJECT``. A test sets it on one
TaskManager or JobManager to ``<step>:<n>``; the n-th time the process
reaches ``<step>`` it dies with ``os._exit(137)``, like kill -9, before any
cleanup. Steps, TaskManager: after-barrier, after-snapshot, after-ack,
sink-before-commit (checkpoint completed, the sink's transaction not begun),
sink-during-commit (records and marker sent, commit not yet), sink-after-commit;
JobManager: after-complete (completed checkpoint written to Redis, tasks not
yet notified).
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
