"""The JobMaster's side of checkpoints: following them, the final checkpoint, savepoints.

Sources start periodic checkpoints and tasks complete them in Redis (see
:mod:`strom.checkpoint.coordinator`); the JobMaster's coordinator follows them,
triggers the final checkpoint of a bounded job once every subtask reached the
end of its data, and takes savepoints: queued with the coordinator, given a
location (their savepoint id) once completed and registered in the job store
so ``strom run --from-savepoint`` finds them after the job is gone; a
stop-with-savepoint cancels the job once its savepoint completed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strom.checkpoint.coordinator import CheckpointCoordinator
from strom.checkpoint.store import CheckpointStore
from strom.errors import JobStateError
from strom.graph.job_graph import JobGraph
from strom.io.kafka import KafkaPartition
from strom.jobmanager.job_attempt import JobAttempt
from strom.naming import savepoint_id
from strom.states import ExecutionState, JobStatus


class JobCheckpoints:
    """Checkpoints and savepoints of one job.

    ``attempt()`` is the job's current attempt (its tasks are triggered and notified);
    ``fail_job(reason)`` handles too many failed checkpoints, ``cancel_job()`` ends a
    stop-with-savepoint, ``persist()`` stores the job after a completion; ``register(savepoint_id,
    pointer)`` keeps a completed savepoint (pointer: job id, checkpoint id, per state key the
    vertex id and parallelism); ``trim(offsets)`` gets the intermediate input offsets of each
    completed checkpoint (partition -> next offset), below which nothing is read again.
    """

    def __init__(self, job_graph: JobGraph, store: CheckpointStore, attempt: Callable[[], JobAttempt],
                 fail_job: Callable[[str], None], cancel_job: Callable[[], None], persist: Callable[[], None],
                 register: Callable[[str, dict[str, Any]], None] | None,
                 trim: Callable[[dict[KafkaPartition, int]], None] = lambda _offsets: None) -> None:
        self.job_graph = job_graph
        self.store = store
        self.attempt = attempt
        self.cancel_job = cancel_job
        self.persist = persist
        self.register = register
        self.trim = trim
        self.readers = [(v.id, v.parallelism) for v in job_graph.vertices if not v.is_source]
        self.coordinator = CheckpointCoordinator(job_graph.checkpoint_config, store, self._trigger_sources,
                                                 self._notify_complete, fail_job, lambda: attempt().generation)
        self.final_checkpoints: set[int] = set()  # triggered after every subtask reached END_OF_DATA
        self.cancel_after: str | None = None  # the request of a stop-with-savepoint

    def tick(self, now_ms: int) -> None:
        """Periodic while every slot is granted: trigger the final checkpoint once every subtask
        runs and reached the end of its data, else time out or trigger what is due."""
        subtasks = self.attempt().graph.subtasks()
        ready = all(s.state == ExecutionState.RUNNING for s in subtasks)
        pending = self.coordinator.pending
        if (ready and all(s.end_of_data for s in subtasks) and self.coordinator.savepoint is None
                and (pending is None or pending.id not in self.final_checkpoints)):
            self.coordinator.trigger(now_ms)  # the final checkpoint, now
        else:
            self.coordinator.tick(now_ms, {s.execution_id for s in subtasks} if ready else set())

    def abort(self, reason: str) -> None:
        """Stop following the pending checkpoint (the job fails, restarts or is canceled)."""
        self.coordinator.abort(reason, count_failure=False)

    def request_savepoint(self, status: JobStatus, cancel_job: bool) -> str:
        """Queue a savepoint (taken when no checkpoint is pending); returns its request id.

        ``cancel_job``: cancel the job once it completed. Raises
        :class:`~strom.errors.JobStateError` when ``status`` (the job's) is not RUNNING.
        """
        if status != JobStatus.RUNNING:
            raise JobStateError(f"job {self.job_graph.job_id} is {status}; a savepoint needs a running job")
        request_id = self.coordinator.request_savepoint(stop=cancel_job)
        if cancel_job:
            self.cancel_after = request_id
        return request_id

    def acknowledge(self, body: Mapping[str, Any], now_ms: int) -> None:
        """A task acked a checkpoint (``AcknowledgeCheckpoint``; its ack is in the checkpoint store)."""
        self.coordinator.acknowledge(body["checkpoint_id"], body.get("completed", False), now_ms)

    def decline(self, body: Mapping[str, Any]) -> None:
        """A task declined a checkpoint (``DeclineCheckpoint``)."""
        if self.attempt().graph.find(body["execution_id"]) is None:
            return  # a task of a replaced attempt (refused in Redis): not this attempt's failure
        self.coordinator.decline(body["execution_id"], body["checkpoint_id"], body["reason"])

    def _trigger_sources(self, checkpoint_id: int, timestamp_ms: int, is_savepoint: bool) -> None:
        attempt = self.attempt()
        if all(s.end_of_data for s in attempt.graph.subtasks()):
            self.final_checkpoints.add(checkpoint_id)
        attempt.trigger_checkpoint(checkpoint_id, timestamp_ms, is_savepoint)

    def _notify_complete(self, checkpoint_id: int) -> None:
        self.attempt().notify_checkpoint_complete(checkpoint_id, final=checkpoint_id in self.final_checkpoints)
        cancel = False
        for request_id, status in self.coordinator.savepoints.items():
            if status.get("checkpoint-id") != checkpoint_id or status["status"] != "COMPLETED":
                continue
            location = savepoint_id(self.job_graph.job_id, checkpoint_id)
            status["location"] = location
            if self.register is not None:
                self.register(location, self._pointer(checkpoint_id))
            cancel = cancel or self.cancel_after == request_id
        if cancel:
            self.cancel_job()
        self.persist()
        if self.readers:
            self.trim(self.store.input_offsets(checkpoint_id, self.readers))

    def _pointer(self, checkpoint_id: int) -> dict[str, Any]:
        return {"job_id": self.job_graph.job_id, "checkpoint_id": checkpoint_id,
                "vertices": {self.job_graph.state_key(v): {"vertex_id": v.id, "parallelism": v.parallelism}
                             for v in self.job_graph.vertices}}
