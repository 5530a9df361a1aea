"""Avro round trip of every control message and its dataclass; corrupt and unknown records are
rejected clearly."""

import pytest

from strom.control import codec
from strom.control.codec import ControlMessage
from strom.control.messages import MESSAGES, StatusReply, TaskExecutionState, TaskManagerState
from strom.control.roles import Role
from strom.errors import ControlMessageError, TaskFailureCause

SLOT = {"slot_index": 1, "allocation_id": "a-1", "job_id": "j-1"}
FREE = {"slot_index": 0, "allocation_id": None, "job_id": None}
TM_ROW = {"tm_id": "tm-1", "host": "h", "pid": 42, "state": "LOST",
          "last_heartbeat_age_ms": 5100, "slots": [FREE, SLOT]}

BODIES = {
    "RegisterTaskManager": {"tm_id": "tm-1", "host": "h", "pid": 42, "slots": [FREE, SLOT], "session": "s-1"},
    "TaskManagerRegistered": {"tm_id": "tm-1"},
    "DisconnectTaskManager": {"tm_id": "tm-1", "reason": "lost"},
    "Heartbeat": {"tm_id": "tm-1", "host": "h", "pid": 42, "slots": [FREE], "session": "s-1"},
    "TaskManagerLost": {"tm_id": "tm-1", "reason": "no heartbeat", "silent_ms": 5001, "lost_slots": [SLOT]},
    "SlotRequest": {"job_id": "j-1", "allocation_id": "a-1"},
    "AllocateSlot": {"tm_id": "tm-1", "slot_index": 1, "job_id": "j-1", "allocation_id": "a-1"},
    "SlotRequestFailed": {"job_id": "j-1", "allocation_id": "a-1", "reason": "no free slot"},
    "SlotOffer": {"job_id": "j-1", "allocation_id": "a-1", "tm_id": "tm-1", "slot_index": 1},
    "FreeSlot": {"tm_id": "tm-1", "allocation_id": "a-1", "job_id": "j-1"},
    "DeployTask": {"tm_id": "tm-1", "job_id": "j-1", "allocation_id": "a-1",
                   "execution_id": "v1[0]#0", "descriptor_json": "{}"},
    "TaskExecutionState": {"job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1",
                           "state": "FAILED", "error": "CheckpointCorruptedError: x", "records_in": 10,
                           "cause": "CHECKPOINT_CORRUPTED"},
    "CancelTask": {"tm_id": "tm-1", "job_id": "j-1", "execution_id": "v1[0]#0"},
    "TriggerCheckpoint": {"tm_id": "tm-1", "job_id": "j-1", "execution_id": "v1[0]#0",
                          "checkpoint_id": 7, "timestamp_ms": 1, "is_savepoint": True},
    "AcknowledgeCheckpoint": {"job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1",
                              "checkpoint_id": 7, "state_size": 1024, "completed": True},
    "DeclineCheckpoint": {"job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1",
                          "checkpoint_id": 7, "reason": "redis down"},
    "NotifyCheckpointComplete": {"tm_id": "tm-1", "job_id": "j-1", "checkpoint_id": 7, "final": True},
    "RequestTaskReports": {"request_id": "r-1"},
    "TaskReports": {"request_id": "r-1", "tm_id": "tm-1", "tasks": [
        {"job_id": "j-1", "execution_id": "v1[0]#2", "allocation_id": "a-1", "slot_index": 0,
         "state": "RUNNING", "end_of_data": True}]},
    "StatusRequest": {"request_id": "r-1"},
    "StatusReply": {"request_id": "r-1", "is_leader": True, "host": "h", "pid": 7,
                    "task_managers": [TM_ROW], "rejected_messages": 3},
}


def test_every_message_type_has_a_sample():
    assert set(BODIES) == set(codec.MESSAGE_TYPES) == set(MESSAGES)


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_dataclass_round_trip(kind):
    payload = MESSAGES[kind].from_record(BODIES[kind])
    assert payload.to_record() == BODIES[kind]
    message = ControlMessage(type=kind, sender_id="tm-1", sender_role=Role.TASKMANAGER, seq=1,
                             body=payload.to_record())
    assert codec.decode(codec.encode(message)).payload(MESSAGES[kind]) == payload


