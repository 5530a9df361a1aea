"""Who runs a job when its ``main`` calls ``env.execute()`` (Flink's ``PipelineExecutor``).

The API does not know how to reach a cluster; a client registers how. ``strom run``
sets an :class:`ExecutionContext` (its executor, ``--parallelism``, ``--from-savepoint``)
for the time the job's ``main`` runs; outside it (``python job.py``) ``execute()`` uses
the executor registered under the entry point group ``strom.executors`` (name
``remote``: submit over REST and wait), found the way Flink's ``PipelineExecutorServiceLoader``
finds its factories, so the API never imports the client.

>>> from strom.api.executor import ExecutionContext, current_context, execution_context
>>> with execution_context(ExecutionContext(executor=lambda graph: "ran", parallelism=4)):
...     current_context().parallelism
4
>>> current_context().parallelism is None
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from strom.graph.job_graph import JobGraph

ENTRY_POINT_GROUP = "strom.executors"
DEFAULT_EXECUTOR = "remote"


class PipelineExecutor(Protocol):
    """Runs a built JobGraph; returns what ``env.execute()`` returns (e.g. the job's final details)."""

    def __call__(self, job_graph: JobGraph) -> Any: ...


@dataclass(frozen=True)
class ExecutionContext:
    """What a client sets while a job's ``main`` runs.

    ``executor``: runs the JobGraph (None: the registered default). ``parallelism``: the
    default parallelism of every environment created meanwhile (None: 1).
    ``savepoint``: the savepoint id the job restores from (None: start empty).
    """

    executor: PipelineExecutor | None = None
    parallelism: int | None = None
    savepoint: str | None = None


_CONTEXT: ContextVar[ExecutionContext] = ContextVar(
    "strom_execution_context", default=ExecutionContext())  # noqa: B039 - frozen, so sharing it is safe


def current_context() -> ExecutionContext:
    """The context set by the innermost :func:`execution_context`, or an empty one."""
    return _CONTEXT.get()


@contextlib.contextmanager
def execution_context(context: ExecutionContext) -> Iterator[ExecutionContext]:
    """Set ``context`` for the ``with`` block (a job's ``main``), restoring the previous one after."""
    token = _CONTEXT.set(context)
    try:
        yield context
    finally:
        _CONTEXT.reset(token)


def resolve_executor(context: ExecutionContext) -> PipelineExecutor:
    """The context's executor, else the one registered as ``remote`` in ``strom.executors``.

    Raises :class:`LookupError` when none is registered (strom is not installed as a package).
    """
    if context.executor is not None:
        return context.executor
    for entry in entry_points(group=ENTRY_POINT_GROUP, name=DEFAULT_EXECUTOR):
        executor: PipelineExecutor = entry.load()
        return executor
    raise LookupError(f"no executor registered as {DEFAULT_EXECUTOR!r} in entry point group "
                      f"{ENTRY_POINT_GROUP!r}: install strom (pip install -e .) or run the job with `strom run`")
