"""The CheckpointCoordinator's protocol and the sources' CheckpointScheduler, without Redis.

The coordinator follows checkpoints in an InMemoryCheckpointStore: sources start them there
(:func:`start`) and the last task's ack completes them there (:func:`ack`), as in Redis.
"""

from strom.checkpoint.config import CheckpointConfig
from strom.checkpoint.coordinator import CheckpointCoordinator
from strom.checkpoint.memory_store import InMemoryCheckpointStore
from strom.checkpoint.scheduler import JOIN, START, CheckpointScheduler

TASKS = {"v1[0]#0", "v2[0]#0"}
FIRST, LAST = sorted(TASKS)


def coordinator(**config):
    store = InMemoryCheckpointStore()
    store.set_generation(0)
    events = []
    c = CheckpointCoordinator(CheckpointConfig(**{"interval_ms": 100, **config}), store,
                              trigger=lambda n, ts, sp: events.append(("trigger", n, sp)),
                              notify=lambda n: events.append(("notify", n)),
                              fail_job=lambda reason: events.append(("fail", reason)),
                              generation=lambda: 0)
    return c, store, events


def start(store, now_ms):
    """A source starts the next checkpoint (it took part in the newest one)."""
    return store.claim(0, store.progress()[0], now_ms, 60_000)


def ack(c, store, checkpoint_id, task, now_ms):
    """``task`` stores its ack; the coordinator hears of it (and whether it completed the checkpoint)."""
    c.acknowledge(checkpoint_id, store.acknowledge(0, checkpoint_id, task, 10, len(TASKS), now_ms), now_ms)


def ack_all(c, store, checkpoint_id, now_ms):
    for task in sorted(TASKS):
        ack(c, store, checkpoint_id, task, now_ms)


def test_follows_checkpoints_the_sources_started_and_notifies_on_completion():
    c, store, events = coordinator(num_retained=2)
    c.tick(1000, TASKS)
    assert c.pending is None and not events  # periodic checkpoints are the sources' business
    for n in (1, 2, 3):
        assert start(store, 1000 * n) == n
        ack(c, store, n, FIRST, 1000 * n)
        assert c.pending.id == n
        ack(c, store, n, FIRST, 1000 * n + 1)  # a duplicate ack is harmless
        ack(c, store, n, LAST, 1000 * n + 5)
        assert c.pending is None and c.latest["id"] == n
    assert store.completed_ids() == [2, 3]  # retention
    assert events == [("notify", 1), ("notify", 2), ("notify", 3)]
    assert c.counts == {"completed": 3, "failed": 0}


def test_a_newer_checkpoint_supersedes_the_pending_one_without_counting_a_failure():
    c, store, events = coordinator()
    older, newer = start(store, 1000), start(store, 1100)
    ack(c, store, older, FIRST, 1000)
    ack(c, store, newer, FIRST, 1100)
    assert c.pending.id == newer and c.counts["failed"] == 0
    ack(c, store, older, FIRST, 1200)  # late ack of the superseded one: ignored
    assert c.pending.id == newer
    ack(c, store, older, LAST, 1201)  # ...unless it completed after all
    assert c.latest["id"] == older and c.pending.id == newer and events == [("notify", older)]
    abandoned = start(store, 1250)
    ack(c, store, abandoned, FIRST, 1250)
    ack_all(c, store, newer, 1300)  # a late completion: the newest stays pending
    assert store.completed_ids() == [older, newer] and abandoned in store.info
    ack_all(c, store, start(store, 1400), 1400)
    assert abandoned not in store.info  # a completion deletes what started before it and never completed


def test_timeout_and_decline_abort_and_fail_beyond_tolerance():
    c, store, events = coordinator(timeout_ms=50, tolerable_failures=1)
    first = start(store, 1000)
    ack(c, store, first, FIRST, 1000)
    c.tick(1051, TASKS)
    assert c.pending is None
    assert store.failures()[0]["reason"] == f"checkpoint {first} expired after 50 ms waiting for ['{LAST}']"
    second = start(store, 2000)
    ack(c, store, second, FIRST, 2000)
    c.decline(LAST, second, "redis down")
    assert ("fail", f"exceeded tolerable checkpoint failures (1): checkpoint {second} declined by {LAST}: "
            "redis down") in events
    c.acknowledge(second, False, 2001)  # late ack of an aborted checkpoint: ignored
    assert c.pending is None


def test_savepoint_waits_for_the_pending_checkpoint_and_is_kept():
    c, store, events = coordinator(num_retained=1)
    ack(c, store, start(store, 1000), FIRST, 1000)
    request = c.request_savepoint()
    c.tick(1001, TASKS)
    assert c.pending.id == 1 and c.savepoints[request]["status"] == "IN_PROGRESS"
    ack_all(c, store, 1, 1002)
    c.tick(1003, TASKS)
    assert events[-1] == ("trigger", 2, True)
    ack_all(c, store, 2, 1004)
    assert c.savepoints[request] == {"status": "COMPLETED", "checkpoint-id": 2}
    ack_all(c, store, start(store, 1200), 1201)
    assert store.completed_ids() == [2, 3]  # the savepoint outlives retention


