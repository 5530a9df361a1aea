"""The job artifact: the JobGraph with its user functions, cloudpickled, plus the module source.

``cloudpickle.register_pickle_by_value`` makes functions of the job module
travel by value, so TaskManagers run them without the job file.
"""

from __future__ import annotations

import pickle
from types import ModuleType

import cloudpickle

from strom.errors import InvalidArtifactError
from strom.graph.job_graph import JobGraph


def dump_artifact(job_graph: JobGraph, module: ModuleType | None = None) -> bytes:
    """Serialize ``job_graph``; functions defined in ``module`` are pickled by value."""
    if module is not None:
        cloudpickle.register_pickle_by_value(module)
    try:
        return cloudpickle.dumps(job_graph, protocol=5)
    finally:
        if module is not None:
            cloudpickle.unregister_pickle_by_value(module)


def load_artifact(data: bytes) -> JobGraph:
    """Raises :class:`InvalidArtifactError` with the Python error when it does not load."""
    try:
        job_graph = pickle.loads(data)
    except Exception as exc:
        raise InvalidArtifactError(f"job artifact does not load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(job_graph, JobGraph):
        raise InvalidArtifactError(f"job artifact holds a {type(job_graph).__name__}, not a JobGraph")
    return job_graph
