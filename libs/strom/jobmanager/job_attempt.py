"""One attempt of a job: its executions, where they run, what they restore and where their inputs start.

Strom restarts a job as a whole (see :mod:`strom.jobmanager.failover`), so an
attempt is the job's unit of deployment: attempt ``generation`` (the restart
count; every subtask's execution attempt number) deploys every subtask into
the job's slots, restoring checkpoint ``restored_from`` (or, when there is
none, the savepoint the job was started from), and is canceled as a whole.
The JobMaster makes attempt 0 when the job starts and :meth:`JobAttempt.next`
at every restart.
"""

from __future__ import annotations

from typing import Any

from strom.control.channel import ControlChannel
from strom.control.gateways import TaskExecutorGateway
from strom.graph.execution_graph import ExecutionGraph
from strom.io.kafka import KafkaPartition
from strom.jobmanager.deployment import TaskDeploymentDescriptorFactory
from strom.jobmanager.slot_pool import SlotGrant
from strom.logs import get_logger
from strom.states import ExecutionState

log = get_logger(__name__)


class JobAttempt:
    """The executions of attempt ``generation`` of a job and the TaskManagers they run on.

    ``deployments`` builds their descriptors and holds the source splits, fixed at the job's
    start (:meth:`fix_source_partitions`) and shared by every later attempt; ``restored_from``:
    the checkpoint this attempt restores (None: none, or ``savepoint``, the pointer of the
    savepoint the job was started from); ``skip_before``: per intermediate partition the first
    offset this attempt may need (older attempts wrote the rest).
    """

    def __init__(self, deployments: TaskDeploymentDescriptorFactory, channel: ControlChannel,
                 generation: int = 0, savepoint: dict[str, Any] | None = None, restored_from: int | None = None,
                 skip_before: dict[KafkaPartition, int] | None = None) -> None:
        self.deployments = deployments
        self.job_graph = deployments.job_graph
        self.job_id = self.job_graph.job_id
        self.channel = channel
        self.task_executors = TaskExecutorGateway(channel)
        self.generation = generation
        self.savepoint = savepoint
        self.restored_from = restored_from
        self._skip_before: dict[tuple[str, int], int] = {k: v for k, v in (skip_before or {}).items()}
        self.graph = ExecutionGraph.from_job_graph(self.job_graph, attempt=generation)
        self.locations: dict[str, str] = {}  # execution id -> TaskManager id

    @property
    def savepoint_checkpoint(self) -> int | None:
        """The checkpoint id of the savepoint the job started from, None for none."""
        return self.savepoint["checkpoint_id"] if self.savepoint else None

    def next(self, restored_from: int | None, skip_before: dict[KafkaPartition, int]) -> JobAttempt:
        """The attempt that replaces this one after a failure (no subtask deployed yet)."""
        return JobAttempt(self.deployments, self.channel, self.generation + 1, self.savepoint, restored_from,
                          skip_before)

    def resume(self, generation: int, source_partitions: dict[str, list[list]],
               restored_from: int | None) -> JobAttempt:
        """The attempt a previous JobManager leader ran, as its job record says (re-attached next)."""
        self.deployments.load_splits(source_partitions)
        return JobAttempt(self.deployments, self.channel, generation, self.savepoint, restored_from)

    @property
    def source_partitions(self) -> dict[str, list[list]]:
        """Per source vertex id: ``[topic, partition, start, end|None]`` fixed at the job's start."""
        return self.deployments.splits_record()

    def fix_source_partitions(self) -> None:
        """Read the source topics' partitions and the bounded sources' end offsets, now (the job
        starts); raises :class:`~strom.errors.JobSetupError` for a missing source topic."""
        self.deployments.assign_source_splits()

    def deploy(self, slots: list[SlotGrant]) -> None:
        """Deploy every subtask into its slot of ``slots`` (all granted): ``DeployTask`` to its TaskManager."""
        for execution_vertex in self.graph.job_vertices:
            for subtask in execution_vertex.subtasks:
                grant = slots[subtask.slot_index]
                assert grant.tm_id is not None, "deployed only once every slot is granted"
                subtask.state = ExecutionState.DEPLOYING
                self.locations[subtask.execution_id] = grant.tm_id
                vertex = execution_vertex.job_vertex
                descriptor = self.deployments.create(
                    vertex, subtask.subtask_index, subtask.attempt,
                    self.deployments.restore_spec(vertex, self.restored_from, self.savepoint), self._skip_before)
                self.task_executors.deploy_task(grant.tm_id, self.job_id, grant.allocation_id,
                                                subtask.execution_id, descriptor.to_json())
        log.info("job deployed", job_id=self.job_id, subtasks=len(self.locations))

    def cancel(self) -> None:
        """Ask the TaskManagers to cancel every deployed subtask that is still live (``CancelTask``)."""
        for subtask in self.graph.subtasks():
            tm_id = self.locations.get(subtask.execution_id)
            if tm_id is not None and not subtask.state.is_terminal:
                self.task_executors.cancel_task(tm_id, self.job_id, subtask.execution_id)

    def stopped(self) -> bool:
        """True when no subtask runs any more: each is terminal or was never deployed."""
        return all(s.state.is_terminal or s.execution_id not in self.locations for s in self.graph.subtasks())

    def finished(self) -> bool:
        """True when every subtask reported FINISHED."""
        return all(s.state == ExecutionState.FINISHED for s in self.graph.subtasks())

    def fail_lost(self, tm_id: str, reason: str) -> bool:
        """Mark the live subtasks on lost TaskManager ``tm_id`` FAILED; True if there were any."""
        lost = [s for s in self.graph.subtasks()
                if self.locations.get(s.execution_id) == tm_id and not s.state.is_terminal]
        for subtask in lost:
            subtask.state, subtask.error = ExecutionState.FAILED, f"TaskManager {tm_id} lost: {reason}"
        return bool(lost)

    def trigger_checkpoint(self, checkpoint_id: int, timestamp_ms: int, is_savepoint: bool) -> None:
        """Tell every source subtask to start checkpoint ``checkpoint_id`` (``TriggerCheckpoint``)."""
        for execution_vertex in self.graph.job_vertices:
            if not execution_vertex.job_vertex.is_source:
                continue
            for subtask in execution_vertex.subtasks:
                tm_id = self.locations[subtask.execution_id]
                self.task_executors.trigger_checkpoint(tm_id, self.job_id, subtask.execution_id, checkpoint_id,
                                                       timestamp_ms, is_savepoint)

    def notify_checkpoint_complete(self, checkpoint_id: int, final: bool) -> None:
        """Tell every TaskManager running a subtask that ``checkpoint_id`` completed."""
        for tm_id in sorted(set(self.locations.values())):
            self.task_executors.notify_checkpoint_complete(tm_id, self.job_id, checkpoint_id, final)
