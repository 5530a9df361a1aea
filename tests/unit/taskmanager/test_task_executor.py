"""The TaskExecutor's handlers, driven through its handler table with a recording channel."""

from types import SimpleNamespace

import pytest

from strom.config import Configuration
from strom.control.codec import ControlMessage
from strom.control.messages import SlotStatus
from strom.control.roles import Role
from strom.coordination.leader_election import LeaderInfo
from strom.errors import TaskFailureCause
from strom.taskmanager import task_executor
from strom.taskmanager.task_executor import TaskExecutor


class FakeTask:
    """Stands in for strom.runtime.task.Task: records what the TaskExecutor asks of it."""

    def __init__(self, descriptor, vertex, bootstrap, redis_client, callbacks, settings, job_name):
        self.descriptor, self.vertex, self.callbacks = descriptor, vertex, callbacks
        self.state, self.end_of_data, self.records_in = "DEPLOYING", False, 5
        self.started = self.canceled = False
        self.triggered, self.completed = [], []

    def start(self):
        self.started = True

    def is_alive(self):
        return self.started and not self.canceled

    def cancel(self):
        self.canceled = True

    def trigger_checkpoint(self, checkpoint_id):
        self.triggered.append(checkpoint_id)

    def notify_checkpoint_complete(self, checkpoint_id, final):
        self.completed.append((checkpoint_id, final))


class FakeArtifacts:
    def __init__(self, jobs):
        self.jobs = jobs

    def job_graph(self, job_id):
        if job_id not in self.jobs:
            raise LookupError(f"no artifact for job {job_id} in Redis")
        return SimpleNamespace(job_name="a job", vertex=lambda vertex_id: SimpleNamespace(name=f"vertex {vertex_id}"))

    def retain(self, job_ids):
        self.jobs = {job for job in self.jobs if job in job_ids}


@pytest.fixture
def executor(monkeypatch):
    monkeypatch.setattr(task_executor, "Task", FakeTask)
    monkeypatch.setattr(task_executor.TaskDeploymentDescriptor, "from_json",
                        staticmethod(lambda text: SimpleNamespace(vertex_id=text)))
    tm = TaskExecutor(Configuration(env={}), "tm-1",
                      FakeArtifacts({"j-1"}), None)
    tm.sent = []
    tm.channel.send = lambda to_role, kind, body, *, target_id=None, fenced=False: tm.sent.append(
        (to_role, kind, dict(body)))
    tm.leaders[Role.RESOURCEMANAGER] = LeaderInfo("rm-1", 3, "h", 1)
    tm.fencing.observe(Role.RESOURCEMANAGER, 3)
    tm.fencing.observe(Role.JOBMANAGER, 1)
    return tm


def deliver(tm, kind, body, sender=Role.JOBMANAGER):
    token = {Role.JOBMANAGER: 1, Role.RESOURCEMANAGER: 3}.get(sender)
    tm.dispatch(ControlMessage(type=kind, sender_id=f"{sender.lower()}-1", sender_role=sender, seq=1,
                               body=body, fencing_token=token, target_id="tm-1"))


def sent(tm, kind):
    return [body for _role, k, body in tm.sent if k == kind]


def allocate(tm, slot_index=0, allocation_id="a-0", job_id="j-1"):
    deliver(tm, "AllocateSlot", {"tm_id": "tm-1", "slot_index": slot_index, "job_id": job_id,
                                 "allocation_id": allocation_id}, sender=Role.RESOURCEMANAGER)


def deploy(tm, execution_id="v1[0]#0", allocation_id="a-0", job_id="j-1"):
    deliver(tm, "DeployTask", {"tm_id": "tm-1", "job_id": job_id, "allocation_id": allocation_id,
                               "execution_id": execution_id, "descriptor_json": "v1"})
    return tm.slot_table.task(job_id, execution_id)


def test_allocation_is_offered_to_the_job_master_and_reported_at_once(executor):
    allocate(executor)
    assert sent(executor, "SlotOffer") == [{"job_id": "j-1", "allocation_id": "a-0", "tm_id": "tm-1",
                                            "slot_index": 0}]
    (heartbeat,) = sent(executor, "Heartbeat")
    assert heartbeat["slots"][0] == {"slot_index": 0, "allocation_id": "a-0", "job_id": "j-1"}
    executor.sent.clear()
    allocate(executor, allocation_id="a-other")  # the slot is taken
    assert executor.sent == []


def test_heartbeat_registers_until_the_leader_confirmed(executor):
    executor.heartbeat()
    assert [k for _r, k, _b in executor.sent] == ["RegisterTaskManager", "Heartbeat"]
    deliver(executor, "TaskManagerRegistered", {"tm_id": "tm-1"}, sender=Role.RESOURCEMANAGER)
    assert executor.registered_token == 3
    executor.sent.clear()
    executor.heartbeat()
    assert [k for _r, k, _b in executor.sent] == ["Heartbeat"]


