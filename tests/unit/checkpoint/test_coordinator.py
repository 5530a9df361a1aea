"""The CheckpointCoordinator's protocol and the sources' CheckpointScheduler, without Redis."""

from strom.checkpoint.config import CheckpointConfig
from strom.checkpoint.coordinator import CheckpointCoordinator
from strom.checkpoint.scheduler import JOIN, START, CheckpointScheduler


class MemoryCheckpointStore:
    """The CheckpointStore interface over dicts (the Redis one is exercised by integration tests).

    :meth:`complete` stands in for the task whose ack completes a checkpoint in Redis.
    """

    def __init__(self):
        self.counter, self.completed, self.failed, self.discarded = 0, {}, [], []
        self.acks = {}  # checkpoint id -> execution ids, as the tasks' acks left them in Redis

    def claim(self, generation, known_id, now_ms, timeout_ms, join=True, savepoint=False, stop=False):
        self.counter += 1
        return self.counter

    def complete(self, checkpoint_id, size=0):
        self.completed[checkpoint_id] = {"id": checkpoint_id, "state-size": size}

    def metadata(self, checkpoint_id):
        return self.completed.get(checkpoint_id)

    def retain(self, num_retained, keep=frozenset()):
        ids = sorted(self.completed)
        for old in ids[:-num_retained]:
            if old not in keep:
                del self.completed[old]

    def acked(self, checkpoint_id):
        return self.acks.get(checkpoint_id, set())

    def discard_abandoned(self, below=None):
        self.discarded.append(below)

    def record_failure(self, checkpoint_id, reason):
        self.failed.append((checkpoint_id, reason))

    def failures(self):
        return [{"id": i, "reason": r} for i, r in reversed(self.failed)]


def coordinator(**config):
    store = MemoryCheckpointStore()
    events = []
    c = CheckpointCoordinator(CheckpointConfig(**{"interval_ms": 100, **config}), store,
                              trigger=lambda n, ts, sp: events.append(("trigger", n, sp)),
                              notify=lambda n: events.append(("notify", n)),
                              fail_job=lambda reason: events.append(("fail", reason)),
                              generation=lambda: 0)
    return c, store, events


TASKS = {"v1[0]#0", "v2[0]#0"}


def ack_all(c, store, checkpoint_id, now_ms, tasks=sorted(TASKS)):
    """Every task acks; the last one's ack completed the checkpoint in Redis."""
    for i, task in enumerate(tasks):
        last = i == len(tasks) - 1
        if last:
            store.complete(checkpoint_id, size=10)
        c.acknowledge(checkpoint_id, last, now_ms)


def test_follows_checkpoints_the_sources_started_and_notifies_on_completion():
    c, store, events = coordinator(num_retained=2)
    c.tick(1000, TASKS)
    assert c.pending is None and not events  # periodic checkpoints are the sources' business
    for n in (1, 2, 3):
        c.acknowledge(n, False, 1000 * n)
        assert c.pending.id == n
        c.acknowledge(n, False, 1000 * n + 1)  # a duplicate ack is harmless
        store.complete(n, size=20)
        c.acknowledge(n, True, 1000 * n + 5)
        assert c.pending is None and c.latest["id"] == n
    assert sorted(store.completed) == [2, 3]  # retention
    assert events == [("notify", 1), ("notify", 2), ("notify", 3)]
    assert c.counts == {"completed": 3, "failed": 0}


def test_a_newer_checkpoint_supersedes_the_pending_one_without_counting_a_failure():
    c, store, events = coordinator()
    c.acknowledge(4, False, 1000)
    c.acknowledge(5, False, 1100)
    assert c.pending.id == 5 and c.counts["failed"] == 0
    assert store.discarded == []  # 4 may still complete: its snapshots stay until a newer one did
    c.acknowledge(4, False, 1200)  # late ack of the superseded one: ignored
    assert c.pending.id == 5
    store.complete(4)
    c.acknowledge(4, True, 1201)  # ...unless it completed after all
    assert c.latest["id"] == 4 and c.pending.id == 5 and events == [("notify", 4)]
    ack_all(c, store, 5, 1300)
    assert store.discarded == [4, 5]  # each completion deletes what started before it and did not complete


def test_timeout_and_decline_abort_and_fail_beyond_tolerance():
    c, store, events = coordinator(timeout_ms=50, tolerable_failures=1)
    c.acknowledge(1, False, 1000)
    store.acks[1] = {"v1[0]#0"}
    c.tick(1051, TASKS)
    assert c.pending is None
    assert store.failed[0][1] == "checkpoint 1 expired after 50 ms waiting for ['v2[0]#0']"
    c.acknowledge(2, False, 2000)
    c.decline("v2[0]#0", 2, "redis down")
    assert ("fail", "exceeded tolerable checkpoint failures (1): checkpoint 2 declined by v2[0]#0: "
            "redis down") in events
    c.acknowledge(2, False, 2001)  # late ack of an aborted checkpoint: ignored
    assert c.pending is None


def test_savepoint_waits_for_the_pending_checkpoint_and_is_kept():
    c, store, events = coordinator(num_retained=1)
    c.acknowledge(1, False, 1000)
    store.counter = 1
    request = c.request_savepoint()
    c.tick(1001, TASKS)
    assert c.pending.id == 1 and c.savepoints[request]["status"] == "IN_PROGRESS"
    ack_all(c, store, 1, 1002)
    c.tick(1003, TASKS)
    assert events[-1] == ("trigger", 2, True)
    ack_all(c, store, 2, 1004)
    assert c.savepoints[request] == {"status": "COMPLETED", "checkpoint-id": 2}
    ack_all(c, store, 3, 1201)
    assert sorted(store.completed) == [2, 3]  # the savepoint outlives retention


def test_a_savepoint_is_followed_until_it_completes_even_when_a_newer_checkpoint_started():
    c, store, events = coordinator(tolerable_failures=0)
    store.counter = 0
    request = c.request_savepoint(stop=True)
    c.tick(1000, TASKS)
    assert c.savepoint.id == 1 and events == [("trigger", 1, True)]
    c.acknowledge(2, False, 1100)          # a source started 2 before the JobManager saw 1 complete
    store.complete(1)
    c.acknowledge(1, True, 1101)
    assert c.savepoints[request]["status"] == "COMPLETED" and c.savepoint is None
    assert c.counts["failed"] == 0 and not [e for e in events if e[0] == "fail"]


def test_a_savepoint_whose_completing_ack_was_lost_completes_at_its_timeout():
    c, store, _events = coordinator(timeout_ms=50)
    request = c.request_savepoint()
    c.tick(1000, TASKS)
    store.complete(1)                      # completed in Redis; the JobManager never heard
    c.tick(1051, TASKS)
    assert c.savepoints[request]["status"] == "COMPLETED" and c.latest["id"] == 1


def test_the_final_checkpoint_supersedes_a_periodic_one():
    c, store, events = coordinator()
    c.acknowledge(1, False, 1000)
    store.counter = 1
    assert c.trigger(1001) == 2 and c.pending.id == 2
    assert events == [("trigger", 2, False)] and c.counts["failed"] == 0


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
