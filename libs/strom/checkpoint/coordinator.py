"""The CheckpointCoordinator's bookkeeping, without I/O of its own.

Sources start periodic checkpoints themselves and tasks complete them in
Redis (strom.checkpoint.store, strom.checkpoint.scheduler), so checkpoints
and exactly-once output go on while no JobManager leads. The coordinator of
the leading JobManager follows them through the tasks' acks: it adopts the
newest checkpoint as pending, times it out or aborts it on a decline
(counting failures against the tolerance), and on the ack that completed it
applies retention, finishes savepoints and notifies the tasks. It triggers
only what needs a decision of the JobManager: savepoints and the final
checkpoint of a bounded job.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strom.checkpoint.config import CheckpointConfig
from strom.checkpoint.store import CheckpointStore
from strom.fault_points import inject
from strom.logs import get_logger

log = get_logger(__name__)

HISTORY_SIZE = 10  # checkpoints in GET /jobs/:id/checkpoints' history (Flink's web.checkpoints.history)


@dataclass
class PendingCheckpoint:
    id: int
    trigger_ms: int
    savepoint_request: str | None = None

    def request(self) -> str:
        """The savepoint request id of a savepoint (raises ValueError for a checkpoint)."""
        if self.savepoint_request is None:
            raise ValueError(f"checkpoint {self.id} is not a savepoint")
        return self.savepoint_request


class CheckpointCoordinator:
    """Follows the checkpoints of one job. All times are wall-clock ms supplied by the caller.

    ``trigger(n, ts, is_savepoint)`` tells sources to start checkpoint n;
    ``notify(n)`` tells tasks it completed; ``fail_job(reason)`` is called when
    more consecutive checkpoints failed than the config tolerates;
    ``generation()`` is the job's current attempt (the restart count).
    """

    def __init__(self, config: CheckpointConfig, store: CheckpointStore,
                 trigger: Callable[[int, int, bool], None], notify: Callable[[int], None],
                 fail_job: Callable[[str], None], generation: Callable[[], int]) -> None:
        self.config, self.store = config, store
        self._trigger, self._notify, self._fail_job, self._generation = trigger, notify, fail_job, generation
        self.pending: PendingCheckpoint | None = None   # the newest checkpoint, followed
        self.savepoint: PendingCheckpoint | None = None  # a savepoint, followed until it ends
        self._stop_requests: set[str] = set()  # savepoint requests that stop the job
        self.newest_seen = -1  # newest checkpoint id acked or triggered: older acks are late
        self.consecutive_failures = 0
        self.latest: dict[str, Any] | None = None
        self.executions: set[str] = set()
        # request id -> {"status": IN_PROGRESS|COMPLETED|FAILED, "checkpoint-id", "reason"}
        self.savepoints: dict[str, dict[str, Any]] = {}
        self._queued_savepoints: list[str] = []
        self.counts = {"completed": 0, "failed": 0}
        self.completed_history: deque[dict[str, Any]] = deque(maxlen=HISTORY_SIZE)  # metadata, oldest first

    def tick(self, now_ms: int, executions: set[str]) -> None:
        """Periodic: time out the pending checkpoint, or trigger a queued savepoint.

        ``executions``: execution ids of the running subtasks, or an empty set
        when the job cannot checkpoint now (not all subtasks RUNNING).
        """
        self.executions = executions or self.executions
        if self.savepoint is not None and now_ms - self.savepoint.trigger_ms > self.config.timeout_ms:
            savepoint, self.savepoint = self.savepoint, None
            if self.store.metadata(savepoint.id) is not None:  # completed; its completing ack was lost
                self.savepoint = savepoint
                self._complete(savepoint.id, now_ms)
            else:
                self.savepoints[savepoint.request()].update(
                    status="FAILED", reason=f"savepoint {savepoint.id} expired after {self.config.timeout_ms} ms")
        if self.pending is not None:
            if now_ms - self.pending.trigger_ms > self.config.timeout_ms:
                # Acks in Redis, not only those this leader saw (it may have taken over mid-checkpoint).
                missing = sorted(self.executions - self.store.acked(self.pending.id))
                self.abort(f"checkpoint {self.pending.id} expired after {self.config.timeout_ms} ms "
                           f"waiting for {missing}")
            return
        if self._queued_savepoints and executions and self.savepoint is None:
            self.trigger(now_ms, savepoint_request=self._queued_savepoints.pop(0))

    def request_savepoint(self, stop: bool = False) -> str:
        """Queue a savepoint, taken as soon as no checkpoint is pending; returns its request id.
        ``stop``: the job is canceled after it, so no checkpoint may start after it."""
        request_id = uuid.uuid4().hex[:12]
        self.savepoints[request_id] = {"status": "IN_PROGRESS"}
        self._queued_savepoints.append(request_id)
        if stop:
            self._stop_requests.add(request_id)
        return request_id

    def trigger(self, now_ms: int, savepoint_request: str | None = None) -> int:
        """Start a new checkpoint (a savepoint, or the final one), superseding a pending one;
        returns its id. Raises StaleLeaderError when this JobManager no longer leads."""
        checkpoint_id = self.store.claim(self._generation(), self.newest_seen, now_ms, self.config.timeout_ms,
                                         join=False, savepoint=savepoint_request is not None,
                                         stop=savepoint_request in self._stop_requests)
        assert checkpoint_id is not None  # join=False always starts a checkpoint
        self._supersede(checkpoint_id)
        self.pending = PendingCheckpoint(checkpoint_id, now_ms, savepoint_request)
        self.newest_seen = checkpoint_id
        if savepoint_request is not None:
            self.savepoint = self.pending
            self.savepoints[savepoint_request]["checkpoint-id"] = checkpoint_id
        self._trigger(checkpoint_id, now_ms, savepoint_request is not None)
        return checkpoint_id

    def acknowledge(self, checkpoint_id: int, completed: bool, now_ms: int) -> None:
        """A task acked ``checkpoint_id`` (its snapshot and ack are in Redis); ``completed``: its
        ack was the last and completed the checkpoint there."""
        if checkpoint_id > self.newest_seen:  # a checkpoint the sources started: follow it
            self._supersede(checkpoint_id)
            self.pending = PendingCheckpoint(checkpoint_id, now_ms)
            self.newest_seen = checkpoint_id
        if completed:
            self._complete(checkpoint_id, now_ms)

    def decline(self, execution_id: str, checkpoint_id: int, reason: str) -> None:
        if self.pending is not None and self.pending.id == checkpoint_id:
            self.abort(f"checkpoint {checkpoint_id} declined by {execution_id}: {reason}")

    def abort(self, reason: str, count_failure: bool = True) -> None:
        """Stop following the pending checkpoint (its partial snapshots are deleted once a newer
        one completes, see CheckpointStore.discard_abandoned). A savepoint failure is not counted
        against the tolerance (it fails the savepoint, not the job)."""
        pending, self.pending = self.pending, None
        if pending is None:
            return
        log.warning("checkpoint aborted", checkpoint_id=pending.id, reason=reason)
        self.store.record_failure(pending.id, reason)
        if pending.savepoint_request is not None:
            self.savepoints[pending.savepoint_request].update(status="FAILED", reason=reason)
            if self.savepoint is pending:
                self.savepoint = None
            return
        if not count_failure:
            return
        self.counts["failed"] += 1
        self.consecutive_failures += 1
        if self.consecutive_failures > self.config.tolerable_failures:
            self._fail_job(f"exceeded tolerable checkpoint failures ({self.config.tolerable_failures}): {reason}")

    def _supersede(self, checkpoint_id: int) -> None:
        """A newer checkpoint started: follow that one. The older one may still have completed
        (its last ack can arrive after the newer one's first); a savepoint stays followed in
        ``self.savepoint`` until it completes or times out."""
        if self.pending is not None and self.pending.id < checkpoint_id:
            self.pending = None

    def _complete(self, checkpoint_id: int, now_ms: int) -> None:
        if self.pending is not None and self.pending.id == checkpoint_id:
            self.pending = None
        savepoint = self.savepoint if self.savepoint is not None and self.savepoint.id == checkpoint_id else None
        if savepoint is not None:
            self.savepoint = None
        inject("after-complete")
        metadata = self.store.metadata(checkpoint_id) or {"id": checkpoint_id}
        if self.latest is None or checkpoint_id > self.latest["id"]:
            self.latest = metadata
        self.completed_history.append(metadata)
        self.consecutive_failures = 0
        self.counts["completed"] += 1
        if savepoint is not None:
            self.savepoints[savepoint.request()]["status"] = "COMPLETED"
        self.store.retain(self.config.num_retained)
        self.store.discard_abandoned(below=checkpoint_id)
        log.info("checkpoint completed", checkpoint_id=checkpoint_id, duration_ms=metadata.get("duration"),
                 size=metadata.get("state-size"), lag_ms=now_ms - metadata.get("completion-time", now_ms))
        self._notify(checkpoint_id)

    def stats(self) -> dict[str, Any]:
        """``GET /jobs/:id/checkpoints`` body (Flink's shape, a subset). ``history``: the last
        ``HISTORY_SIZE`` completed and failed checkpoints and the one in progress, newest first, as
        Flink's ``{"id", "status", "is_savepoint", "trigger_timestamp", "latest_ack_timestamp",
        "state_size", "end_to_end_duration", "num_subtasks", "num_acknowledged_subtasks",
        "failure_message"}`` (times in ms)."""
        failures = self.store.failures()
        history = [_completed_entry(m) for m in self.completed_history]
        history += [{"id": f["id"], "status": "FAILED", "failure_message": f["reason"],
                     "failure_timestamp": f.get("time")} for f in failures[:HISTORY_SIZE]]
        if self.pending is not None:
            history.append({"id": self.pending.id, "status": "IN_PROGRESS", "is_savepoint": False,
                            "trigger_timestamp": self.pending.trigger_ms})
        history.sort(key=lambda entry: entry["id"], reverse=True)
        total = self.counts["completed"] + self.counts["failed"] + int(self.pending is not None)
        return {"counts": {**self.counts, "in_progress": int(self.pending is not None), "total": total},
                "latest": {"completed": self.latest, "failed": next(iter(failures), None)},
                "failures": failures, "history": history}


def _completed_entry(metadata: dict[str, Any]) -> dict[str, Any]:
    """A completed checkpoint's store metadata as a Flink history entry."""
    acks = metadata.get("acks", {})
    trigger = metadata.get("trigger-time", 0)
    return {"id": metadata["id"], "status": "COMPLETED", "is_savepoint": bool(metadata.get("is-savepoint")),
            "trigger_timestamp": trigger, "latest_ack_timestamp": metadata.get("completion-time"),
            "state_size": metadata.get("state-size", 0), "end_to_end_duration": metadata.get("duration"),
            "num_subtasks": len(acks), "num_acknowledged_subtasks": len(acks)}
