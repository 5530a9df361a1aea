"""The JobMaster of one job: wires its slot pool, resources, failover, checkpoints and savepoints.

Runs on the JobManager's main thread; every method is called from there.
Job states (:class:`~strom.states.JobStatus`) move along the transition table
in :mod:`strom.states`: CREATED -> RUNNING -> FINISHED | FAILING -> FAILED |
CANCELING -> CANCELED, and RUNNING -> RESTARTING -> RUNNING when a failure is
recovered: every subtask is canceled, the generation (restart count) goes up,
and the job is deployed again restoring the latest completed checkpoint (full
restart, as Flink's "full" failover strategy, see :mod:`strom.jobmanager.failover`).
Slots: :mod:`strom.jobmanager.slot_pool`; after a JobManager failover:
:mod:`strom.jobmanager.reconciler`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strom.checkpoint.store import CheckpointStore
from strom.clock import SYSTEM_CLOCK, Clock
from strom.control.channel import ControlChannel
from strom.errors import TaskFailureCause
from strom.graph.job_graph import JobGraph
from strom.jobmanager.checkpointing import JobCheckpoints
from strom.jobmanager.deployment import TaskDeploymentDescriptorFactory
from strom.jobmanager.failover import Failover
from strom.jobmanager.job_attempt import JobAttempt
from strom.jobmanager.job_details import job_details
from strom.jobmanager.job_resources import JobResources
from strom.jobmanager.job_store import JobRecord, JobStore
from strom.jobmanager.reconciler import Reconciler, TaskReport
from strom.jobmanager.slot_pool import SlotPool
from strom.logs import get_logger
from strom.states import ExecutionState, JobStatus

log = get_logger(__name__)


class JobMaster:
    """Drives one job; ``on_terminal(job_master)`` is called once it is globally terminal. ``store``
    keeps its record and REST details, ``checkpoints`` its checkpoints; ``savepoint``: the restore
    source of the first run, see :class:`JobAttempt`; the rest: see the parts they configure."""

    def __init__(self, job_graph: JobGraph, channel: ControlChannel, cluster_id: str, bootstrap: str,
                 slot_request_timeout_ms: float, store: JobStore, on_terminal: Callable[[JobMaster], None],
                 checkpoints: CheckpointStore, savepoint: dict[str, Any] | None = None,
                 register_savepoint: Callable[[str, dict[str, Any]], None] | None = None,
                 clock: Clock = SYSTEM_CLOCK, resources: JobResources | None = None) -> None:
        self.job_graph = job_graph
        self.job_id = job_graph.job_id
        self.store, self.on_terminal = store, on_terminal
        self.clock = clock
        self._state = JobStatus.CREATED
        self.error: str | None = None
        self.start_time = clock.wall_ms()  # ms since the epoch
        self.end_time: int | None = None  # ms since the epoch, once globally terminal
        self.slot_pool = SlotPool(self.job_id, channel, slot_request_timeout_ms, clock)
        self.resources = resources or JobResources(job_graph, cluster_id, bootstrap)
        self.failover = Failover(job_graph.restart_strategy)
        deployments = TaskDeploymentDescriptorFactory(job_graph, cluster_id, bootstrap, self.resources.marker_topic)
        self.attempt = JobAttempt(deployments, channel, savepoint=savepoint)
        self.checkpoints = checkpoints
        self.reconciler: Reconciler | None = None  # set by recover(), for a new leader's re-attach
        self.checkpointing = JobCheckpoints(job_graph, checkpoints, lambda: self.attempt, self.handle_failure,
                                            self.cancel, self._persist, register_savepoint,
                                            self.resources.trim_intermediate)

    @property
    def state(self) -> JobStatus:
        """The job's status; changed only along :data:`strom.states.JOB_TRANSITIONS`."""
        return self._state

    # -- lifecycle and messages from the cluster -------------------------------------------
    def start(self) -> None:
        """Create the job's topics, fix the bounded sources' end offsets, request slots."""
        try:
            self.resources.create_topics()
            self.attempt.fix_source_partitions()
            self.checkpoints.set_generation(self.attempt.generation, self.attempt.savepoint_checkpoint)
        except Exception as exc:
            self.fail(f"job setup failed: {exc}")
            return
        self._transition(JobStatus.RUNNING)
        self._persist()
        self.slot_pool.request(self.attempt.generation, self.job_graph.slots_needed)

    def tick(self) -> None:
        """Periodic: restarts, checkpoints, slot request retries and the slot request timeout."""
        if self.state == JobStatus.RESTARTING:
            if self.failover.restart_due(self.clock.monotonic_ms(), self.attempt.stopped()):
                self._restart()
            return
        if self.state != JobStatus.RUNNING:
            return
        if not self.slot_pool.all_granted:
            if (problem := self.slot_pool.check_requests()) is not None:
                self.handle_failure(problem)
            return
        self.checkpointing.tick(self.clock.wall_ms())

    def on_slot_offer(self, body: Mapping[str, Any]) -> None:
        """A TaskManager offers a slot (``SlotOffer``): deploy once every slot is granted."""
        if self.slot_pool.offer(body, accept=self.state == JobStatus.RUNNING):
            self.attempt.deploy(self.slot_pool.grants)
            self._persist()

    def on_slot_request_failed(self, body: Mapping[str, Any]) -> None:
        """The ResourceManager refused a slot request (``SlotRequestFailed``): retried on a tick."""
        if self.state == JobStatus.RUNNING:
            self.slot_pool.refused(body)

    def on_task_state(self, body: Mapping[str, Any]) -> None:
        """A task reports its state (``TaskExecutionState``): fail over, finish or go on."""
        subtask = self.attempt.graph.find(body["execution_id"])
        if subtask is None or subtask.state.is_terminal or self.end_time is not None:
            return
        state = ExecutionState(body["state"])
        if state == ExecutionState.END_OF_DATA:
            subtask.end_of_data = True
            self._persist()
            self.tick()  # after the last one, the final checkpoint starts now, not at the next tick
            return
        subtask.state, subtask.error = state, body["error"]
        if state == ExecutionState.FAILED and self.state == JobStatus.RUNNING:
            cause = TaskFailureCause(body.get("cause") or TaskFailureCause.EXCEPTION.value)  # None: an older TM
            self.failover.on_task_failed(cause, self.attempt.restored_from)
            self.handle_failure(f"task {subtask.execution_id} failed on {body['tm_id']}: {body['error']}")
        elif self.state == JobStatus.RUNNING and self.attempt.finished():
            self._end(JobStatus.FINISHED)
        elif state == ExecutionState.FINISHED:
            # Only after the final checkpoint (or without checkpointing): no checkpoint can follow.
            self.checkpointing.abort(f"{subtask.execution_id} finished")
            self._persist()
        elif not self._end_when_stopped():
            self._persist()
            if state == ExecutionState.RUNNING and self.state == JobStatus.RUNNING:
                self.tick()  # the last subtask came up (after a restart): checkpoint when due, now

    def on_task_manager_lost(self, tm_id: str, reason: str) -> None:
        """The ResourceManager lost TaskManager ``tm_id``: its subtasks failed."""
        if self.attempt.fail_lost(tm_id, reason) and self.state == JobStatus.RUNNING:
            self.handle_failure(f"TaskManager {tm_id} lost ({reason})")
        else:
            self._end_when_stopped()

    def _end_when_stopped(self) -> bool:
        """End a CANCELING or FAILING job once its subtasks stopped; True if it ended."""
        if self.state in (JobStatus.CANCELING, JobStatus.FAILING) and self.attempt.stopped():
            self._end(JobStatus.CANCELED if self.state == JobStatus.CANCELING else JobStatus.FAILED)
            return True
        return False

    # -- JobManager failover: re-attach ---------------------------------------------------
    def recover(self, record: JobRecord) -> None:
        """Take over a job a previous leader ran (its record from the job store); reports come next."""
        self.attempt = self.attempt.resume(record.attempt, record.source_partitions, record.restored_checkpoint)
        self.start_time = record.start_time
        self.failover.failure_history = list(record.failures)
        self.checkpointing.coordinator.latest = self.checkpoints.latest()
        self.reconciler = Reconciler(self.job_id, record.status)
        self._transition(JobStatus.RECONCILING)
        self._persist()

    def reported_all(self, reports: list[TaskReport]) -> bool:
        """True once ``reports`` name every subtask of the current attempt (see :class:`Reconciler`)."""
        return self.reconciler is not None and self.reconciler.reported_all(self.attempt.graph, reports)

    def reconcile(self, reports: list[TaskReport]) -> None:
        """Re-attach to the running subtasks the TaskManagers reported, or restart from a checkpoint."""
        assert self.reconciler is not None, "reconcile() of a JobMaster that did not recover()"
        attempt = self.attempt
        outcome = self.reconciler.reconcile(attempt.graph, attempt.locations, reports)
        self.slot_pool.adopt(attempt.generation, self.job_graph.slots_needed, outcome.slots)
        if outcome.reason is None:
            log.info("re-attached to running job", job_id=self.job_id, generation=attempt.generation,
                     subtasks=len(attempt.graph.subtasks()))
            self._transition(JobStatus.RUNNING)
            if outcome.status == JobStatus.FINISHED:
                self._end(JobStatus.FINISHED)
            else:
                self._persist()  # the tasks never stopped checkpointing: nothing to resume
            return
        log.warning("restarting job after JobManager failover", job_id=self.job_id, reason=outcome.reason)
        self.failover.record(outcome.reason)
        self.slot_pool.release_reported(outcome.reports)  # stale attempts: stop them, free their slots
        if outcome.status == JobStatus.RESTARTING:
            self._transition(JobStatus.RESTARTING)
            self.failover.restart_after(self.clock.monotonic_ms(), 0)
            self._persist()
        else:
            self._end(outcome.status)

    # -- failover -------------------------------------------------------------------------
    def handle_failure(self, reason: str) -> None:
        """Restart from the latest checkpoint if the restart strategy allows, else fail the job."""
        if self.state != JobStatus.RUNNING:
            return
        delay_ms = self.failover.on_failure(reason, self.clock.wall_ms())
        if delay_ms is None:
            self.fail(self.failover.final_error(reason))
            return
        log.warning("job restarting", job_id=self.job_id, reason=reason, delay_ms=delay_ms,
                    generation=self.attempt.generation + 1)
        self.checkpointing.abort(f"job restarting: {reason}")
        self.attempt.cancel()
        self.slot_pool.release_all()
        self._transition(JobStatus.RESTARTING)
        self.failover.restart_after(self.clock.monotonic_ms(), delay_ms)
        self._persist()

    def _restart(self) -> None:
        generation = self.attempt.generation + 1
        # From here the failed attempt's tasks can neither start nor complete a checkpoint, so the
        # latest completed one, chosen next, stays the latest until the new attempt runs.
        self.checkpoints.set_generation(generation)
        restored_from = self.failover.checkpoint_to_restore(self.checkpoints, self.job_graph.parallelisms())
        self.attempt = self.attempt.next(restored_from, self.resources.intermediate_ends())
        log.info("job restarted", job_id=self.job_id, generation=generation, checkpoint=restored_from)
        self._transition(JobStatus.RUNNING)
        self._persist()
        self.slot_pool.request(generation, self.job_graph.slots_needed)

    # -- checkpoints and savepoints -------------------------------------------------------
    def on_acknowledge(self, body: Mapping[str, Any]) -> None:
        """A task acked a checkpoint (``AcknowledgeCheckpoint``)."""
        self.checkpointing.acknowledge(body, self.clock.wall_ms())

    def on_decline(self, body: Mapping[str, Any]) -> None:
        """A task declined a checkpoint (``DeclineCheckpoint``)."""
        self.checkpointing.decline(body)

    def trigger_savepoint(self, cancel_job: bool = False) -> str:
        """Queue a savepoint; its request id. Raises :class:`~strom.errors.JobStateError` unless RUNNING."""
        request_id = self.checkpointing.request_savepoint(self.state, cancel_job)
        self._persist()
        return request_id

    # -- job state ------------------------------------------------------------------------
    def cancel(self) -> None:
        """Cancel the job: its subtasks are canceled, then it is CANCELED (no-op once ending)."""
        if not self.state.can_transition_to(JobStatus.CANCELING):
            return
        self.checkpointing.abort("job canceled")
        self._transition(JobStatus.CANCELING)
        self._persist()
        self.attempt.cancel()
        self._end_when_stopped()

    def fail(self, error: str) -> None:
        """Fail the job with ``error`` (shown by ``strom status JOB``); cancels running subtasks."""
        if not self.state.can_transition_to(JobStatus.FAILING):
            return
        log.error("job failed", job_id=self.job_id, error=error)
        self.error = error
        self.checkpointing.abort("job failed")
        self._transition(JobStatus.FAILING)
        self.attempt.cancel()
        if not self._end_when_stopped():
            self._persist()

    def _end(self, state: JobStatus) -> None:
        self._transition(state)
        self.end_time = self.clock.wall_ms()
        self.slot_pool.release_all()
        self.checkpoints.discard_abandoned()
        self.resources.delete_intermediate_topics()
        log.info("job ended", job_id=self.job_id, state=state, error=self.error)
        self._persist()
        self.on_terminal(self)

    def _transition(self, target: JobStatus) -> None:
        """Move to ``target``; raises :class:`~strom.errors.IllegalTransitionError` if the table forbids it."""
        self._state = self._state.check_transition(target)

    def record(self) -> JobRecord:
        """What a new leader needs to take this job over."""
        attempt = self.attempt
        return JobRecord(status=self.state, start_time=self.start_time, attempt=attempt.generation,
                         restored_checkpoint=attempt.restored_from, source_partitions=attempt.source_partitions,
                         failures=self.failover.recent_failures(),
                         vertices=[list(v) for v in self.job_graph.parallelisms()])

    def _persist(self) -> None:
        self.store.update(self.job_id, self.record(), self.details())

    def details(self) -> dict[str, Any]:
        """Flink's ``GET /jobs/:jobid`` shape (a subset), see :func:`~strom.jobmanager.job_details.job_details`."""
        return job_details(self)
