"""One dataclass per control message, mirroring ``schemas/control/strom.control.<Name>.avsc``.

A message class is named like its Avro record, declares the roles whose
control topic it is sent to (``receivers``) and converts to and from the Avro
record (a dict) in one place: :meth:`AvroRecord.to_record` and
:meth:`AvroRecord.from_record`, driven by the field types. Enums travel as
their symbols, nested records as dicts, lists element by element.

>>> FreeSlot(tm_id="tm-1", allocation_id="a-1", job_id="j-1").to_record()
{'tm_id': 'tm-1', 'allocation_id': 'a-1', 'job_id': 'j-1'}
>>> SlotStatus.from_record({"slot_index": 0, "allocation_id": None, "job_id": None})
SlotStatus(slot_index=0, allocation_id=None, job_id=None)
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union

from strom.control.roles import Role
from strom.errors import TaskFailureCause

R = TypeVar("R", bound="AvroRecord")


class AvroRecord:
    """Base of the dataclasses that mirror an Avro record of ``schemas/control``."""

    def to_record(self) -> dict[str, Any]:
        """The Avro datum: a dict of the schema's fields (enums as symbols, records as dicts)."""
        return {name: _to_datum(getattr(self, name)) for name in _field_types(type(self))}

    @classmethod
    def from_record(cls: type[R], record: Mapping[str, Any]) -> R:
        """The dataclass of an Avro datum as fastavro reads it; KeyError for a missing field."""
        hints = _field_types(cls)
        return cls(**{name: _from_datum(hint, record[name]) for name, hint in hints.items()})


class ControlPayload(AvroRecord):
    """Base of the control messages: the payload of one ``ControlEnvelope``."""

    receivers: ClassVar[frozenset[Role]]  # roles whose control topic carries this message
    senders: ClassVar[frozenset[Role]]    # roles that may send it: from any other it is refused

    @classmethod
    def type_name(cls) -> str:
        """The envelope's ``type``: the short name of the Avro record."""
        return cls.__name__


def _to_datum(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, AvroRecord):
        return value.to_record()
    if isinstance(value, list):
        return [_to_datum(item) for item in value]
    return value