def test_dataclasses_carry_enums_and_nested_records():
    state = codec.decode(codec.encode(ControlMessage(
        type="TaskExecutionState", sender_id="tm-1", sender_role=Role.TASKMANAGER, seq=1,
        body=BODIES["TaskExecutionState"]))).payload(TaskExecutionState)
    assert state.cause is TaskFailureCause.CHECKPOINT_CORRUPTED
    reply = StatusReply.from_record(BODIES["StatusReply"])
    assert reply.task_managers[0].state is TaskManagerState.LOST
    assert reply.task_managers[0].slots[1].allocation_id == "a-1"


def test_task_state_without_a_cause_reads_as_none():
    body = {k: v for k, v in BODIES["TaskExecutionState"].items() if k != "cause"}
    decoded = codec.decode(codec.encode(ControlMessage(
        type="TaskExecutionState", sender_id="tm-1", sender_role=Role.TASKMANAGER, seq=1, body=body)))
    assert decoded.payload(TaskExecutionState).cause is None


def test_payload_of_another_type_is_refused():
    message = ControlMessage(type="SlotRequest", sender_id="jm-1", sender_role=Role.JOBMANAGER, seq=1,
                             body=BODIES["SlotRequest"])
    with pytest.raises(ControlMessageError, match="a SlotRequest message is no StatusReply"):
        message.payload(StatusReply)


def test_decoded_sender_role_is_a_role():
    message = ControlMessage(type="Heartbeat", sender_id="tm-1", sender_role=Role.TASKMANAGER, seq=1,
                             body=BODIES["Heartbeat"])
    assert codec.decode(codec.encode(message)).sender_role is Role.TASKMANAGER


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_round_trip(kind):
    message = ControlMessage(type=kind, sender_id="rm-1", sender_role=Role.RESOURCEMANAGER, seq=7,
                             body=BODIES[kind], fencing_token=12, target_id="tm-1",
                             timestamp_ms=1_700_000_000_000)
    assert codec.decode(codec.encode(message)) == message


def test_unfenced_untargeted_round_trip():
    message = ControlMessage(type="Heartbeat", sender_id="tm-1", sender_role=Role.TASKMANAGER, seq=1,
                             body=BODIES["Heartbeat"])
    decoded = codec.decode(codec.encode(message))
    assert decoded.fencing_token is None and decoded.target_id is None
    assert decoded.body == BODIES["Heartbeat"]


def _encoded():
    return codec.encode(ControlMessage(type="SlotRequest", sender_id="jm-1", sender_role=Role.JOBMANAGER,
                                       seq=1, body=BODIES["SlotRequest"], fencing_token=1))


@pytest.mark.parametrize("data, expected", [
    (None, "not a Strom control message"),
    (b"", "not a Strom control message"),
    (b'{"type": "Heartbeat"}', "not a Strom control message"),
    (b"S\x01", "corrupt control envelope"),
])
def test_garbage_is_rejected(data, expected):
    with pytest.raises(ControlMessageError, match=expected):
        codec.decode(data)


def test_truncated_and_trailing_bytes_are_rejected():
    data = _encoded()
    with pytest.raises(ControlMessageError, match="corrupt control envelope"):
        codec.decode(data[:-4])
    with pytest.raises(ControlMessageError, match="trailing bytes"):
        codec.decode(data + b"\x00")


def test_unknown_type_is_rejected_by_name():
    # Re-encode a valid envelope with a type this build does not know.
    envelope = codec._read(codec.schema("ControlEnvelope"), _encoded()[2:], "envelope")
    envelope["type"] = "LaunchMissiles"
    data = codec.MAGIC + codec._write(codec.schema("ControlEnvelope"), envelope)
    with pytest.raises(ControlMessageError, match="unknown control message type 'LaunchMissiles'"):
        codec.decode(data)


def test_payload_not_matching_its_type_is_rejected():
    envelope = codec._read(codec.schema("ControlEnvelope"), _encoded()[2:], "envelope")
    envelope["type"] = "StatusReply"  # SlotRequest bytes are no StatusReply
    data = codec.MAGIC + codec._write(codec.schema("ControlEnvelope"), envelope)
    with pytest.raises(ControlMessageError, match="StatusReply payload"):
        codec.decode(data)


def test_encode_rejects_invalid_body_naming_the_field():
    with pytest.raises(ControlMessageError, match="slot_index"):
        codec.encode(ControlMessage(type="AllocateSlot", sender_id="rm", sender_role=Role.RESOURCEMANAGER,
                                    seq=1, body={**BODIES["AllocateSlot"], "slot_index": "one"}))
    with pytest.raises(ControlMessageError, match="unknown control message type"):
        codec.encode(ControlMessage(type="Nope", sender_id="x", sender_role=Role.CLIENT, seq=1, body={}))
