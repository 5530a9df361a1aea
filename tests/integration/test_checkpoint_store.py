"""The Redis side of checkpoints without a JobManager: claims, acks, completion, cleanup (real Redis)."""

from __future__ import annotations

import uuid

import pytest

from strom.checkpoint.store import RedisCheckpointStore
from strom.config import Configuration
from strom.errors import CheckpointCorruptedError, StaleAttemptError
from strom.io.redis import LeaderFence, redis_client

TASKS = ["v1[0]#0", "v1[1]#0", "v2[0]#0"]


@pytest.fixture
def store(stack):
    client = redis_client(Configuration())
    cluster = f"test-{uuid.uuid4().hex[:10]}"
    store = RedisCheckpointStore(client, cluster, "job", LeaderFence(client, cluster, lambda: 1),
                                 vertices=[("v1", 2), ("v2", 1)], secret=b"test secret")
    store.set_generation(0)
    yield store
    client.delete(*client.keys(f"strom:{cluster}:*"))


def ack_all(store: RedisCheckpointStore, checkpoint_id: int, tasks=TASKS, generation=0) -> list[bool]:
    return [store.acknowledge(generation, checkpoint_id, task, 100, len(TASKS), 5000 + i)
            for i, task in enumerate(tasks)]


def test_sources_join_the_checkpoint_one_of_them_started(store: RedisCheckpointStore):
    first = store.claim(0, -1, 1000, 60_000)
    assert store.claim(0, -1, 1010, 60_000) == first            # a second source joins it
    assert store.claim(0, -1, 1020, 60_000, start=False) == first
    assert store.progress() == (first, -1, 0)
    assert store.claim(0, first, 1030, 60_000, start=False) is None  # nothing newer to join
    assert store.claim(0, -1, 1000 + 60_000, 60_000) == first + 1     # expired: not joined
    assert store.claim(0, first, 1040, 60_000, join=False) == first + 2  # the JobManager's: always new


def test_the_last_ack_completes_the_checkpoint_once(store: RedisCheckpointStore):
    n = store.claim(0, -1, 1000, 60_000)
    assert ack_all(store, n, TASKS[:2]) == [False, False]
    assert store.acknowledge(0, n, TASKS[0], 100, len(TASKS), 5100) is False  # a duplicate ack
    assert store.progress() == (n, -1, 0) and store.latest() is None
    assert ack_all(store, n, TASKS[2:]) == [True]
    # The completing ack again (redis-py retries a script whose reply was lost): still the completer.
    assert store.acknowledge(0, n, TASKS[2], 100, len(TASKS), 5200) is True
    assert store.acknowledge(0, n, TASKS[0], 100, len(TASKS), 5300) is False
    metadata = store.latest()
    assert metadata["id"] == n and metadata["trigger-time"] == 1000 and metadata["state-size"] == 300
    assert sorted(metadata["acks"]) == sorted(TASKS) and metadata["acks"]["v1[0]#0"]["ack_ms"] == 4000
    assert store.completed_ids() == [n] and store.progress() == (n, n, 0)


def test_latest_never_goes_back_when_an_older_checkpoint_completes_last(store: RedisCheckpointStore):
    old = store.claim(0, -1, 1000, 60_000)
    new = store.claim(0, old, 1100, 60_000, join=False)
    ack_all(store, new)
    ack_all(store, old)
    assert store.completed_ids() == [old, new] and store.latest()["id"] == new


def test_nothing_starts_after_a_stop_with_savepoint(store: RedisCheckpointStore):
    first = store.claim(0, -1, 1000, 60_000)
    ack_all(store, first)
    stop = store.claim(0, first, 2000, 60_000, join=False, savepoint=True, stop=True)
    assert store.claim(0, first, 2100, 60_000) == stop             # a source joins it
    assert store.claim(0, stop, 2200, 60_000) is None              # but starts nothing after it
    ack_all(store, stop)
    assert store.claim(0, stop, 9000, 60_000) is None              # completed: the job is stopping
    with pytest.raises(RuntimeError, match="being stopped"):
        store.claim(0, stop, 9000, 60_000, join=False)
    assert store.latest()["is-savepoint"] is True


