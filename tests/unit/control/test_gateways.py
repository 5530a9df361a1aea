"""Every gateway method sends exactly the body, topic, target and fencing the receivers expect."""

import pytest

from strom.config import Configuration
from strom.control.channel import ControlChannel
from strom.control.gateways import (
    ClientGateway,
    JobMasterGateway,
    ResourceManagerGateway,
    TaskExecutorGateway,
)
from strom.control.messages import SlotStatus, TaskManagerInfo, TaskManagerState, TaskReport
from strom.control.roles import Role
from strom.errors import NotLeaderError, TaskFailureCause


class RecordingChannel:
    """A ControlChannel stand-in that keeps what was sent."""

    def __init__(self, sender_role):
        self.sender_role = sender_role
        self.sent = []

    def send(self, to_role, kind, body, *, target_id=None, fenced=False):
        self.sent.append((to_role, kind, body, target_id, fenced))


SLOTS = [SlotStatus(0), SlotStatus(1, "a-1", "j-1")]
SLOT_RECORDS = [{"slot_index": 0, "allocation_id": None, "job_id": None},
                {"slot_index": 1, "allocation_id": "a-1", "job_id": "j-1"}]

# (sender role, gateway, method, args) -> (topic role, type, body, target id, fenced)
CASES = [
    (Role.RESOURCEMANAGER, TaskExecutorGateway, "confirm_registration", ("tm-1",),
     (Role.TASKMANAGER, "TaskManagerRegistered", {"tm_id": "tm-1"}, "tm-1", True)),
    (Role.RESOURCEMANAGER, TaskExecutorGateway, "disconnect_task_manager", ("tm-1", "lost"),
     (Role.TASKMANAGER, "DisconnectTaskManager", {"tm_id": "tm-1", "reason": "lost"}, "tm-1", True)),
    (Role.RESOURCEMANAGER, TaskExecutorGateway, "allocate_slot", ("tm-1", 1, "j-1", "a-1"),
     (Role.TASKMANAGER, "AllocateSlot",
      {"tm_id": "tm-1", "slot_index": 1, "job_id": "j-1", "allocation_id": "a-1"}, "tm-1", True)),
    (Role.JOBMANAGER, TaskExecutorGateway, "free_slot", ("tm-1", "a-1", "j-1"),
     (Role.TASKMANAGER, "FreeSlot", {"tm_id": "tm-1", "allocation_id": "a-1", "job_id": "j-1"}, "tm-1", True)),
    (Role.JOBMANAGER, TaskExecutorGateway, "deploy_task", ("tm-1", "j-1", "a-1", "v1[0]#0", "{}"),
     (Role.TASKMANAGER, "DeployTask", {"tm_id": "tm-1", "job_id": "j-1", "allocation_id": "a-1",
                                        "execution_id": "v1[0]#0", "descriptor_json": "{}"}, "tm-1", True)),
    (Role.JOBMANAGER, TaskExecutorGateway, "cancel_task", ("tm-1", "j-1", "v1[0]#0"),
     (Role.TASKMANAGER, "CancelTask", {"tm_id": "tm-1", "job_id": "j-1", "execution_id": "v1[0]#0"},
      "tm-1", True)),
    (Role.JOBMANAGER, TaskExecutorGateway, "trigger_checkpoint", ("tm-1", "j-1", "v1[0]#0", 7, 1000, True),
     (Role.TASKMANAGER, "TriggerCheckpoint",
      {"tm_id": "tm-1", "job_id": "j-1", "execution_id": "v1[0]#0", "checkpoint_id": 7,
       "timestamp_ms": 1000, "is_savepoint": True}, "tm-1", True)),
    (Role.JOBMANAGER, TaskExecutorGateway, "notify_checkpoint_complete", ("tm-1", "j-1", 7, False),
     (Role.TASKMANAGER, "NotifyCheckpointComplete",
      {"tm_id": "tm-1", "job_id": "j-1", "checkpoint_id": 7, "final": False}, "tm-1", True)),
    (Role.JOBMANAGER, TaskExecutorGateway, "request_task_reports", ("r-1",),
     (Role.TASKMANAGER, "RequestTaskReports", {"request_id": "r-1"}, None, True)),
    (Role.TASKMANAGER, ResourceManagerGateway, "register_task_manager", ("tm-1", "h", 42, SLOTS, "s-1"),
     (Role.RESOURCEMANAGER, "RegisterTaskManager",
      {"tm_id": "tm-1", "host": "h", "pid": 42, "slots": SLOT_RECORDS, "session": "s-1"}, None, False)),
    (Role.TASKMANAGER, ResourceManagerGateway, "heartbeat", ("tm-1", "h", 42, SLOTS, "s-1"),
     (Role.RESOURCEMANAGER, "Heartbeat", {"tm_id": "tm-1", "host": "h", "pid": 42, "slots": SLOT_RECORDS,
                                          "session": "s-1"}, None, False)),
    (Role.JOBMANAGER, ResourceManagerGateway, "request_slot", ("j-1", "a-1"),
     (Role.RESOURCEMANAGER, "SlotRequest", {"job_id": "j-1", "allocation_id": "a-1"}, None, True)),
    (Role.TASKMANAGER, JobMasterGateway, "offer_slot", ("j-1", "a-1", "tm-1", 1),
     (Role.JOBMANAGER, "SlotOffer", {"job_id": "j-1", "allocation_id": "a-1", "tm_id": "tm-1", "slot_index": 1},
      None, False)),
    (Role.RESOURCEMANAGER, JobMasterGateway, "slot_request_failed", ("j-1", "a-1", "no slot"),
     (Role.JOBMANAGER, "SlotRequestFailed", {"job_id": "j-1", "allocation_id": "a-1", "reason": "no slot"},
      None, True)),
    (Role.RESOURCEMANAGER, JobMasterGateway, "task_manager_lost", ("tm-1", "silent", 5001, SLOTS[1:]),
     (Role.JOBMANAGER, "TaskManagerLost",
      {"tm_id": "tm-1", "reason": "silent", "silent_ms": 5001, "lost_slots": SLOT_RECORDS[1:]}, None, True)),
    (Role.TASKMANAGER, JobMasterGateway, "update_task_execution_state",
     ("j-1", "v1[0]#0", "tm-1", "FAILED", "boom", 3, TaskFailureCause.CHECKPOINT_CORRUPTED),
     (Role.JOBMANAGER, "TaskExecutionState",
      {"job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1", "state": "FAILED", "error": "boom",
       "records_in": 3, "cause": "CHECKPOINT_CORRUPTED"}, None, False)),
    (Role.TASKMANAGER, JobMasterGateway, "update_task_execution_state", ("j-1", "v1[0]#0", "tm-1", "RUNNING"),
     (Role.JOBMANAGER, "TaskExecutionState",
      {"job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1", "state": "RUNNING", "error": None,
       "records_in": 0, "cause": None}, None, False)),
    (Role.TASKMANAGER, JobMasterGateway, "acknowledge_checkpoint", ("j-1", "v1[0]#0", "tm-1", 7, 1024, True),
     (Role.JOBMANAGER, "AcknowledgeCheckpoint",
      {"job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1", "checkpoint_id": 7, "state_size": 1024,
       "completed": True}, None, False)),
    (Role.TASKMANAGER, JobMasterGateway, "decline_checkpoint", ("j-1", "v1[0]#0", "tm-1", 7, "not running"),
     (Role.JOBMANAGER, "DeclineCheckpoint",
      {"job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1", "checkpoint_id": 7,
       "reason": "not running"}, None, False)),
    (Role.TASKMANAGER, JobMasterGateway, "report_tasks",
     ("r-1", "tm-1", [TaskReport("j-1", "v1[0]#0", "a-1", 1, "RUNNING", False)]),
     (Role.JOBMANAGER, "TaskReports",
      {"request_id": "r-1", "tm_id": "tm-1", "tasks": [
          {"job_id": "j-1", "execution_id": "v1[0]#0", "allocation_id": "a-1", "slot_index": 1,
           "state": "RUNNING", "end_of_data": False}]}, None, False)),
    (Role.CLIENT, JobMasterGateway, "request_status", ("r-1",),
     (Role.JOBMANAGER, "StatusRequest", {"request_id": "r-1"}, None, False)),
    (Role.CLIENT, TaskExecutorGateway, "request_status", ("r-1",),
     (Role.TASKMANAGER, "StatusRequest", {"request_id": "r-1"}, None, False)),
]


