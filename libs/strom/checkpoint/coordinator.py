"""The CheckpointCoordinator's protocol, without I/O of its own.

Trigger -> sources write barriers -> every subtask snapshots and acks ->
complete (metadata committed atomically in Redis) -> notify tasks. At most
one checkpoint is pending; a decline, a timeout or a failover aborts it.
Triggering and notifying go through callbacks the JobMaster provides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from strom.checkpoint.config import CheckpointConfig
from strom.checkpoint.store import CheckpointStore
from strom.logs import get_logger
from strom.runtime.faults import inject

log = get_logger(__name__)


@dataclass
class PendingCheckpoint:
    id: int
    trigger_ms: int
    waiting_for: set[str]
    savepoint_request: str | None = None
    acks: dict[str, dict[str, int]] = field(default_factory=dict)


class CheckpointCoordinator:
    """Drives checkpoints of one job. All times are wall-clock ms supplied by the caller.

    ``trigger(n, ts, is_savepoint)`` tells sources to start checkpoint n;
    ``notify(n)`` tells tasks it completed; ``fail_job(reason)`` is called when
    more consecutive checkpoints failed than the config tolerates.
    """

    def __init__(self, config: CheckpointConfig, store: CheckpointStore,
                 trigger: Callable[[int, int, bool], None], notify: Callable[[int], None],
                 fail_job: Callable[[str], None]) -> None:
        self.config, self.store = config, store
        self._trigger, self._notify, self._fail_job = trigger, notify, fail_job
        self.pending: PendingCheckpoint | None = None
        self.last_trigger_ms = 0
        self.last_completion_ms = 0
        self.consecutive_failures = 0
        self.latest: dict[str, Any] | None = None
        # request id -> {"status": IN_PROGRESS|COMPLETED|FAILED, "checkpoint-id", "reason"}
        self.savepoints: dict[str, dict[str, Any]] = {}
        self._queued_savepoints: list[str] = []
        self.counts = {"completed": 0, "failed": 0}

    def tick(self, now_ms: int, executions: set[str]) -> None:
        """Periodic: time out the pending checkpoint, or trigger the next one when due.

        ``executions``: execution ids of the running subtasks that must ack, or an
        empty set when the job cannot checkpoint now (not all subtasks RUNNING).
        """
        if self.pending is not None:
            if now_ms - self.pending.trigger_ms > self.config.timeout_ms:
                self.abort(f"checkpoint {self.pending.id} expired after {self.config.timeout_ms} ms "
                           f"waiting for {sorted(self.pending.waiting_for)}")
            return
        if self._queued_savepoints and executions:
            self.trigger(now_ms, executions, savepoint_request=self._queued_savepoints.pop(0))
        elif (self.config.enabled and executions
                and now_ms - self.last_trigger_ms >= self.config.interval_ms
                and now_ms - self.last_completion_ms >= self.config.min_pause_ms):
            self.trigger(now_ms, executions)

    def request_savepoint(self) -> str:
        """Queue a savepoint, taken as soon as no checkpoint is pending; returns its request id."""
        request_id = uuid.uuid4().hex[:12]
        self.savepoints[request_id] = {"status": "IN_PROGRESS"}
        self._queued_savepoints.append(request_id)
        return request_id

    def trigger(self, now_ms: int, executions: set[str], savepoint_request: str | None = None) -> int:
        """Start a checkpoint; returns its id. Raises RuntimeError if one is pending."""
        if self.pending is not None:
            raise RuntimeError(f"checkpoint {self.pending.id} is still pending")
        checkpoint_id = self.store.next_id()
        self.pending = PendingCheckpoint(checkpoint_id, now_ms, set(executions), savepoint_request)
        self.last_trigger_ms = now_ms
        if savepoint_request is not None:
            self.savepoints[savepoint_request]["checkpoint-id"] = checkpoint_id
        self._trigger(checkpoint_id, now_ms, savepoint_request is not None)
        return checkpoint_id

    def acknowledge(self, execution_id: str, checkpoint_id: int, size_bytes: int, now_ms: int) -> None:
        pending = self.pending
        if pending is None or pending.id != checkpoint_id or execution_id not in pending.waiting_for:
            return  # late ack of an aborted checkpoint, or of a previous attempt
        pending.waiting_for.discard(execution_id)
        pending.acks[execution_id] = {"size": size_bytes, "ack_ms": now_ms - pending.trigger_ms}
        if not pending.waiting_for:
            self._complete(now_ms)

    def decline(self, execution_id: str, checkpoint_id: int, reason: str) -> None:
        if self.pending is not None and self.pending.id == checkpoint_id:
            self.abort(f"checkpoint {checkpoint_id} declined by {execution_id}: {reason}")

    def abort(self, reason: str, count_failure: bool = True) -> None:
        """Abort the pending checkpoint (its partial snapshots are deleted)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        log.warning("checkpoint aborted", checkpoint_id=pending.id, reason=reason)
        self.store.discard_pending(pending.id)
        self.store.record_failure(pending.id, reason)
        if pending.savepoint_request is not None:
            self.savepoints[pending.savepoint_request].update(status="FAILED", reason=reason)
        if not count_failure:
            return
        self.counts["failed"] += 1
        self.consecutive_failures += 1
        if self.consecutive_failures > self.config.tolerable_failures:
            self._fail_job(f"exceeded tolerable checkpoint failures ({self.config.tolerable_failures}): {reason}")

    def _complete(self, now_ms: int) -> None:
        pending, self.pending = self.pending, None
        metadata = {
            "id": pending.id, "trigger-time": pending.trigger_ms, "completion-time": now_ms,
            "duration": now_ms - pending.trigger_ms,
            "state-size": sum(a["size"] for a in pending.acks.values()),
            "is-savepoint": pending.savepoint_request is not None, "acks": pending.acks,
        }
        self.store.complete(pending.id, metadata)
        inject("after-complete")
        self.latest = metadata
        self.last_completion_ms = now_ms
        self.consecutive_failures = 0
        self.counts["completed"] += 1
        if pending.savepoint_request is not None:
            self.savepoints[pending.savepoint_request]["status"] = "COMPLETED"
        keep = {s["checkpoint-id"] for s in self.savepoints.values() if s["status"] == "COMPLETED"}
        self.store.retain(self.config.num_retained, keep)
        log.info("checkpoint completed", checkpoint_id=pending.id, duration_ms=metadata["duration"],
                 size=metadata["state-size"])
        self._notify(pending.id)

    def stats(self) -> dict[str, Any]:
        """``GET /jobs/:id/checkpoints`` body (Flink's shape, a subset)."""
        return {"counts": {**self.counts, "in_progress": int(self.pending is not None)},
                "latest": {"completed": self.latest, "failed": (self.store.failures() or [None])[0]},
                "history": self.store.failures()}
