"""The JobMaster of one job: slots, deployment, subtask states, job state.

Runs on the JobManager's main thread; every method is called from there.
Job states are Flink's: CREATED -> RUNNING -> FINISHED | FAILING -> FAILED | CANCELING -> CANCELED,
and RUNNING -> RESTARTING -> RUNNING when a failure is recovered: every subtask
is canceled, the generation (restart count) goes up, and the job is deployed
again restoring the latest completed checkpoint (full restart, as Flink's
"full" failover strategy).
Scheduling asks the ResourceManager for ``slots_needed`` slots (slot sharing:
subtask i of every vertex goes to slot i), retries refused requests until
``slot.request.timeout`` and then fails with "not enough slots: need N, have M".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka.admin import AdminClient

from strom.checkpoint.coordinator import CheckpointCoordinator
from strom.checkpoint.restart import RestartStrategy
from strom.checkpoint.store import CheckpointStore
from strom.control.channel import ControlChannel
from strom.control.gateways import ResourceManagerGateway, TaskExecutorGateway
from strom.graph.execution_graph import (
    CANCELED,
    CANCELING,
    CREATED,
    DEPLOYING,
    END_OF_DATA,
    FAILED,
    FINISHED,
    RUNNING,
    TERMINAL_STATES,
    ExecutionGraph,
)

FAILING = "FAILING"  # job state while its subtasks are being canceled after a failure
RESTARTING = "RESTARTING"  # waiting out the restart strategy's delay after a failure
RECONCILING = "RECONCILING"  # a new leader collecting TaskManagers' reports to re-attach
from strom.errors import JobStateError, TaskFailureCause
from strom.graph.job_graph import JobGraph
from strom.graph.stream_graph import SINK
from strom.io.kafka import KafkaPartition, TopicSpec, ensure_topics, latest_offsets
from strom.jobmanager.deployment import TaskDeploymentDescriptorFactory
from strom.logs import get_logger
from strom.naming import sink_marker_topic

log = get_logger(__name__)

CANCEL_WAIT_S = 5.0  # s: the longest a restart waits for the failed attempt's tasks to report canceled


@dataclass
class SlotGrant:
    allocation_id: str
    tm_id: str | None = None
    slot_index: int | None = None
    refused: str | None = None  # last reason the ResourceManager gave


class JobMaster:
    """Drives one job. ``on_terminal(job_master)`` is called once the job is globally terminal."""

    def __init__(self, job_graph: JobGraph, channel: ControlChannel, cluster_id: str, bootstrap: str,
                 slot_request_timeout_s: float, persist: Callable[..., None],
                 on_terminal: Callable[[JobMaster], None], checkpoints: CheckpointStore,
                 savepoint: dict[str, Any] | None = None,
                 register_savepoint: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.job_graph = job_graph
        self.job_id = job_graph.job_id
        self.task_executors = TaskExecutorGateway(channel)
        self.resource_manager = ResourceManagerGateway(channel)
        self.cluster_id = cluster_id
        self.bootstrap = bootstrap
        self.slot_request_timeout_s = slot_request_timeout_s
        self.persist = persist
        self.on_terminal = on_terminal
        self.graph = ExecutionGraph.from_job_graph(job_graph)
        self.state = CREATED
        self.error: str | None = None
        self.start_time = int(time.time() * 1000)
        self.end_time: int | None = None
        self.slots: list[SlotGrant] = []
        self._slot_deadline = 0.0
        self._retry_at: float | None = None
        self._restart_at: float | None = None
        self._deployments = TaskDeploymentDescriptorFactory(job_graph, cluster_id, bootstrap, self.marker_topic)
        self._skip_before: dict[KafkaPartition, int] = {}  # first offset the attempt may need
        # One connection for the job's topic admin (a new AdminClient waits up to seconds for its
        # first metadata; kept on self: a destroyed client drops requests in flight).
        self._admin = AdminClient({"bootstrap.servers": bootstrap})
        self.tm_of: dict[str, str] = {}  # execution id -> tm id
        self.generation = 0
        self.checkpoints = checkpoints
        self.savepoint = savepoint  # restore source of the first run, from `strom run --from-savepoint`
        self.register_savepoint = register_savepoint
        self.bad_checkpoints: set[int] = set()
        self.restored_from: int | None = None
        self.restart_strategy = RestartStrategy(job_graph.restart_strategy)
        self.failure_history: list[str] = []
        self.cancel_after_savepoint: str | None = None
        self.final_checkpoints: set[int] = set()
        self._recovered_state: str | None = None  # triggered after every subtask reached END_OF_DATA
        self.coordinator = CheckpointCoordinator(job_graph.checkpoint_config, checkpoints,
                                                 self._trigger_sources, self._notify_complete,
                                                 lambda reason: self.handle_failure(reason),
                                                 lambda: self.generation)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Create the job's topics, fix the bounded sources' end offsets, request slots."""
        try:
            self._create_topics()
            self._deployments.assign_source_splits()
            self.checkpoints.set_generation(self.generation)
        except Exception as exc:
            self.fail(f"job setup failed: {exc}")
            return
        self._transition(RUNNING)
        self._schedule()

    def _schedule(self) -> None:
        self.slots = [SlotGrant(f"{self.job_id[:12]}-g{self.generation}-slot{i}")
                      for i in range(self.job_graph.slots_needed)]
        self._slot_deadline = time.monotonic() + self.slot_request_timeout_s
        for grant in self.slots:
            self._request(grant)

    def _topic_specs(self) -> list[TopicSpec]:
        specs = [TopicSpec(e.topic(self.cluster_id, self.job_id), e.partitions) for e in self.job_graph.edges]
        specs.append(TopicSpec(self.job_graph.dead_letter_topic, 1))
        specs.append(TopicSpec(self.marker_topic, 1))
        for vertex in self.job_graph.vertices:
            tail = vertex.operators[-1]
            if tail.kind == SINK:
                specs.append(TopicSpec(tail.connector.record_serializer.topic, tail.parallelism))
        return specs

    @property
    def marker_topic(self) -> str:
        """Partition whose committed group offsets mark the epochs exactly-once sinks committed."""
        return sink_marker_topic(self.cluster_id)

    def _create_topics(self) -> None:
        ensure_topics(self.bootstrap, self._topic_specs())

    # -- slots ----------------------------------------------------------------------------
    def _request(self, grant: SlotGrant) -> None:
        self.resource_manager.request_slot(self.job_id, grant.allocation_id)

    def on_slot_offer(self, body: dict[str, Any]) -> None:
        grant = next((g for g in self.slots if g.allocation_id == body["allocation_id"]), None)
        if grant is None or self.state != RUNNING or grant.tm_id is not None:
            self.task_executors.free_slot(body["tm_id"], body["allocation_id"], self.job_id)
            return
        grant.tm_id, grant.slot_index, grant.refused = body["tm_id"], body["slot_index"], None
        if all(g.tm_id is not None for g in self.slots):
            self._deploy()

    def on_slot_request_failed(self, body: dict[str, Any]) -> None:
        grant = next((g for g in self.slots if g.allocation_id == body["allocation_id"]), None)
        if grant is not None and self.state == RUNNING:
            grant.refused = body["reason"]
            self._retry_at = time.monotonic() + 0.5

    def tick(self) -> None:
        """Periodic: restarts, checkpoints, slot request retries and the slot request timeout."""
        if self.state == RESTARTING:
            # As Flink, redeploy once the failed attempt's tasks are gone (or after CANCEL_WAIT_S):
            # a task of it still starting would fence the new attempt's sink transactions.
            now = time.monotonic()
            if now >= self._restart_at and (self._all_terminal() or now >= self._restart_at + CANCEL_WAIT_S):
                self._restart()
            return
        if self.state != RUNNING:
            return
        if all(g.tm_id is not None for g in self.slots):
            subtasks = self.graph.subtasks()
            ready = all(s.state == RUNNING for s in subtasks)
            now_ms = int(time.time() * 1000)
            executions = {s.execution_id for s in subtasks} if ready else set()
            pending = self.coordinator.pending
            if (ready and all(s.end_of_data for s in subtasks) and self.coordinator.savepoint is None
                    and (pending is None or pending.id not in self.final_checkpoints)):
                self.coordinator.trigger(now_ms)  # the final checkpoint, now
            else:
                self.coordinator.tick(now_ms, executions)
            return
        if time.monotonic() > self._slot_deadline:
            have = sum(g.tm_id is not None for g in self.slots)
            reason = next((g.refused for g in self.slots if g.refused), "no answer from the ResourceManager")
            self.handle_failure(f"not enough slots: need {len(self.slots)}, have {have} "
                                f"after {self.slot_request_timeout_s:.0f} s ({reason})")
        elif self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._retry_at = None
            for grant in self.slots:
                if grant.refused:
                    self._request(grant)

    # -- deployment -----------------------------------------------------------------------
    def _deploy(self) -> None:
        for execution_vertex in self.graph.job_vertices:
            for subtask in execution_vertex.subtasks:
                grant = self.slots[subtask.slot_index]
                subtask.state = DEPLOYING
                self.tm_of[subtask.execution_id] = grant.tm_id
                vertex = execution_vertex.job_vertex
                descriptor = self._deployments.create(
                    vertex, subtask.subtask_index, subtask.attempt,
                    self._deployments.restore_spec(vertex, self.restored_from, self.savepoint), self._skip_before)
                self.task_executors.deploy_task(grant.tm_id, self.job_id, grant.allocation_id,
                                                subtask.execution_id, descriptor.to_json())
        log.info("job deployed", job_id=self.job_id, subtasks=len(self.tm_of))
        self._persist()

    # -- subtask states -------------------------------------------------------------------
    def on_task_state(self, body: dict[str, Any]) -> None:
        subtask = self.graph.find(body["execution_id"])
        if subtask is None or subtask.state in TERMINAL_STATES or self.end_time is not None:
            return
        if body["state"] == END_OF_DATA:
            subtask.end_of_data = True
            self._persist()
            return
        subtask.state = body["state"]
        subtask.error = body["error"]
        if subtask.state == FAILED and self.state == RUNNING:
            if body.get("cause") == TaskFailureCause.CHECKPOINT_CORRUPTED.value and self.restored_from:
                self.bad_checkpoints.add(self.restored_from)
            self.handle_failure(f"task {subtask.execution_id} failed on {body['tm_id']}: {body['error']}")
        elif self.state == RUNNING and all(s.state == FINISHED for s in self.graph.subtasks()):
            self._end(FINISHED)
        elif subtask.state == FINISHED:
            # Only after the final checkpoint (or without checkpointing): no checkpoint can follow.
            self.coordinator.abort(f"{subtask.execution_id} finished", count_failure=False)
            self._persist()
        elif self.state in (CANCELING, FAILING) and self._all_terminal():
            self._end(CANCELED if self.state == CANCELING else FAILED)
        else:
            self._persist()
            if subtask.state == RUNNING and self.state == RUNNING:
                self.tick()  # the last subtask came up (after a restart): checkpoint when due, now

    def on_task_manager_lost(self, tm_id: str, reason: str) -> None:
        lost = [s for s in self.graph.subtasks()
                if self.tm_of.get(s.execution_id) == tm_id and s.state not in TERMINAL_STATES]
        for subtask in lost:
            subtask.state, subtask.error = FAILED, f"TaskManager {tm_id} lost: {reason}"
        if lost and self.state == RUNNING:
            self.handle_failure(f"TaskManager {tm_id} lost ({reason})")
        elif self.state in (CANCELING, FAILING) and self._all_terminal():
            self._end(CANCELED if self.state == CANCELING else FAILED)

    def _all_terminal(self) -> bool:
        return all(s.state in TERMINAL_STATES or s.execution_id not in self.tm_of
                   for s in self.graph.subtasks())

    # -- JobManager failover: re-attach ---------------------------------------------------
    def recover(self, status: dict[str, Any]) -> None:
        """Take over a job a previous leader ran (its status from Redis); reports come next."""
        self.generation = status.get("restarts", 0)
        self.restored_from = status.get("restored-checkpoint")
        self.start_time = status.get("start-time", self.start_time)
        self._deployments.load_splits(status.get("source-partitions", {}))
        self.failure_history = status.get("failures", [])
        self.graph = ExecutionGraph.from_job_graph(self.job_graph)
        for subtask in self.graph.subtasks():
            subtask.attempt = self.generation
        self.coordinator.latest = self.checkpoints.latest()
        self._recovered_state = status.get("state")
        self.state = RECONCILING
        self._persist()

    def reported_all(self, reports: list[dict[str, Any]]) -> bool:
        """True once ``reports`` name every subtask of the current attempt: waiting longer
        cannot change what :meth:`reconcile` decides, so the new leader re-attaches now."""
        reported = {r["execution_id"] for r in reports if r["job_id"] == self.job_id}
        return all(s.execution_id in reported for s in self.graph.subtasks())

    def reconcile(self, reports: list[dict[str, Any]]) -> None:
        """Re-attach to the running subtasks the TaskManagers reported, or restart from a checkpoint."""
        mine = [r for r in reports if r["job_id"] == self.job_id]
        current = {s.execution_id: s for s in self.graph.subtasks()}
        for report in mine:
            subtask = current.get(report["execution_id"])
            if subtask is not None:
                subtask.state, subtask.end_of_data = report["state"], report["end_of_data"]
                self.tm_of[subtask.execution_id] = report["tm_id"]
        missing = sorted(e for e, s in current.items() if e not in self.tm_of)
        broken = sorted(e for e, s in current.items() if s.state not in (RUNNING, FINISHED))
        self.slots = [SlotGrant(f"{self.job_id[:12]}-g{self.generation}-slot{i}")
                      for i in range(self.job_graph.slots_needed)]
        for report in mine:
            subtask = current.get(report["execution_id"])
            if subtask is not None and 0 <= subtask.slot_index < len(self.slots):
                grant = self.slots[subtask.slot_index]
                grant.allocation_id, grant.tm_id = report["allocation_id"], report["tm_id"]
                grant.slot_index = report["slot_index"]
        if not missing and not broken and self._recovered_state == RUNNING:
            log.info("re-attached to running job", job_id=self.job_id, generation=self.generation,
                     subtasks=len(current))
            self.state = RUNNING
            if all(s.state == FINISHED for s in current.values()):
                self._end(FINISHED)
            else:
                self._persist()  # the tasks never stopped checkpointing: nothing to resume
            return
        reason = (f"cannot re-attach: job was {self._recovered_state}; missing {missing}; "
                  f"not running {broken}")
        log.warning("restarting job after JobManager failover", job_id=self.job_id, reason=reason)
        self.failure_history.append(reason)
        for report in mine:  # stale attempts: stop them, free their slots
            self.task_executors.free_slot(report["tm_id"], report["allocation_id"], self.job_id)
        self.slots, self.tm_of = [], {}
        if self._recovered_state == CANCELING:
            self._end(CANCELED)
        elif self._recovered_state == FAILING:
            self._end(FAILED)
        else:
            self.state = RESTARTING
            self._restart_at = time.monotonic()
            self._persist()

    # -- failover -------------------------------------------------------------------------
    def handle_failure(self, reason: str) -> None:
        """Restart from the latest checkpoint if the restart strategy allows, else fail the job."""
        if self.state != RUNNING:
            return
        self.failure_history.append(reason)
        delay_ms = self.restart_strategy.on_failure(int(time.time() * 1000))
        if delay_ms is None:
            detail = self.restart_strategy.reason_exhausted
            self.fail(f"{reason} ({detail})" if self.job_graph.restart_strategy.kind != "none" else reason)
            return
        log.warning("job restarting", job_id=self.job_id, reason=reason, delay_ms=delay_ms,
                    generation=self.generation + 1)
        self.coordinator.abort(f"job restarting: {reason}", count_failure=False)
        self._cancel_tasks()
        self._free_slots()
        self.state = RESTARTING
        self._restart_at = time.monotonic() + delay_ms / 1000.0
        self._persist()

    def _restart(self) -> None:
        self.generation += 1
        # From here the failed attempt's tasks can neither start nor complete a checkpoint, so the
        # latest completed one, chosen next, stays the latest until the new attempt runs.
        self.checkpoints.set_generation(self.generation)
        self.restored_from = None
        vertices = [(v.id, v.parallelism) for v in self.job_graph.vertices]
        for checkpoint_id in reversed(self.checkpoints.completed_ids()):
            problem = (f"checkpoint {checkpoint_id} failed to restore before"
                       if checkpoint_id in self.bad_checkpoints
                       else self.checkpoints.verify(checkpoint_id, vertices))
            if problem is None:
                self.restored_from = checkpoint_id
                break
            log.error("cannot restore checkpoint; falling back to the previous one", problem=problem)
            self.failure_history.append(problem)
            self.bad_checkpoints.add(checkpoint_id)
        self._skip_before = self._intermediate_ends()
        self.graph = ExecutionGraph.from_job_graph(self.job_graph)
        for subtask in self.graph.subtasks():
            subtask.attempt = self.generation
        self.tm_of = {}
        log.info("job restarted", job_id=self.job_id, generation=self.generation,
                 checkpoint=self.restored_from)
        self.state = RUNNING
        self._persist()
        self._schedule()

    def _intermediate_ends(self) -> dict[str, int]:
        """Ends of the intermediate topics now, before the new attempt is deployed: everything
        before them was written by older attempts, which generation fencing drops anyway, so the
        new attempt's tasks start reading there instead of skipping it record by record (after a
        TaskManager loss that was the bulk of the first checkpoint's time)."""
        partitions = [(e.topic(self.cluster_id, self.job_id), p) for e in self.job_graph.edges
                      for p in range(e.partitions)]
        try:
            return latest_offsets(self._admin, partitions, timeout_s=2.0)
        except Exception as exc:  # only an optimisation: without it tasks skip the records one by one
            log.warning("cannot read intermediate topic ends; restored tasks skip old records one by one",
                        job_id=self.job_id, error=str(exc))
            return {}

    def _trigger_sources(self, checkpoint_id: int, timestamp_ms: int, is_savepoint: bool) -> None:
        if all(s.end_of_data for s in self.graph.subtasks()):
            self.final_checkpoints.add(checkpoint_id)
        for execution_vertex in self.graph.job_vertices:
            if not execution_vertex.job_vertex.is_source:
                continue
            for subtask in execution_vertex.subtasks:
                tm_id = self.tm_of[subtask.execution_id]
                self.task_executors.trigger_checkpoint(tm_id, self.job_id, subtask.execution_id, checkpoint_id,
                                                       timestamp_ms, is_savepoint)

    def _notify_complete(self, checkpoint_id: int) -> None:
        for tm_id in sorted(set(self.tm_of.values())):
            self.task_executors.notify_checkpoint_complete(tm_id, self.job_id, checkpoint_id,
                                                           checkpoint_id in self.final_checkpoints)
        for request_id, status in self.coordinator.savepoints.items():
            if status.get("checkpoint-id") != checkpoint_id or status["status"] != "COMPLETED":
                continue
            savepoint_id = f"savepoint-{self.job_id[:8]}-{checkpoint_id}"
            status["location"] = savepoint_id
            if self.register_savepoint is not None:
                self.register_savepoint(savepoint_id, {
                    "job_id": self.job_id, "checkpoint_id": checkpoint_id,
                    "vertices": {self.job_graph.state_key(v): {"vertex_id": v.id, "parallelism": v.parallelism}
                                 for v in self.job_graph.vertices}})
            if self.cancel_after_savepoint == request_id:
                self.cancel()
        self._persist()

    def on_acknowledge(self, body: dict[str, Any]) -> None:
        self.coordinator.acknowledge(body["checkpoint_id"], body.get("completed", False), int(time.time() * 1000))

    def on_decline(self, body: dict[str, Any]) -> None:
        if self.graph.find(body["execution_id"]) is None:
            return  # a task of a replaced attempt (refused in Redis): not this attempt's failure
        self.coordinator.decline(body["execution_id"], body["checkpoint_id"], body["reason"])

    def trigger_savepoint(self, cancel_job: bool = False) -> str:
        """Queue a savepoint (taken when no checkpoint is pending); returns its request id.

        Raises :class:`~strom.errors.JobStateError` when the job is not RUNNING.
        """
        if self.state != RUNNING:
            raise JobStateError(f"job {self.job_id} is {self.state}; a savepoint needs a running job")
        request_id = self.coordinator.request_savepoint(stop=cancel_job)
        if cancel_job:
            self.cancel_after_savepoint = request_id
        self._persist()
        return request_id

    # -- job state ------------------------------------------------------------------------
    def cancel(self) -> None:
        if self.state in TERMINAL_STATES or self.state in (CANCELING, FAILING):
            return
        self.coordinator.abort("job canceled", count_failure=False)
        self._transition(CANCELING)
        self._cancel_tasks()
        if self._all_terminal():
            self._end(CANCELED)

    def fail(self, error: str) -> None:
        """Fail the job with ``error`` (shown by ``strom status JOB``); cancels running subtasks."""
        if self.state in TERMINAL_STATES or self.state == FAILING:
            return
        log.error("job failed", job_id=self.job_id, error=error)
        self.error = error
        self.coordinator.abort("job failed", count_failure=False)
        self.state = FAILING
        self._cancel_tasks()
        if self._all_terminal():
            self._end(FAILED)
        else:
            self._persist()

    def _cancel_tasks(self) -> None:
        for subtask in self.graph.subtasks():
            tm_id = self.tm_of.get(subtask.execution_id)
            if tm_id is not None and subtask.state not in TERMINAL_STATES:
                self.task_executors.cancel_task(tm_id, self.job_id, subtask.execution_id)

    def _free_slots(self) -> None:
        for grant in self.slots:
            if grant.tm_id is not None:
                self.task_executors.free_slot(grant.tm_id, grant.allocation_id, self.job_id)
        self.slots = []

    def _end(self, state: str) -> None:
        self.state = state
        self.end_time = int(time.time() * 1000)
        self._free_slots()
        self.checkpoints.discard_abandoned()
        topics = [e.topic(self.cluster_id, self.job_id) for e in self.job_graph.edges]
        if topics:
            self._admin.delete_topics(topics)
        log.info("job ended", job_id=self.job_id, state=state, error=self.error)
        self._persist()
        self.on_terminal(self)

    def _transition(self, state: str) -> None:
        self.state = state
        self._persist()

    def _persist(self) -> None:
        self.persist(self.job_id, **self.details())

    def details(self) -> dict[str, Any]:
        """Flink's ``GET /jobs/:jobid`` shape (a subset)."""
        now = int(time.time() * 1000)
        vertices = []
        for execution_vertex in self.graph.job_vertices:
            counts: dict[str, int] = {}
            for subtask in execution_vertex.subtasks:
                counts[subtask.state] = counts.get(subtask.state, 0) + 1
            vertex = execution_vertex.job_vertex
            vertices.append({
                "id": vertex.id, "name": vertex.name, "parallelism": vertex.parallelism,
                "tasks": counts,
                "subtasks": [{"subtask": s.subtask_index, "attempt": s.attempt, "status": s.state,
                              "end-of-data": s.end_of_data,
                              "taskmanager-id": self.tm_of.get(s.execution_id), "error": s.error}
                             for s in execution_vertex.subtasks]})
        return {"jid": self.job_id, "name": self.job_graph.job_name, "state": self.state,
                "start-time": self.start_time, "end-time": self.end_time or -1,
                "duration": (self.end_time or now) - self.start_time, "error": self.error,
                "dead-letter-topic": self.job_graph.dead_letter_topic, "vertices": vertices,
                "restarts": self.generation, "restored-checkpoint": self.restored_from,
                "failures": self.failure_history[-10:],
                "checkpoints": self.coordinator.stats() if self.job_graph.checkpoint_config.enabled else None,
                "source-partitions": self._deployments.splits_record(),
                "savepoints": self.coordinator.savepoints}
