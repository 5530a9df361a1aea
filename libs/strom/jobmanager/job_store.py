"""Submitted jobs: artifact, record and last REST body (Flink's JobGraphStore + JobResultStore).

Two things are stored per job, apart on purpose: the :class:`JobRecord` is
what a new JobManager leader needs to take the job over (its own format,
versioned with the code), and the details are the last ``GET /jobs/:id``
body, served for jobs no JobMaster runs (finished ones, or before recovery).
Renaming a REST field therefore never breaks recovery.

Keys in Redis, per cluster (built in :mod:`strom.naming`)::

    strom:<cluster>:jobs                 ZSET job id -> submit time (ms)
    strom:<cluster>:job-overview         HASH job id -> JSON {"name", "status", "end-time"} (GET /jobs)
    strom:<cluster>:job:<id>:artifact    the job artifact (bytes)
    strom:<cluster>:job:<id>:record      JSON of the JobRecord
    strom:<cluster>:job:<id>             HASH of the REST details' fields (JSON values)
    strom:<cluster>:savepoint:<sid>      JSON: job id, checkpoint id, vertices by state key
    strom:<cluster>:savepoints           ZSET: savepoint ids by completion time (ms)

:class:`JobStore` is the interface; :class:`RedisJobStore` and
:class:`InMemoryJobStore` (unit tests) implement it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import redis

from strom.clock import wall_ms
from strom.io.redis import LeaderFence, atomic_write, members, text
from strom.io.sealed import seal, unseal
from strom.naming import (
    artifact_key,
    job_overview_key,
    job_prefix,
    job_record_key,
    jobs_key,
    savepoint_key,
    savepoints_key,
)
from strom.states import JobStatus


@dataclass
class JobRecord:
    """What a new leader needs to take over a job.

    ``attempt``: restarts so far (the generation its tasks run); ``restored_checkpoint``: the
    checkpoint the current attempt restored, None for none; ``start_time``: ms since the epoch;
    ``source_partitions``: per source vertex id, ``[topic, partition, start, end|None]`` as fixed
    at the job's start (bounded sources must keep their end offsets); ``failures``: the newest
    failure reasons, oldest first; ``vertices``: ``[vertex id, parallelism]`` of each vertex (the
    keys of its checkpoints, deleted when the job expires).
    """

    status: JobStatus
    start_time: int
    attempt: int = 0
    restored_checkpoint: int | None = None
    source_partitions: dict[str, list[list[Any]]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    vertices: list[list[Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (the status as its string)."""
        return {**asdict(self), "status": str(self.status)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRecord:
        """The record :meth:`to_dict` wrote; raises ValueError for an unknown status."""
        return cls(**{**data, "status": JobStatus(data["status"])})


def _overview_entry(record: JobRecord, details: dict[str, Any]) -> dict[str, Any]:
    """A job's entry in the overview index: name, status (the record's), end time (ms, -1)."""
    return {"name": details.get("name"), "status": str(record.status), "end-time": details.get("end-time", -1)}


class JobStore(Protocol):
    """Where the JobManager keeps submitted jobs; only the leader writes."""

    def add(self, job_id: str, artifact: bytes, record: JobRecord, details: dict[str, Any]) -> None:
        """Store a submitted job: artifact, record and first REST details, at once."""
        ...

    def artifact(self, job_id: str) -> bytes | None:
        """The job's artifact, None for an unknown job."""
        ...

    def update(self, job_id: str, record: JobRecord, details: dict[str, Any]) -> None:
        """Replace the job's record and REST details, at once."""
        ...

    def record(self, job_id: str) -> JobRecord | None:
        """The job's record, None for an unknown job."""
        ...

    def details(self, job_id: str) -> dict[str, Any] | None:
        """The job's last stored REST details, None for an unknown job."""
        ...

    def job_ids(self) -> list[str]:
        """Every job of the cluster, oldest submission first."""
        ...

    def overview(self) -> list[dict[str, Any]]:
        """Every job, oldest submission first: {"id", "name", "status", "end-time" (ms, -1)}; read
        from an index kept with each update, never one read per job."""
        ...

    def remove(self, job_id: str) -> None:
        """Forget a job: artifact, record, details and its entries in the indexes."""
        ...

    def add_savepoint(self, savepoint_id: str, pointer: dict[str, Any]) -> None:
        """Store a savepoint's pointer (it outlives its job)."""
        ...

    def savepoint(self, savepoint_id: str) -> dict[str, Any] | None:
        """A savepoint's pointer, None for an unknown id."""
        ...

    def savepoint_ids(self) -> list[str]:
        """Every savepoint of the cluster, oldest first."""
        ...

    def remove_savepoint(self, savepoint_id: str) -> None:
        """Forget a savepoint's pointer (its checkpoint data is the checkpoint store's to delete)."""
        ...


class RedisJobStore:
    """The job store in Redis. Writes go through ``fence`` (a :class:`~strom.io.redis.LeaderFence`)
    when given: only the leading JobManager changes the job store, a deposed one's write raises
    :class:`~strom.errors.StaleLeaderError`. Artifacts are stored sealed with ``secret`` (the
    cluster secret, :mod:`strom.io.sealed`): storing or reading one needs it, and one that fails
    its seal raises :class:`~strom.errors.TamperedDataError` instead of being returned."""

    def __init__(self, client: redis.Redis, cluster_id: str, fence: LeaderFence | None = None,
                 secret: bytes | None = None) -> None:
        self.redis = client
        self.cluster_id = cluster_id
        self.fence = fence
        self.secret = secret

    def _write(self, fill: Callable[[Any], None]) -> None:
        atomic_write(self.redis, fill, self.fence)

    def _fill_job(self, pipe: Any, job_id: str, record: JobRecord, details: dict[str, Any]) -> None:
        pipe.set(job_record_key(self.cluster_id, job_id), json.dumps(record.to_dict()))
        pipe.hset(job_prefix(self.cluster_id, job_id), mapping={k: json.dumps(v) for k, v in details.items()})
        pipe.hset(job_overview_key(self.cluster_id), job_id, json.dumps(_overview_entry(record, details)))

    def add(self, job_id: str, artifact: bytes, record: JobRecord, details: dict[str, Any]) -> None:
        now = wall_ms()

        sealed = seal(self._secret(), artifact)

        def fill(pipe: Any) -> None:
            pipe.set(artifact_key(self.cluster_id, job_id), sealed)
            self._fill_job(pipe, job_id, record, {**details, "submit-time": now})
            pipe.zadd(jobs_key(self.cluster_id), {job_id: now})
        self._write(fill)

    def artifact(self, job_id: str) -> bytes | None:
        key = artifact_key(self.cluster_id, job_id)
        raw = self.redis.get(key)
        if raw is None:
            return None
        data = raw.encode() if isinstance(raw, str) else raw
        return unseal(self._secret(), data, f"the artifact of job {job_id} ({key})")

    def _secret(self) -> bytes:
        if self.secret is None:
            raise ValueError("artifacts are sealed: this RedisJobStore needs the cluster secret")
        return self.secret

    def update(self, job_id: str, record: JobRecord, details: dict[str, Any]) -> None:
        self._write(lambda pipe: self._fill_job(pipe, job_id, record, details))

    def record(self, job_id: str) -> JobRecord | None:
        raw = self.redis.get(job_record_key(self.cluster_id, job_id))
        return JobRecord.from_dict(json.loads(raw)) if raw else None

    def details(self, job_id: str) -> dict[str, Any] | None:
        raw = self.redis.hgetall(job_prefix(self.cluster_id, job_id))
        if not raw:
            return None
        return {text(k): json.loads(v) for k, v in raw.items()}

    def job_ids(self) -> list[str]:
        return members(self.redis.zrange(jobs_key(self.cluster_id), 0, -1))

    def overview(self) -> list[dict[str, Any]]:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(jobs_key(self.cluster_id), 0, -1)
            pipe.hgetall(job_overview_key(self.cluster_id))
            ids, entries = pipe.execute()
        index = {text(k): json.loads(v) for k, v in entries.items()}
        return [{"id": job_id, **index[job_id]} for job_id in members(ids) if job_id in index]

    def remove(self, job_id: str) -> None:
        def fill(pipe: Any) -> None:
            pipe.delete(artifact_key(self.cluster_id, job_id), job_record_key(self.cluster_id, job_id),
                        job_prefix(self.cluster_id, job_id))
            pipe.hdel(job_overview_key(self.cluster_id), job_id)
            pipe.zrem(jobs_key(self.cluster_id), job_id)
        self._write(fill)

    def add_savepoint(self, savepoint_id: str, pointer: dict[str, Any]) -> None:
        def fill(pipe: Any) -> None:
            pipe.set(savepoint_key(self.cluster_id, savepoint_id), json.dumps(pointer))
            pipe.zadd(savepoints_key(self.cluster_id), {savepoint_id: wall_ms()})
        self._write(fill)

    def savepoint(self, savepoint_id: str) -> dict[str, Any] | None:
        raw = self.redis.get(savepoint_key(self.cluster_id, savepoint_id))
        return json.loads(raw) if raw else None

    def savepoint_ids(self) -> list[str]:
        return members(self.redis.zrange(savepoints_key(self.cluster_id), 0, -1))

    def remove_savepoint(self, savepoint_id: str) -> None:
        def fill(pipe: Any) -> None:
            pipe.delete(savepoint_key(self.cluster_id, savepoint_id))
            pipe.zrem(savepoints_key(self.cluster_id), savepoint_id)
        self._write(fill)


class InMemoryJobStore:
    """The job store in dicts (unit tests). Values go through JSON, as in Redis, so a test sees
    exactly what a new leader would read back."""

    def __init__(self) -> None:
        self.artifacts: dict[str, bytes] = {}
        self.records: dict[str, str] = {}
        self.stored_details: dict[str, dict[str, Any]] = {}
        self.savepoints: dict[str, str] = {}

    def add(self, job_id: str, artifact: bytes, record: JobRecord, details: dict[str, Any]) -> None:
        self.artifacts[job_id] = artifact
        self.update(job_id, record, {**details, "submit-time": wall_ms()})

    def artifact(self, job_id: str) -> bytes | None:
        return self.artifacts.get(job_id)

    def update(self, job_id: str, record: JobRecord, details: dict[str, Any]) -> None:
        self.records[job_id] = json.dumps(record.to_dict())
        merged = {**self.stored_details.get(job_id, {}), **details}  # HSET keeps fields not written
        self.stored_details[job_id] = json.loads(json.dumps(merged))

    def record(self, job_id: str) -> JobRecord | None:
        raw = self.records.get(job_id)
        return JobRecord.from_dict(json.loads(raw)) if raw else None

    def details(self, job_id: str) -> dict[str, Any] | None:
        return self.stored_details.get(job_id)

    def job_ids(self) -> list[str]:
        return list(self.artifacts)

    def overview(self) -> list[dict[str, Any]]:
        return [{"id": job_id, **_overview_entry(self.record(job_id), self.stored_details[job_id])}  # type: ignore[arg-type]
                for job_id in self.artifacts]

    def remove(self, job_id: str) -> None:
        for table in (self.artifacts, self.records, self.stored_details):
            table.pop(job_id, None)

    def add_savepoint(self, savepoint_id: str, pointer: dict[str, Any]) -> None:
        self.savepoints[savepoint_id] = json.dumps(pointer)

    def savepoint(self, savepoint_id: str) -> dict[str, Any] | None:
        raw = self.savepoints.get(savepoint_id)
        return json.loads(raw) if raw else None

    def savepoint_ids(self) -> list[str]:
        return list(self.savepoints)

    def remove_savepoint(self, savepoint_id: str) -> None:
        self.savepoints.pop(savepoint_id, None)
