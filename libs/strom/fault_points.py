"""Named steps of the checkpoint protocol where a test may crash the process: the runtime's
only hook into the test harness.

The runtime calls :func:`inject` at each step (``inject("after-barrier")``). By default that
does nothing: no handler is armed and production code never arms one. The test harness,
:mod:`strom.testing.faults`, arms a handler in a service process whose environment sets
``STROM_FAULT_INJECT=<step>:<n>`` (the ``strom`` command's service entry does it, before the
service starts); that handler kills the process the n-th time it reaches ``<step>``. So the
runtime never imports :mod:`strom.testing`, and a process without the variable pays one
``None`` check per step.

Steps, TaskManager: ``after-barrier``, ``after-snapshot``, ``after-ack``,
``sink-before-commit`` (checkpoint completed, the sink's transaction not begun),
``sink-during-commit`` (records and marker sent, commit not yet), ``sink-after-commit``;
JobManager: ``after-complete`` (completed checkpoint written to Redis, tasks not yet notified).
"""

from __future__ import annotations

from collections.abc import Callable

STEPS = ("after-barrier", "after-snapshot", "after-ack", "sink-before-commit", "sink-during-commit",
         "sink-after-commit", "after-complete")

_handler: Callable[[str], None] | None = None


def inject(step: str) -> None:
    """The process reached ``step`` (one of :data:`STEPS`): run the armed handler, if any."""
    if _handler is not None:
        _handler(step)


def arm(handler: Callable[[str], None] | None) -> None:
    """Call ``handler(step)`` at every step from now on (None disarms). For :mod:`strom.testing`."""
    global _handler
    _handler = handler