def test_deploy_into_an_unallocated_slot_fails_as_deployment(executor):
    deploy(executor)
    (state,) = sent(executor, "TaskExecutionState")
    assert state["state"] == "FAILED" and state["cause"] == TaskFailureCause.DEPLOYMENT.value
    assert state["error"] == "slot a-0 is not allocated on tm-1"


def test_deploy_without_an_artifact_fails_as_deployment(executor):
    allocate(executor, job_id="j-gone")
    deploy(executor, job_id="j-gone")
    (state,) = sent(executor, "TaskExecutionState")
    assert state["cause"] == "DEPLOYMENT"
    assert state["error"] == "deployment on tm-1 failed: LookupError: no artifact for job j-gone in Redis"


def test_deployed_task_reports_through_the_job_master_gateway(executor):
    allocate(executor)
    task = deploy(executor)
    assert task.started and task.vertex.name == "vertex v1"
    assert sent(executor, "TaskExecutionState")[0]["state"] == "DEPLOYING"
    task.callbacks.report("FAILED", "CheckpointCorruptedError: x", TaskFailureCause.CHECKPOINT_CORRUPTED)
    task.callbacks.acknowledge(7, 100, True)
    task.callbacks.decline(8, "redis down")
    assert sent(executor, "TaskExecutionState")[-1] == {
        "job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1", "state": "FAILED",
        "error": "CheckpointCorruptedError: x", "records_in": 5, "cause": "CHECKPOINT_CORRUPTED"}
    assert sent(executor, "AcknowledgeCheckpoint") == [{
        "job_id": "j-1", "execution_id": "v1[0]#0", "tm_id": "tm-1", "checkpoint_id": 7, "state_size": 100,
        "completed": True}]
    assert sent(executor, "DeclineCheckpoint")[0]["reason"] == "redis down"


def test_checkpoints_reach_running_tasks_and_are_declined_for_others(executor):
    allocate(executor)
    task = deploy(executor)
    trigger = {"tm_id": "tm-1", "job_id": "j-1", "checkpoint_id": 4, "timestamp_ms": 1, "is_savepoint": True}
    deliver(executor, "TriggerCheckpoint", {**trigger, "execution_id": "v1[0]#0"})
    deliver(executor, "TriggerCheckpoint", {**trigger, "execution_id": "v9[0]#0"})
    assert task.triggered == [4]
    assert sent(executor, "DeclineCheckpoint") == [{
        "job_id": "j-1", "execution_id": "v9[0]#0", "tm_id": "tm-1", "checkpoint_id": 4,
        "reason": "task is not running"}]
    deliver(executor, "NotifyCheckpointComplete", {"tm_id": "tm-1", "job_id": "j-1", "checkpoint_id": 4,
                                                   "final": True})
    assert task.completed == [(4, True)]


def test_free_slot_cancels_its_tasks_and_reports_the_free_slot(executor):
    allocate(executor)
    task = deploy(executor)
    executor.sent.clear()
    deliver(executor, "FreeSlot", {"tm_id": "tm-1", "allocation_id": "a-0", "job_id": "j-1"})
    assert task.canceled and executor.slot_table.all_tasks() == []
    assert sent(executor, "Heartbeat")[0]["slots"][0] == {"slot_index": 0, "allocation_id": None, "job_id": None}


def test_task_reports_answer_a_new_job_master(executor):
    allocate(executor, slot_index=1, allocation_id="a-1")
    deploy(executor, allocation_id="a-1")
    deliver(executor, "RequestTaskReports", {"request_id": "r-1"})
    assert sent(executor, "TaskReports") == [{"request_id": "r-1", "tm_id": "tm-1", "tasks": [
        {"job_id": "j-1", "execution_id": "v1[0]#0", "allocation_id": "a-1", "slot_index": 1,
         "state": "DEPLOYING", "end_of_data": False}]}]


def test_disconnect_cancels_everything_and_registers_again(executor):
    allocate(executor)
    task = deploy(executor)
    executor.sent.clear()
    deliver(executor, "DisconnectTaskManager", {"tm_id": "tm-1", "reason": "lost"}, sender=Role.RESOURCEMANAGER)
    assert task.canceled and executor.registered_token is None
    (registration,) = sent(executor, "RegisterTaskManager")
    assert registration["slots"] == [SlotStatus(0).to_record(), SlotStatus(1).to_record()]


def test_status_row_is_the_taskmanager_itself(executor):
    (row,) = executor.status_rows()
    assert row.tm_id == "tm-1" and row.state == "LOST" and len(row.slots) == 2