@pytest.mark.parametrize("sender, gateway, method, args, expected", CASES,
                         ids=[f"{c[1].__name__}.{c[2]}" for c in CASES])
def test_gateway_sends_the_exact_message(sender, gateway, method, args, expected):
    channel = RecordingChannel(sender)
    getattr(gateway(channel), method)(*args)
    assert channel.sent == [expected]


def test_every_gateway_method_is_exercised():
    covered = {(c[1], c[2]) for c in CASES}
    for gateway in (TaskExecutorGateway, ResourceManagerGateway, JobMasterGateway):
        own = {name for name, value in vars(gateway).items() if callable(value) and not name.startswith("_")}
        assert {(gateway, name) for name in own} <= covered, gateway.__name__


@pytest.mark.parametrize("is_leader", [True, False])
def test_status_reply_goes_to_the_asking_client_fenced_only_by_a_leader(is_leader):
    channel = RecordingChannel(Role.RESOURCEMANAGER)
    row = TaskManagerInfo("tm-1", "h", 42, TaskManagerState.REGISTERED, 120, SLOTS)
    ClientGateway(channel).status_reply("client-1", "r-1", is_leader=is_leader, host="h", pid=7,
                                        rejected_messages=2, task_managers=[row])
    assert channel.sent == [(Role.CLIENT, "StatusReply", {
        "request_id": "r-1", "is_leader": is_leader, "host": "h", "pid": 7, "rejected_messages": 2,
        "task_managers": [{"tm_id": "tm-1", "host": "h", "pid": 42, "state": "REGISTERED",
                           "last_heartbeat_age_ms": 120, "slots": SLOT_RECORDS}]}, "client-1", is_leader)]


def test_a_leader_role_that_does_not_lead_cannot_send():
    channel = ControlChannel(Configuration(env={}), "rm-1", Role.RESOURCEMANAGER, token_source=lambda: None)
    with pytest.raises(NotLeaderError, match="rm-1 is not leader; refusing to send AllocateSlot"):
        TaskExecutorGateway(channel).allocate_slot("tm-1", 0, "j-1", "a-1")
