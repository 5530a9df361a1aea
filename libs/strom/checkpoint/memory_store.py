"""Checkpoints of one job in dicts: :class:`~strom.checkpoint.store.CheckpointStore` for unit tests.

It follows :class:`~strom.checkpoint.store.RedisCheckpointStore`'s protocol
closely enough for tests of the JobMaster and the coordinator: claims join
or start ids per generation and stop after a stop-with-savepoint, the last
of ``tasks`` acks completes a checkpoint, another generation is refused.
There is no leader fence (a test has one JobManager). Redis' own semantics
(scripts, retries, fencing) are tested against Redis in
``tests/integration/test_checkpoint_store.py``.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Any

from strom.checkpoint.snapshot import OFFSETS_FIELD, decode_offsets
from strom.checkpoint.store import CheckpointKind, ClaimMode, beyond_retention, lowest_offsets
from strom.clock import SYSTEM_CLOCK, Clock
from strom.errors import CheckpointCorruptedError, StaleAttemptError
from strom.io.kafka import KafkaPartition

MAX_FAILURES_KEPT = 20  # as the Redis store's LTRIM


class InMemoryCheckpointStore:
    """A :class:`~strom.checkpoint.store.CheckpointStore` over dicts; failures are stamped by ``clock``."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.generation: int | None = None
        self.counter = 0
        self.info: dict[int, dict[str, Any]] = {}        # started checkpoint -> generation, trigger-time, ...
        self.acks: dict[int, dict[str, dict[str, int]]] = {}
        self.completed: dict[int, dict[str, Any]] = {}   # checkpoint id -> metadata
        self.latest_id: int | None = None
        self.snapshots: dict[tuple[int, str, int], dict[bytes, bytes]] = {}
        self._failures: list[dict[str, Any]] = []

    def set_generation(self, generation: int, ids_after: int | None = None) -> None:
        self.generation = generation
        if ids_after is not None and self.counter == 0:
            self.counter = ids_after

    def claim(self, attempt: int, known_id: int, now_ms: int, timeout_ms: int, join: bool = True,
              start: bool = True, savepoint: bool = False, stop: bool = False) -> int | None:
        """As the Redis store's claim script; raises StaleAttemptError for another generation and
        RuntimeError for a new id while a stop-with-savepoint is pending or completed."""
        if attempt != self.generation:
            raise StaleAttemptError(f"checkpoint refused: attempt {attempt} is not the job's current one")
        mode, newest = ClaimMode.of(join, start), self.info.get(self.counter, {})
        young = "trigger-time" in newest and now_ms - newest["trigger-time"] < timeout_ms
        if newest.get("stop") and (young or self.counter in self.completed):
            if mode == ClaimMode.NEW:
                raise RuntimeError("checkpoint refused: the job is being stopped with a savepoint")
            return self.counter if self.counter > known_id else None
        if mode != ClaimMode.NEW and self.counter > known_id and newest.get("generation") == attempt and young:
            return self.counter
        if mode == ClaimMode.JOIN_ONLY:
            return None
        self.counter += 1
        kind = CheckpointKind.of(savepoint, stop)
        self.info[self.counter] = {"generation": attempt, "trigger-time": now_ms,
                                   "savepoint": kind != CheckpointKind.CHECKPOINT,
                                   "stop": kind == CheckpointKind.STOP_WITH_SAVEPOINT}
        return self.counter

    def progress(self) -> tuple[int, int, int]:
        generation = self.generation if self.generation is not None else -1
        latest = self.latest_id if self.latest_id is not None else -1
        return (self.counter if self.counter else -1), latest, generation

    def write_snapshot(self, checkpoint_id: int, vertex_id: str, subtask: int, fields: dict[str, bytes]) -> int:
        self.snapshots[(checkpoint_id, vertex_id, subtask)] = {k.encode(): v for k, v in fields.items()}
        return sum(len(v) for v in fields.values())

    def read_vertex(self, checkpoint_id: int, vertex_id: str, parallelism: int) -> list[dict[bytes, bytes]]:
        missing = self._missing(checkpoint_id, [(vertex_id, parallelism)])
        if missing:
            raise CheckpointCorruptedError(f"checkpoint {checkpoint_id}: snapshot of task {missing[0]} is missing")
        return [self.snapshots[(checkpoint_id, vertex_id, i)] for i in range(parallelism)]

    def input_offsets(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> dict[KafkaPartition, int]:
        fields = [self.snapshots.get((checkpoint_id, vertex_id, i)) for vertex_id, p in vertices for i in range(p)]
        return lowest_offsets(decode_offsets(f.get(OFFSETS_FIELD.encode())) for f in fields if f is not None)

    def verify(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> str | None:
        missing = self._missing(checkpoint_id, vertices)
        if missing:
            return f"checkpoint {checkpoint_id}: snapshot of task {', '.join(missing)} missing"
        return None

    def _missing(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> list[str]:
        return [f"{v}[{i}]" for v, p in vertices for i in range(p) if (checkpoint_id, v, i) not in self.snapshots]

    def acknowledge(self, attempt: int, checkpoint_id: int, execution_id: str, size_bytes: int,
                    tasks: int, now_ms: int) -> bool:
        """As the Redis store's ack script; raises StaleAttemptError for another generation."""
        info = self.info.get(checkpoint_id, {})
        if attempt != self.generation or info.get("generation") != attempt:
            raise StaleAttemptError(f"ack of checkpoint {checkpoint_id} by {execution_id} refused: attempt "
                                    f"{attempt} is not the job's current one")
        acks = self.acks.setdefault(checkpoint_id, {})
        acks.setdefault(execution_id, {"size": size_bytes, "time": now_ms})  # a repeated ack changes nothing
        if checkpoint_id in self.completed:
            return info.get("completed-by") == execution_id
        if len(acks) < tasks:
            return False
        info["completed-by"] = execution_id
        trigger = info["trigger-time"]
        self.completed[checkpoint_id] = {
            "id": checkpoint_id, "trigger-time": trigger, "completion-time": now_ms, "duration": now_ms - trigger,
            "state-size": sum(a["size"] for a in acks.values()), "generation": attempt,
            "is-savepoint": info["savepoint"],
            "acks": {e: {"size": a["size"], "ack_ms": a["time"] - trigger} for e, a in acks.items()}}
        if self.latest_id is None or checkpoint_id > self.latest_id:
            self.latest_id = checkpoint_id
        return True

    def acked(self, checkpoint_id: int) -> set[str]:
        return set(self.acks.get(checkpoint_id, {}))

    def latest(self) -> dict[str, Any] | None:
        return self.metadata(self.latest_id) if self.latest_id is not None else None

    def completed_ids(self) -> list[int]:
        return sorted(self.completed)

    def metadata(self, checkpoint_id: int) -> dict[str, Any] | None:
        return self.completed.get(checkpoint_id)

    def discard(self, checkpoint_id: int) -> None:
        """Delete a checkpoint: metadata, acks, info and every task snapshot."""
        for key in [k for k in self.snapshots if k[0] == checkpoint_id]:
            del self.snapshots[key]
        for table in (self.completed, self.acks, self.info):
            table.pop(checkpoint_id, None)

    def retain(self, num_retained: int) -> list[int]:
        dropped = beyond_retention([(i, self.completed[i]["is-savepoint"]) for i in self.completed_ids()],
                                   num_retained)
        for checkpoint_id in dropped:
            self.discard(checkpoint_id)
        return dropped

    def delete_all(self, keep: AbstractSet[int] = frozenset()) -> int:
        deleted = [key for key in self.snapshots if key[0] not in keep]
        for key in deleted:
            del self.snapshots[key]
        for table in (self.acks, self.info):
            table.clear()
        for checkpoint_id in [i for i in self.completed if i not in keep]:
            del self.completed[checkpoint_id]
        self.latest_id, self._failures, self.generation, self.counter = None, [], None, 0
        return len(deleted)

    def record_failure(self, checkpoint_id: int, reason: str) -> None:
        self._failures.insert(0, {"id": checkpoint_id, "reason": reason, "time": self.clock.wall_ms()})
        del self._failures[MAX_FAILURES_KEPT:]

    def failures(self) -> list[dict[str, Any]]:
        return list(self._failures)

    def discard_abandoned(self, below: int | None = None) -> list[int]:
        abandoned = [i for i in sorted(self.info)
                     if (below is None or i < below) and i not in self.completed]
        for checkpoint_id in abandoned:
            self.discard(checkpoint_id)
        return abandoned
