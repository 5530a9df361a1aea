"""Submitted jobs in Redis: artifact, status and results (Flink's JobGraphStore + JobResultStore).

Keys, per cluster::

    strom:<cluster>:jobs                 ZSET job id -> submit time (ms)
    strom:<cluster>:job:<id>:artifact    the job artifact (bytes)
    strom:<cluster>:job:<id>             HASH of status fields (JSON values)
    strom:<cluster>:savepoint:<sid>      JSON: job id, checkpoint id, vertices by state key
"""

from __future__ import annotations

import json
from typing import Any

import redis

from strom.clock import wall_ms
from strom.io.redis import LeaderFence, atomic_write
from strom.naming import cluster_prefix, job_prefix


class JobStore:
    """Writes go through ``fence`` (a :class:`~strom.io.redis.LeaderFence`) when given:
    only the leading JobManager changes the job store."""

    def __init__(self, client: redis.Redis, cluster_id: str, fence: LeaderFence | None = None) -> None:
        self.redis = client
        self.cluster_id = cluster_id
        self.prefix = cluster_prefix(cluster_id)
        self.fence = fence

    def _write(self, fill) -> None:
        atomic_write(self.redis, fill, self.fence)

    def _key(self, job_id: str) -> str:
        return job_prefix(self.cluster_id, job_id)

    def add(self, job_id: str, artifact: bytes, status: dict[str, Any]) -> None:
        """Store a submitted job atomically (MULTI/EXEC)."""
        now = wall_ms()

        def fill(pipe) -> None:
            pipe.set(f"{self._key(job_id)}:artifact", artifact)
            pipe.hset(self._key(job_id), mapping={k: json.dumps(v) for k, v in
                                                  {**status, "submit-time": now}.items()})
            pipe.zadd(f"{self.prefix}:jobs", {job_id: now})
        self._write(fill)

    def artifact(self, job_id: str) -> bytes | None:
        return self.redis.get(f"{self._key(job_id)}:artifact")

    def update(self, job_id: str, **fields: Any) -> None:
        mapping = {k.replace("_", "-"): json.dumps(v) for k, v in fields.items()}
        self._write(lambda pipe: pipe.hset(self._key(job_id), mapping=mapping))

    def get(self, job_id: str) -> dict[str, Any] | None:
        raw = self.redis.hgetall(self._key(job_id))
        if not raw:
            return None
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def job_ids(self) -> list[str]:
        return [j.decode() for j in self.redis.zrange(f"{self.prefix}:jobs", 0, -1)]

    def add_savepoint(self, savepoint_id: str, pointer: dict[str, Any]) -> None:
        self._write(lambda pipe: pipe.set(f"{self.prefix}:savepoint:{savepoint_id}", json.dumps(pointer)))

    def savepoint(self, savepoint_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(f"{self.prefix}:savepoint:{savepoint_id}")
        return json.loads(raw) if raw else None
