"""wait_until_ready: polls the live status until ready, or fails with the last one."""

import pytest

from strom.cluster.client import ClusterStatus
from strom.testing.readiness import ClusterNotReadyError, cluster_ready, wait_until_ready


class FakeClient:
    def __init__(self, statuses):
        self.statuses = list(statuses)

    def status(self, timeout_s=None, settle_s=0.4):
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]


class Reply:
    """The leading ResourceManager's StatusReply with one free slot per TaskManager."""

    sender_role, sender_id = "RESOURCEMANAGER", "resourcemanager-1"

    def __init__(self, *tm_states):
        self.body = {"is_leader": True, "task_managers": [
            {"tm_id": f"tm-{i}", "state": s, "slots": [{"allocation_id": None}]} for i, s in enumerate(tm_states)]}


def status(leaders=True, *tm_states):
    leader = object() if leaders else None
    return ClusterStatus({"JOBMANAGER": leader, "RESOURCEMANAGER": leader}, [Reply(*tm_states)])


def test_ready_needs_both_leaders_and_the_task_managers():
    ready = cluster_ready(task_managers=2, free_slots=2)
    assert not ready(status(False, "REGISTERED", "REGISTERED"))
    assert not ready(status(True, "REGISTERED", "LOST"))
    assert ready(status(True, "REGISTERED", "REGISTERED"))


def test_waits_until_ready():
    final = status(True, "REGISTERED")
    client = FakeClient([status(False), status(True), final])
    assert wait_until_ready(client, cluster_ready(1), timeout_s=5, poll_s=0.01) is final


def test_times_out_with_the_last_status():
    last = status(True)
    with pytest.raises(ClusterNotReadyError, match=r"2 TaskManagers not reached in 0\.1 s") as info:
        wait_until_ready(FakeClient([last]), cluster_ready(2), timeout_s=0.1, what="2 TaskManagers", poll_s=0.02)
    assert info.value.status is last
