"""Gateways per receiving role (Flink's ``TaskExecutorGateway``, ``ResourceManagerGateway``,
``JobMasterGateway``): one method per control message, the only place its body is built.

A gateway sends through the caller's :class:`~strom.control.channel.ControlChannel`.
Messages of a leader-scoped sender (JobManager, ResourceManager) are fenced:
stamped with its leader epoch, and refused with
:class:`~strom.errors.NotLeaderError` while it does not lead. Messages to
TaskManagers are addressed to the one named by ``tm_id``. Delivery is
asynchronous (``channel.flush()`` waits for it).
"""

from __future__ import annotations

from typing import ClassVar

from strom.control.channel import ControlChannel
from strom.control.codec import ControlMessage
from strom.control.messages import (
    AcknowledgeCheckpoint,
    AllocateSlot,
    CancelTask,
    ControlPayload,
    DeclineCheckpoint,
    DeployTask,
    DisconnectTaskManager,
    FreeSlot,
    Heartbeat,
    NotifyCheckpointComplete,
    RegisterTaskManager,
    RequestTaskReports,
    SlotOffer,
    SlotRequest,
    SlotRequestFailed,
    SlotStatus,
    StatusReply,
    StatusRequest,
    TaskExecutionState,
    TaskManagerInfo,
    TaskManagerLost,
    TaskManagerRegistered,
    TaskReport,
    TaskReports,
    TriggerCheckpoint,
)
from strom.control.roles import Role
from strom.errors import TaskFailureCause


class Gateway:
    """Sends the messages read on ``role``'s control topic."""

    role: ClassVar[Role]

    def __init__(self, channel: ControlChannel) -> None:
        self.channel = channel

    def send(self, payload: ControlPayload, *, target_id: str | None = None,
             fenced: bool | None = None) -> ControlMessage:
        """Send ``payload``; ``fenced`` defaults to whether the sender's role is leader-scoped.

        Raises :class:`~strom.errors.NotLeaderError` for a fenced message while not leading,
        :class:`~strom.errors.ControlMessageError` for a body its schema refuses.
        """
        assert self.role in payload.receivers, f"{payload.type_name()} is not sent to {self.role}"
        if fenced is None:
            fenced = self.channel.sender_role.leader_scoped
        return self.channel.send(self.role, payload.type_name(), payload.to_record(),
                                 target_id=target_id, fenced=fenced)

    def request_status(self, request_id: str) -> None:
        """Ask every process of this role for a StatusReply (unfenced: clients send it)."""
        self.send(StatusRequest(request_id), fenced=False)


class TaskExecutorGateway(Gateway):
    """To TaskManagers: from the ResourceManager leader (registration, slots) and the JobManager
    leader (tasks, checkpoints, freeing slots)."""

    role = Role.TASKMANAGER

    def _to(self, payload: ControlPayload, tm_id: str) -> None:
        self.send(payload, target_id=tm_id)

    def confirm_registration(self, tm_id: str) -> None:
        self._to(TaskManagerRegistered(tm_id), tm_id)

    def disconnect_task_manager(self, tm_id: str, reason: str) -> None:
        self._to(DisconnectTaskManager(tm_id, reason), tm_id)

    def allocate_slot(self, tm_id: str, slot_index: int, job_id: str, allocation_id: str) -> None:
        self._to(AllocateSlot(tm_id, slot_index, job_id, allocation_id), tm_id)

    def free_slot(self, tm_id: str, allocation_id: str, job_id: str) -> None:
        self._to(FreeSlot(tm_id, allocation_id, job_id), tm_id)

    def deploy_task(self, tm_id: str, job_id: str, allocation_id: str, execution_id: str,
                    descriptor_json: str) -> None:
        self._to(DeployTask(tm_id, job_id, allocation_id, execution_id, descriptor_json), tm_id)

    def cancel_task(self, tm_id: str, job_id: str, execution_id: str) -> None:
        self._to(CancelTask(tm_id, job_id, execution_id), tm_id)

    def trigger_checkpoint(self, tm_id: str, job_id: str, execution_id: str, checkpoint_id: int,
                           timestamp_ms: int, is_savepoint: bool) -> None:
        """``timestamp_ms``: the checkpoint's wall-clock trigger time, ms since the epoch."""
        self._to(TriggerCheckpoint(tm_id, job_id, execution_id, checkpoint_id, timestamp_ms, is_savepoint),
                 tm_id)

    def notify_checkpoint_complete(self, tm_id: str, job_id: str, checkpoint_id: int, final: bool) -> None:
        self._to(NotifyCheckpointComplete(tm_id, job_id, checkpoint_id, final), tm_id)

    def request_task_reports(self, request_id: str) -> None:
        """Ask every TaskManager for its tasks (a new JobManager leader re-attaching)."""
        self.send(RequestTaskReports(request_id))