def test_a_failed_stop_with_savepoint_lets_checkpoints_go_on(store: RedisCheckpointStore):
    stop = store.claim(0, -1, 1000, 60_000, join=False, savepoint=True, stop=True)
    assert store.claim(0, stop, 1000 + 60_000, 60_000) == stop + 1  # expired without completing


def test_another_attempt_can_neither_start_nor_ack(store: RedisCheckpointStore):
    n = store.claim(0, -1, 1000, 60_000)
    ack_all(store, n, TASKS[:2])
    store.set_generation(1)  # the JobManager restarts the job
    assert store.progress()[2] == 1  # what the old attempt's tasks see, and stop on
    with pytest.raises(StaleAttemptError, match="attempt 0 is not the job's current one"):
        store.acknowledge(0, n, TASKS[2], 100, len(TASKS), 5000)
    with pytest.raises(StaleAttemptError):
        store.claim(0, n, 1100, 60_000)
    assert store.latest() is None
    m = store.claim(1, -1, 1200, 60_000)  # the new attempt does not join the old attempt's checkpoint
    assert m == n + 1
    with pytest.raises(StaleAttemptError):  # nor acks a checkpoint it did not start
        store.acknowledge(1, n, "v1[0]#1", 100, len(TASKS), 5000)


def test_a_completion_discards_the_older_checkpoints_that_never_completed(store: RedisCheckpointStore):
    kept = store.claim(0, -1, 1000, 60_000)
    ack_all(store, kept)
    abandoned = store.claim(0, kept, 2000, 60_000)
    store.write_snapshot(abandoned, "v1", 0, {"offsets": b"{}"})
    store.acknowledge(0, abandoned, TASKS[0], 2, len(TASKS), 2100)
    newest = store.claim(0, abandoned, 3000, 60_000, join=False)
    ack_all(store, newest)
    assert store.discard_abandoned(below=newest) == [abandoned]
    assert store.acked(abandoned) == set() and not store.redis.exists(store.snapshot_key(abandoned, "v1", 0))
    assert store.completed_ids() == [kept, newest] and store.acked(kept) == set(TASKS)


def test_a_job_started_from_a_savepoint_numbers_its_checkpoints_after_it(store: RedisCheckpointStore):
    """Epochs its exactly-once sinks re-commit from the savepoint stay below the job's own."""
    store.set_generation(0, ids_after=57)
    assert store.claim(0, -1, 1000, 60_000) == 58
    store.set_generation(1, ids_after=57)  # a restart keeps the counter where it is
    assert store.claim(1, 58, 2000, 60_000) == 59


def test_a_snapshot_changed_outside_strom_fails_its_seal_and_is_never_returned(store: RedisCheckpointStore):
    store.write_snapshot(5, "v2", 0, {"offsets": b"{}", "kg:3": b"state"})
    assert store.read_vertex(5, "v2", 1) == [{b"offsets": b"{}", b"kg:3": b"state"}]
    key = store.snapshot_key(5, "v2", 0)
    for change in ({"kg:3": b"evil pickle"}, {"kg:4": b"added"}):
        store.redis.hset(key, mapping=change)
        with pytest.raises(CheckpointCorruptedError, match=r"checkpoint 5: snapshot of task v2\[0\] fails its HMAC"):
            store.read_vertex(5, "v2", 1)
        store.write_snapshot(5, "v2", 0, {"offsets": b"{}", "kg:3": b"state"})
    other = RedisCheckpointStore(store.redis, "x", "job", secret=b"another secret")
    other.prefix = store.prefix
    with pytest.raises(CheckpointCorruptedError, match="another cluster secret"):
        other.read_vertex(5, "v2", 1)