def _from_datum(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):  # X | None: the one non-None member
        (hint,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _from_datum(hint, value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_from_datum(item, element) for element in value]
    if isinstance(hint, type) and issubclass(hint, AvroRecord):
        return hint.from_record(value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    return value


_FIELD_TYPES: dict[type, dict[str, Any]] = {}  # record class -> its fields' resolved types


def _field_types(cls: type) -> dict[str, Any]:
    if cls not in _FIELD_TYPES:
        hints = typing.get_type_hints(cls)
        _FIELD_TYPES[cls] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _FIELD_TYPES[cls]


def _to(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


# -- records inside messages ----------------------------------------------------------------
class TaskManagerState(enum.StrEnum):
    """Liveness of a TaskManager in the ResourceManager's slot table."""

    REGISTERED = "REGISTERED"
    LOST = "LOST"


@dataclass
class SlotStatus(AvroRecord):
    """One task slot of a TaskManager as it reports it; ``allocation_id`` None = free."""

    slot_index: int
    allocation_id: str | None = None
    job_id: str | None = None


@dataclass(frozen=True)
class TaskManagerInfo(AvroRecord):
    """A row of the ResourceManager's slot table; ``last_heartbeat_age_ms`` in ms."""

    tm_id: str
    host: str
    pid: int
    state: TaskManagerState
    last_heartbeat_age_ms: int
    slots: list[SlotStatus]


@dataclass(frozen=True)
class TaskReport(AvroRecord):
    """One task a TaskManager runs (or ran, until its slot is freed), as TaskReports lists it."""

    job_id: str
    execution_id: str
    allocation_id: str
    slot_index: int  # -1 when its slot is no longer allocated
    state: str
    end_of_data: bool


# -- registration and heartbeats ------------------------------------------------------------
@dataclass(frozen=True)
class RegisterTaskManager(ControlPayload):
    """TaskManager -> ResourceManager: register (again after a new leader appears)."""

    receivers = _to(Role.RESOURCEMANAGER)
    senders = _to(Role.TASKMANAGER)
    tm_id: str
    host: str
    pid: int
    slots: list[SlotStatus]
    session: str = ""  # random per process


@dataclass(frozen=True)
class TaskManagerRegistered(ControlPayload):
    """ResourceManager leader -> TaskManager: registration accepted."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.RESOURCEMANAGER)
    tm_id: str


@dataclass(frozen=True)
class DisconnectTaskManager(ControlPayload):
    """ResourceManager leader -> TaskManager: you were declared lost; free every slot, register anew."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.RESOURCEMANAGER)
    tm_id: str
    reason: str


@dataclass(frozen=True)
class Heartbeat(ControlPayload):
    """TaskManager -> ResourceManager every ``heartbeat.interval`` ms, with the full slot report."""

    receivers = _to(Role.RESOURCEMANAGER)
    senders = _to(Role.TASKMANAGER)
    tm_id: str
    host: str
    pid: int
    slots: list[SlotStatus]
    session: str = ""  # random per process, as in RegisterTaskManager


@dataclass(frozen=True)
class TaskManagerLost(ControlPayload):
    """ResourceManager leader -> JobManagers: a TaskManager was silent for ``silent_ms`` ms."""

    receivers = _to(Role.JOBMANAGER)
    senders = _to(Role.RESOURCEMANAGER)
    tm_id: str
    reason: str
    silent_ms: int
    lost_slots: list[SlotStatus]


# -- slots ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotRequest(ControlPayload):
    """JobManager leader -> ResourceManager: allocate one slot for a job."""

    receivers = _to(Role.RESOURCEMANAGER)
    senders = _to(Role.JOBMANAGER)
    job_id: str
    allocation_id: str


@dataclass(frozen=True)
class AllocateSlot(ControlPayload):
    """ResourceManager leader -> TaskManager: give this slot to the job (which it then offers)."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.RESOURCEMANAGER)
    tm_id: str
    slot_index: int
    job_id: str
    allocation_id: str


@dataclass(frozen=True)
class SlotRequestFailed(ControlPayload):
    """ResourceManager leader -> JobManager: a slot request cannot be served."""

    receivers = _to(Role.JOBMANAGER)
    senders = _to(Role.RESOURCEMANAGER)
    job_id: str
    allocation_id: str
    reason: str


@dataclass(frozen=True)
class SlotOffer(ControlPayload):
    """TaskManager -> JobManager: the slot allocated for this job is yours."""

    receivers = _to(Role.JOBMANAGER)
    senders = _to(Role.TASKMANAGER)
    job_id: str
    allocation_id: str
    tm_id: str
    slot_index: int


@dataclass(frozen=True)
class FreeSlot(ControlPayload):
    """JobManager leader -> TaskManager: the job no longer needs this slot."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.JOBMANAGER)
    tm_id: str
    allocation_id: str
    job_id: str


# -- tasks ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeployTask(ControlPayload):
    """JobManager leader -> TaskManager: run one subtask in an allocated slot."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.JOBMANAGER)
    tm_id: str
    job_id: str
    allocation_id: str
    execution_id: str  # vertex[subtask]#attempt
    descriptor_json: str  # the TaskDeploymentDescriptor as JSON


@dataclass(frozen=True)
class TaskExecutionState(ControlPayload):
    """TaskManager -> JobManager: a subtask changed state; a FAILED one says why (``cause``)."""

    receivers = _to(Role.JOBMANAGER)
    senders = _to(Role.TASKMANAGER)
    job_id: str
    execution_id: str
    tm_id: str
    state: str
    error: str | None = None
    records_in: int = 0
    cause: TaskFailureCause | None = None


@dataclass(frozen=True)
class CancelTask(ControlPayload):
    """JobManager leader -> TaskManager: stop a subtask; it reports CANCELED."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.JOBMANAGER)
    tm_id: str
    job_id: str
    execution_id: str


@dataclass(frozen=True)
class RequestTaskReports(ControlPayload):
    """New JobManager leader -> every TaskManager: report your tasks, to re-attach to them."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.JOBMANAGER)
    request_id: str


@dataclass(frozen=True)
class TaskReports(ControlPayload):
    """TaskManager -> JobManager: its tasks and their last states, answering RequestTaskReports."""

    receivers = _to(Role.JOBMANAGER)
    senders = _to(Role.TASKMANAGER)
    request_id: str
    tm_id: str
    tasks: list[TaskReport]


# -- checkpoints ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TriggerCheckpoint(ControlPayload):
    """JobManager leader -> TaskManager: a source subtask starts a savepoint or a final checkpoint."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.JOBMANAGER)
    tm_id: str
    job_id: str
    execution_id: str
    checkpoint_id: int
    timestamp_ms: int  # wall clock, ms since the epoch
    is_savepoint: bool = False


@dataclass(frozen=True)
class AcknowledgeCheckpoint(ControlPayload):
    """TaskManager -> JobManager: a subtask stored its snapshot and acked it in Redis."""

    receivers = _to(Role.JOBMANAGER)
    senders = _to(Role.TASKMANAGER)
    job_id: str
    execution_id: str
    tm_id: str
    checkpoint_id: int
    state_size: int  # bytes written to Redis
    completed: bool = False  # this ack was the last and completed the checkpoint in Redis


@dataclass(frozen=True)
class DeclineCheckpoint(ControlPayload):
    """TaskManager -> JobManager: a subtask cannot take the checkpoint."""

    receivers = _to(Role.JOBMANAGER)
    senders = _to(Role.TASKMANAGER)
    job_id: str
    execution_id: str
    tm_id: str
    checkpoint_id: int
    reason: str


@dataclass(frozen=True)
class NotifyCheckpointComplete(ControlPayload):
    """JobManager leader -> TaskManager: a checkpoint of the job completed (``final``: its last)."""

    receivers = _to(Role.TASKMANAGER)
    senders = _to(Role.JOBMANAGER)
    tm_id: str
    job_id: str
    checkpoint_id: int
    final: bool = False


# -- status -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatusRequest(ControlPayload):
    """Client -> every service: report your live state on the client topic."""

    receivers = _to(Role.JOBMANAGER, Role.RESOURCEMANAGER, Role.TASKMANAGER)
    senders = _to(Role.CLIENT)
    request_id: str


@dataclass(frozen=True)
class StatusReply(ControlPayload):
    """Service -> client: the answer to a StatusRequest."""

    receivers = _to(Role.CLIENT)
    senders = _to(Role.JOBMANAGER, Role.RESOURCEMANAGER, Role.TASKMANAGER)
    request_id: str
    is_leader: bool
    host: str
    pid: int
    rejected_messages: int  # control messages dropped for a stale fencing token
    task_managers: list[TaskManagerInfo] = field(default_factory=list)


# Every control message by its envelope ``type``.
MESSAGES: dict[str, type[ControlPayload]] = {cls.type_name(): cls for cls in (
    RegisterTaskManager, TaskManagerRegistered, DisconnectTaskManager, Heartbeat, TaskManagerLost,
    SlotRequest, AllocateSlot, SlotRequestFailed, SlotOffer, FreeSlot,
    DeployTask, TaskExecutionState, CancelTask,
    TriggerCheckpoint, AcknowledgeCheckpoint, DeclineCheckpoint, NotifyCheckpointComplete,
    RequestTaskReports, TaskReports,
    StatusRequest, StatusReply,
)}


def received_by(role: Role) -> frozenset[type[ControlPayload]]:
    """The messages sent to ``role``'s control topic: what its handler table must cover."""
    return frozenset(cls for cls in MESSAGES.values() if role in cls.receivers)