class ResourceManagerGateway(Gateway):
    """To ResourceManagers: from TaskManagers (registration, heartbeats) and the JobManager leader."""

    role = Role.RESOURCEMANAGER

    def register_task_manager(self, tm_id: str, host: str, pid: int, slots: list[SlotStatus],
                              session: str = "") -> None:
        self.send(RegisterTaskManager(tm_id, host, pid, slots, session))

    def heartbeat(self, tm_id: str, host: str, pid: int, slots: list[SlotStatus], session: str = "") -> None:
        self.send(Heartbeat(tm_id, host, pid, slots, session))

    def request_slot(self, job_id: str, allocation_id: str) -> None:
        self.send(SlotRequest(job_id, allocation_id))


class JobMasterGateway(Gateway):
    """To JobManagers: from TaskManagers (slots, task states, checkpoints) and the ResourceManager
    leader (refused requests, lost TaskManagers)."""

    role = Role.JOBMANAGER

    def offer_slot(self, job_id: str, allocation_id: str, tm_id: str, slot_index: int) -> None:
        self.send(SlotOffer(job_id, allocation_id, tm_id, slot_index))

    def slot_request_failed(self, job_id: str, allocation_id: str, reason: str) -> None:
        self.send(SlotRequestFailed(job_id, allocation_id, reason))

    def task_manager_lost(self, tm_id: str, reason: str, silent_ms: int, lost_slots: list[SlotStatus]) -> None:
        """``silent_ms``: ms since the TaskManager's last heartbeat."""
        self.send(TaskManagerLost(tm_id, reason, silent_ms, lost_slots))

    def update_task_execution_state(self, job_id: str, execution_id: str, tm_id: str, state: str,
                                    error: str | None = None, records_in: int = 0,
                                    cause: TaskFailureCause | None = None) -> None:
        """A subtask's new state; a FAILED one with its error text and ``cause``."""
        self.send(TaskExecutionState(job_id, execution_id, tm_id, state, error, records_in, cause))

    def acknowledge_checkpoint(self, job_id: str, execution_id: str, tm_id: str, checkpoint_id: int,
                               state_size: int, completed: bool) -> None:
        """``state_size``: bytes the subtask wrote to Redis; ``completed``: its ack completed it."""
        self.send(AcknowledgeCheckpoint(job_id, execution_id, tm_id, checkpoint_id, state_size, completed))

    def decline_checkpoint(self, job_id: str, execution_id: str, tm_id: str, checkpoint_id: int,
                           reason: str) -> None:
        self.send(DeclineCheckpoint(job_id, execution_id, tm_id, checkpoint_id, reason))

    def report_tasks(self, request_id: str, tm_id: str, tasks: list[TaskReport]) -> None:
        self.send(TaskReports(request_id, tm_id, tasks))


class ClientGateway(Gateway):
    """To CLI clients: answers to their status requests."""

    role = Role.CLIENT

    def status_reply(self, client_id: str, request_id: str, *, is_leader: bool, host: str, pid: int,
                     rejected_messages: int, task_managers: list[TaskManagerInfo]) -> None:
        """Answer ``client_id``'s StatusRequest; fenced only while the sender leads (standbys answer too)."""
        self.send(StatusReply(request_id, is_leader, host, pid, rejected_messages, task_managers),
                  target_id=client_id, fenced=is_leader)

