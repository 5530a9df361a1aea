"""The job artifacts a TaskManager runs, read by job id from where the Dispatcher stored them."""

from __future__ import annotations

from collections.abc import Callable

import redis

from strom.graph.artifact import load_artifact
from strom.graph.job_graph import JobGraph
from strom.io.sealed import unseal
from strom.naming import artifact_key


class JobArtifacts:
    """Artifacts of the jobs this TaskManager runs, each fetched once while the job holds a slot.

    ``fetch(job_id)`` returns the artifact's bytes, or None when there is none.
    """

    def __init__(self, fetch: Callable[[str], bytes | None]) -> None:
        self._fetch = fetch
        self._artifacts: dict[str, bytes] = {}  # job id -> cloudpickled JobGraph

    @classmethod
    def from_redis(cls, client: redis.Redis, cluster_id: str, secret: bytes) -> JobArtifacts:
        """Artifacts as the job store keeps them in Redis, sealed with the cluster secret: one that
        fails its seal raises :class:`~strom.errors.TamperedDataError` and is never unpickled."""
        def fetch(job_id: str) -> bytes | None:
            key = artifact_key(cluster_id, job_id)
            data = client.get(key)
            if isinstance(data, str):  # a client built with decode_responses, not redis_client()
                raise TypeError("the artifacts' Redis client must not decode responses")
            return None if data is None else unseal(secret, data, f"the artifact of job {job_id} ({key})")
        return cls(fetch)

    def job_graph(self, job_id: str) -> JobGraph:
        """A fresh copy of the job's graph: every task gets its own user function objects (as Flink
        deserializes them per task); subtasks sharing one would share the state handles ``open`` sets.

        Raises LookupError when the job has no artifact, InvalidArtifactError when it does not load.
        """
        if job_id not in self._artifacts:
            artifact = self._fetch(job_id)
            if artifact is None:
                raise LookupError(f"no artifact for job {job_id} in Redis")
            self._artifacts[job_id] = artifact
        return load_artifact(self._artifacts[job_id])

    def retain(self, job_ids: set[str]) -> None:
        """Forget the artifacts of every job not in ``job_ids``."""
        for job_id in list(self._artifacts):
            if job_id not in job_ids:
                del self._artifacts[job_id]
