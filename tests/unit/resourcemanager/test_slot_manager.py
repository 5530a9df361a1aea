import pytest

from strom.control.messages import SlotStatus, TaskManagerState
from strom.errors import NoSlotAvailableError
from strom.resourcemanager.slot_manager import SlotManager


def free(n):
    return [SlotStatus(i) for i in range(n)]


def test_heartbeat_timeout_marks_lost_once_and_shrinks_the_table():
    sm = SlotManager(heartbeat_timeout_s=5.0)
    sm.register("tm-a", "h", 1, free(2), now=0.0)
    sm.register("tm-b", "h", 2, free(2), now=0.0)
    assert sm.total_slots() == 4
    sm.report("tm-a", "h", 1, free(2), now=4.0)
    assert sm.expire(now=5.0) == []
    lost = sm.expire(now=5.5)
    assert [(tm.tm_id, silent) for tm, silent in lost] == [("tm-b", 5.5)]
    assert sm.expire(now=6.0) == []  # reported once
    assert sm.total_slots() == 2


def test_lost_taskmanager_heartbeat_is_refused_until_it_registers_again():
    sm = SlotManager(heartbeat_timeout_s=1.0)
    sm.register("tm-a", "h", 1, free(1), now=0.0)
    sm.expire(now=2.0)
    assert sm.report("tm-a", "h", 1, free(1), now=3.0) is False
    assert sm.total_slots() == 0
    sm.register("tm-a", "h", 1, free(1), now=3.0)
    assert sm.total_slots() == 1


def test_heartbeat_from_unknown_taskmanager_rebuilds_its_row():
    sm = SlotManager(heartbeat_timeout_s=5.0)
    busy = [SlotStatus(0, "a", "j")]
    assert sm.report("tm-x", "h", 9, busy, now=1.0)
    assert sm.total_slots() == 1 and sm.free_slot_count() == 0


def test_allocation_spreads_and_counts_pending_until_confirmed():
    sm = SlotManager(heartbeat_timeout_s=5.0)
    sm.register("tm-a", "h", 1, free(2), now=0.0)
    sm.register("tm-b", "h", 2, free(2), now=0.0)
    first = sm.allocate("j", "a1")
    second = sm.allocate("j", "a2")
    assert {first.tm_id, second.tm_id} == {"tm-a", "tm-b"}
    assert sm.free_slot_count() == 2
    # The TaskManager confirms through its report; a stale free report keeps it pending.
    sm.report(first.tm_id, "h", 1, free(2), now=0.5)
    assert sm.free_slot_count() == 2
    confirmed = free(2)
    confirmed[first.slot_index] = SlotStatus(first.slot_index, "a1", "j")
    sm.report(first.tm_id, "h", 1, confirmed, now=0.6)
    assert sm.free_slot_count() == 2
    sm.allocate("j", "a3")
    sm.allocate("j", "a4")
    with pytest.raises(NoSlotAvailableError, match="0 free of 4"):
        sm.allocate("j", "a5")


def test_rows_report_state_and_age():
    sm = SlotManager(heartbeat_timeout_s=5.0)
    sm.register("tm-a", "h", 1, free(1), now=0.0)
    (row,) = sm.rows(now=1.25)
    assert row.state is TaskManagerState.REGISTERED and row.last_heartbeat_age_ms == 1250


def test_a_new_process_registering_under_a_live_id_replaces_the_old_one_which_is_lost():
    sm = SlotManager(heartbeat_timeout_s=2.0)
    assert sm.register("tm-a", "h", 1, [SlotStatus(0, "alloc-1", "job")], now=0.0) is None
    assert sm.register("tm-a", "h", 1, [SlotStatus(0, "alloc-1", "job")], now=0.5) is None  # the same process
    replaced = sm.register("tm-a", "h", 7, free(1), now=1.0)  # kill -9, restarted before the timeout
    assert replaced is not None and replaced.pid == 1 and replaced.slots == [SlotStatus(0, "alloc-1", "job")]
    assert [tm.pid for tm in sm.registered()] == [7] and sm.free_slot_count() == 1
    sm.expire(now=5.0)
    assert sm.register("tm-a", "h", 8, free(1), now=6.0) is None  # already declared lost by timeout
    # A container restarts as PID 1 on the same host name: its random session tells it apart.
    sm.register("tm-b", "box", 1, free(1), now=7.0, session="first")
    assert sm.report("tm-b", "box", 1, free(1), now=7.5) and sm.task_managers["tm-b"].session == "first"
    assert sm.register("tm-b", "box", 1, free(1), now=8.0, session="second").session == "first"


def test_a_leader_that_knew_a_taskmanager_only_from_heartbeats_takes_its_reregistration_as_the_same_process():
    """A standby (or a leader started after the TaskManagers registered) learns them from
    heartbeats; their registration with it after a failover is no restart (it once was: every
    job on them restarted at the second ResourceManager failover)."""
    standby = SlotManager(heartbeat_timeout_s=2.0)
    assert standby.report("tm-a", "h", 1, [SlotStatus(0, "alloc-1", "job")], now=0.0, session="s1")
    assert standby.register("tm-a", "h", 1, [SlotStatus(0, "alloc-1", "job")], now=0.5, session="s1") is None
    old_heartbeat = SlotManager(heartbeat_timeout_s=2.0)  # heartbeats of a TaskManager sending no session
    old_heartbeat.report("tm-a", "h", 1, free(1), now=0.0)
    assert old_heartbeat.register("tm-a", "h", 1, free(1), now=0.5, session="s1") is None
    # ... while a container restarted as PID 1 is still told apart by its heartbeats' session.
    restarted = SlotManager(heartbeat_timeout_s=2.0)
    restarted.report("tm-b", "box", 1, free(1), now=0.0, session="first")
    restarted.report("tm-b", "box", 1, free(1), now=0.2, session="second")  # the new process's heartbeat
    assert restarted.register("tm-b", "box", 1, free(1), now=0.5, session="second").session == "first"
