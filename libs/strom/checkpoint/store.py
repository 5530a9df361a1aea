"""Checkpoints in Redis: task snapshots, completed-checkpoint metadata, savepoints.

Keys, under ``strom:<cluster>:job:<job>``::

    :chk:<n>:<vertex>:<subtask>   HASH  snapshot of one subtask: "offsets" (JSON
                                        {"topic:partition": next offset}), "kg:<k>"
                                        (keyed state of key group k), "sink" (pickled
                                        un-committed sink epochs)
    :checkpoint:<n>               JSON  metadata of a *completed* checkpoint
    :checkpoints                  ZSET  completed checkpoint ids
    :latest-checkpoint            n     the newest completed checkpoint
    :checkpoint-counter           INCR  checkpoint ids, monotonic across JobManagers
    :checkpoint-failures          LIST  JSON of the last failed/aborted checkpoints

A checkpoint becomes completed only in :meth:`CheckpointStore.complete`, one
MULTI/EXEC writing metadata, ZSET and pointer together, so a pending
checkpoint is never mistaken for a completed one.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from strom.io.redis import LeaderFence, atomic_write


class CheckpointCorruptedError(RuntimeError):
    """A completed checkpoint's snapshot data is missing or unreadable; names checkpoint and task."""


class CheckpointStore:
    """``fence`` (a :class:`~strom.io.redis.LeaderFence`) guards :meth:`complete`: a deposed
    JobManager cannot change which checkpoint is the latest."""

    def __init__(self, client: redis.Redis, cluster_id: str, job_id: str,
                 fence: LeaderFence | None = None) -> None:
        self.redis = client
        self.fence = fence
        self.prefix = f"strom:{cluster_id}:job:{job_id}"
        self.savepoint_prefix = f"strom:{cluster_id}:savepoint"

    def snapshot_key(self, checkpoint_id: int, vertex_id: str, subtask: int) -> str:
        return f"{self.prefix}:chk:{checkpoint_id}:{vertex_id}:{subtask}"

    def next_id(self) -> int:
        return int(self.redis.incr(f"{self.prefix}:checkpoint-counter"))

    # -- written by tasks ----------------------------------------------------------------
    def write_snapshot(self, checkpoint_id: int, vertex_id: str, subtask: int,
                       fields: dict[str, bytes]) -> int:
        """Store one subtask's snapshot (replacing any partial one); returns its size in bytes."""
        key = self.snapshot_key(checkpoint_id, vertex_id, subtask)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={**fields, "complete": b"1"})
            pipe.execute()
        return sum(len(v) for v in fields.values())

    def read_vertex(self, checkpoint_id: int, vertex_id: str, parallelism: int) -> list[dict[bytes, bytes]]:
        """Snapshots of all subtasks of a vertex in a checkpoint.

        Raises :class:`CheckpointCorruptedError` if one is missing or incomplete.
        """
        snapshots = []
        for subtask in range(parallelism):
            data = self.redis.hgetall(self.snapshot_key(checkpoint_id, vertex_id, subtask))
            if data.get(b"complete") != b"1":
                raise CheckpointCorruptedError(
                    f"checkpoint {checkpoint_id}: snapshot of task {vertex_id}[{subtask}] is missing "
                    f"or incomplete in Redis ({self.snapshot_key(checkpoint_id, vertex_id, subtask)})")
            snapshots.append(data)
        return snapshots

    def verify(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> str | None:
        """None if every subtask snapshot of the checkpoint is there, else what is missing."""
        with self.redis.pipeline(transaction=False) as pipe:
            keys = [(v, i) for v, p in vertices for i in range(p)]
            for vertex_id, subtask in keys:
                pipe.hget(self.snapshot_key(checkpoint_id, vertex_id, subtask), "complete")
            flags = pipe.execute()
        missing = [f"{v}[{i}]" for (v, i), flag in zip(keys, flags) if flag != b"1"]
        if missing:
            return f"checkpoint {checkpoint_id}: snapshot of task {', '.join(missing)} missing in Redis"
        return None

    # -- written by the coordinator -------------------------------------------------------
    def complete(self, checkpoint_id: int, metadata: dict[str, Any]) -> None:
        """Raises :class:`~strom.io.redis.StaleLeaderError` for a deposed leader."""
        def fill(pipe) -> None:
            pipe.set(f"{self.prefix}:checkpoint:{checkpoint_id}", json.dumps(metadata))
            pipe.zadd(f"{self.prefix}:checkpoints", {str(checkpoint_id): checkpoint_id})
            pipe.set(f"{self.prefix}:latest-checkpoint", checkpoint_id)
        atomic_write(self.redis, fill, self.fence)

    def completed_ids(self) -> list[int]:
        return [int(x) for x in self.redis.zrange(f"{self.prefix}:checkpoints", 0, -1)]

    def metadata(self, checkpoint_id: int) -> dict[str, Any] | None:
        raw = self.redis.get(f"{self.prefix}:checkpoint:{checkpoint_id}")
        return json.loads(raw) if raw else None

    def discard(self, checkpoint_id: int) -> None:
        """Delete a checkpoint: its metadata, ZSET entry and every task snapshot."""
        keys = list(self.redis.scan_iter(f"{self.prefix}:chk:{checkpoint_id}:*", count=1000))
        with self.redis.pipeline(transaction=True) as pipe:
            if keys:
                pipe.delete(*keys)
            pipe.delete(f"{self.prefix}:checkpoint:{checkpoint_id}")
            pipe.zrem(f"{self.prefix}:checkpoints", str(checkpoint_id))
            pipe.execute()

    def retain(self, num_retained: int, keep: set[int] = frozenset()) -> list[int]:
        """Delete completed checkpoints beyond the newest ``num_retained`` (except ``keep``)."""
        ids = self.completed_ids()
        dropped = [i for i in ids[:-num_retained] if i not in keep] if len(ids) > num_retained else []
        for checkpoint_id in dropped:
            self.discard(checkpoint_id)
        return dropped

    def record_failure(self, checkpoint_id: int, reason: str) -> None:
        key = f"{self.prefix}:checkpoint-failures"
        entry = json.dumps({"id": checkpoint_id, "reason": reason, "time": int(time.time() * 1000)})
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, entry)
            pipe.ltrim(key, 0, 19)
            pipe.execute()

    def failures(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.redis.lrange(f"{self.prefix}:checkpoint-failures", 0, -1)]

    def discard_pending(self, checkpoint_id: int) -> None:
        """Remove partial task snapshots of a checkpoint that will never complete."""
        keys = list(self.redis.scan_iter(f"{self.prefix}:chk:{checkpoint_id}:*", count=1000))
        if keys:
            self.redis.delete(*keys)