def test_a_savepoint_outlives_retention_by_a_coordinator_that_did_not_take_it():
    """After a JobManager failover the new leader's coordinator knows nothing of the savepoint;
    the store's metadata says what it is, so retention keeps it."""
    c, store, _events = coordinator(num_retained=1)
    c.request_savepoint()
    c.tick(1000, TASKS)
    ack_all(c, store, 1, 1001)
    assert store.metadata(1)["is-savepoint"]
    successor = CheckpointCoordinator(CheckpointConfig(interval_ms=100, num_retained=1), store,
                                      trigger=lambda *_: None, notify=lambda _n: None,
                                      fail_job=lambda _reason: None, generation=lambda: 0)
    for n in (2, 3, 4):
        ack_all(successor, store, start(store, 1000 * n), 1000 * n + 1)
    assert store.completed_ids() == [1, 4]


def test_a_savepoint_is_followed_until_it_completes_even_when_a_newer_checkpoint_started():
    c, store, events = coordinator(tolerable_failures=0)
    request = c.request_savepoint()
    c.tick(1000, TASKS)
    assert c.savepoint.id == 1 and events == [("trigger", 1, True)]
    ack(c, store, start(store, 1100), FIRST, 1100)  # a source started 2 before the JobManager saw 1 complete
    ack_all(c, store, 1, 1101)
    assert c.savepoints[request]["status"] == "COMPLETED" and c.savepoint is None
    assert c.counts["failed"] == 0 and not [e for e in events if e[0] == "fail"]


def test_nothing_starts_after_a_stop_with_savepoint():
    c, store, events = coordinator()
    c.request_savepoint(stop=True)
    c.tick(1000, TASKS)
    assert events == [("trigger", 1, True)]
    assert start(store, 1100) is None                # a source that joined it: nothing more to start
    assert store.claim(0, 0, 1100, 60_000) == 1       # one that has not: it can only join it


def test_a_savepoint_whose_completing_ack_was_lost_completes_at_its_timeout():
    c, store, _events = coordinator(timeout_ms=50)
    request = c.request_savepoint()
    c.tick(1000, TASKS)
    for task in sorted(TASKS):  # completed in the store; the JobManager never heard
        store.acknowledge(0, 1, task, 10, len(TASKS), 1001)
    c.tick(1051, TASKS)
    assert c.savepoints[request]["status"] == "COMPLETED" and c.latest["id"] == 1


def test_the_final_checkpoint_supersedes_a_periodic_one():
    c, store, events = coordinator()
    ack(c, store, start(store, 1000), FIRST, 1000)
    assert c.trigger(1001) == 2 and c.pending.id == 2
    assert events == [("trigger", 2, False)] and c.counts["failed"] == 0


def test_a_first_attempts_first_checkpoint_waits_the_interval_a_restarted_ones_starts_with_its_records():
    first = CheckpointScheduler(interval_ms=1000, min_pause_ms=0, timeout_ms=5000, idle_first_ms=3000, start_ms=0)
    assert first.due(10, started=-1, completed=-1, emitted=True) is None
    assert first.due(1000, started=-1, completed=-1, emitted=True) == START
    assert first.due(2999, started=-1, completed=-1, emitted=False) is None  # nothing emitted: idle_first_ms
    restarted = CheckpointScheduler(interval_ms=1000, min_pause_ms=0, timeout_ms=5000, idle_first_ms=3000,
                                    restarted=True, start_ms=0)
    assert restarted.due(10, started=-1, completed=-1, emitted=True) == START
    assert restarted.due(10, started=-1, completed=-1, emitted=False) is None


def test_source_scheduler_keeps_interval_min_pause_and_one_pending_and_recovers_from_timeouts():
    s = CheckpointScheduler(interval_ms=1000, min_pause_ms=500, timeout_ms=5000, idle_first_ms=3000, start_ms=0)
    assert s.due(0, started=4, completed=4, emitted=False) == JOIN      # 4: the previous attempt's
    s.cannot_join(4)
    assert s.due(2999, started=4, completed=4, emitted=False) is None
    assert s.due(3000, started=4, completed=4, emitted=False) == START  # idle: idle_first_ms
    s.started(5, 3000)
    assert s.due(4500, started=5, completed=4) is None                  # 5 still pending
    assert s.due(4600, started=5, completed=5) is None                  # completed: min pause
    assert s.due(5099, started=5, completed=5) is None
    assert s.due(5100, started=5, completed=5) == START
    s.started(6, 5100)
    assert s.due(10_099, started=6, completed=5) is None
    assert s.due(10_100, started=6, completed=5) == START               # 6 timed out: next one
    s.started(7, 10_100)
    s.started(6, 10_200)                                                # a late trigger of 6: ignored
    assert (s.last_id, s.last_started_ms) == (7, 10_100)
