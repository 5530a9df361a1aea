"""Checkpoints, exactly-once output and recovery, on the real stack.

The oracle: WordCount emits one running count per word occurrence, so with
exactly-once output the committed records of a word are exactly 1..n, each
once, where n is the word's count in the input. Anything lost or duplicated
breaks that.
"""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from strom.checkpoint.store import RedisCheckpointStore
from strom.client.jobs import JobClient
from strom.config import KafkaOptions
from strom.coordination.leader_election import current_leader
from strom.io.redis import redis_client

from .conftest import TestCluster
from .test_wordcount import JOBS, WORDCOUNT, produce, read_all

ROOT = Path(__file__).resolve().parents[2]
WORD = re.compile(r"[^\W\d_]+")


def corpus(words: int) -> list[bytes]:
    """``words`` real words, one per line: this repository's text, repeated."""
    # Only source folders: walking the checkout would race with Kafka's data under .strom/.
    sources = [p for folder in ("libs", "services", "examples", "bench") for p in sorted((ROOT / folder).rglob("*.py"))]
    text = " ".join(p.read_text() for p in [*sources, ROOT / "README.md"])
    vocabulary = WORD.findall(text.lower())
    return [vocabulary[i % len(vocabulary)].encode() for i in range(words)]


def assert_exactly_once(records, lines: list[bytes]) -> None:
    expected = Counter(line.decode() for line in lines)
    got: dict[str, list[int]] = defaultdict(list)
    for record in records:
        got[record.key().decode()].append(int(record.value()))
    wrong = {}
    for word in set(expected) | set(got):
        counts = Counter(got.get(word, []))
        missing = [n for n in range(1, expected[word] + 1) if n not in counts]
        duplicated = sorted(n for n, times in counts.items() if times > 1 or not 1 <= n <= expected[word])
        if missing or duplicated:
            wrong[word] = (f"expected 1..{expected[word]}, {len(missing)} missing {missing[:8]}, "
                           f"{len(duplicated)} duplicated {duplicated[:8]}")
    assert not wrong, f"{len(wrong)} words lost or duplicated: {list(wrong.items())[:10]}"
    assert len(records) == len(lines)


class Job:
    """A WordCount run in the background with checkpoints every 500 ms."""

    def __init__(self, cluster: TestCluster, lines: list[bytes], *extra: str, interval_ms: int = 500,
                 partitions: int = 2, filled: int | None = None) -> None:
        self.cluster = cluster
        self.bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
        run = uuid.uuid4().hex[:8]
        self.source, self.sink, self.dlq = f"cp-in-{run}", f"cp-out-{run}", f"cp-dlq-{run}"
        self.lines = lines
        produce(self.bootstrap, self.source, lines, partitions, filled)
        self.args = ["--input", self.source, "--output", self.sink, "--dead-letter-topic", self.dlq,
                     "--checkpoint-interval", str(interval_ms), *extra]
        self.client = JobClient(cluster.config)
        self.job_id = self.submit()

    def submit(self, *options: str) -> str:
        result = self.cluster.strom("run", "-d", "-p", "2", *options, WORDCOUNT, "--", *self.args)
        assert result.returncode == 0, result.stdout + result.stderr
        return re.search(r"JobID (\w+)", result.stdout).group(1)

    def wait_checkpoints(self, completed: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while self.client.checkpoints(self.job_id)["counts"].get("completed", 0) < completed:
            assert time.monotonic() < deadline, f"fewer than {completed} checkpoints in {timeout_s} s"
            time.sleep(0.05)

    def details(self) -> dict:
        return self.client.details(self.job_id)

    def wait(self, timeout_s: float = 120) -> dict:
        details = self.client.wait(self.job_id, timeout_s=timeout_s)
        assert details["state"] == "FINISHED", f"{details}\n{self.cluster.logs()}"
        return details


@pytest.fixture
def lines() -> list[bytes]:
    return corpus(300_000)


@pytest.mark.parametrize("interval_ms, after_checkpoints", [(500, 1), (200, 2)])
def test_taskmanager_kill_mid_job_keeps_output_exactly_once(cluster: TestCluster, lines, interval_ms,
                                                            after_checkpoints):
    cluster.start_standard(task_managers=2, slots=2)
    job = Job(cluster, lines, interval_ms=interval_ms)
    job.wait_checkpoints(after_checkpoints)
    assert job.details()["state"] == "RUNNING"
    cluster.local.signal("taskmanager-2", signal.SIGKILL)
    cluster.start("taskmanager-3", "--slots", "2")
    details = job.wait()
    assert details["restarts"] >= 1 and "taskmanager-2 lost" in details["failures"][0]
    assert details["restored-checkpoint"] is not None
    assert_exactly_once(read_all(job.bootstrap, job.sink), lines)


@pytest.mark.parametrize("buffer_timeout_ms, words", [(60_000, 100_000), (0, 60_000)],
                         ids=["buffers-leave-only-full-or-before-a-barrier", "a-record-per-element"])
def test_taskmanager_kill_keeps_output_exactly_once_whatever_the_buffer_timeout(cluster: TestCluster, lines,
                                                                               buffer_timeout_ms, words):
    """60 s: no buffer goes out for its age, so every barrier finds open buffers in (nearly) every
    one of the 128 partitions, sends them first and the checkpoint's offsets fall between them.
    0: a Kafka record per element, a barrier between any two."""
    cluster.start_standard(task_managers=2, slots=2)
    # A steady 20,000 lines/s, so the kill falls mid-job.
    job = Job(cluster, lines[:words], "--buffer-timeout", str(buffer_timeout_ms), "--rate-limit", "20000")
    job.wait_checkpoints(2)
    cluster.local.signal("taskmanager-2", signal.SIGKILL)
    cluster.start("taskmanager-3", "--slots", "2")
    details = job.wait()
    assert details["restarts"] >= 1 and details["restored-checkpoint"] is not None
    assert_exactly_once(read_all(job.bootstrap, job.sink), lines[:words])


@pytest.mark.parametrize("step", ["after-barrier", "after-snapshot", "after-ack",
                                  "sink-before-commit", "sink-during-commit"])
def test_crash_at_each_step_of_the_checkpoint_protocol(cluster: TestCluster, lines, step):
    cluster.start_standard(task_managers=2, slots=2, tm_env={2: {"STROM_FAULT_INJECT": f"{step}:2"}})
    job = Job(cluster, lines)
    details = job.wait()
    log = (cluster.local.log_dir / "taskmanager-2.log").read_text()
    assert f"fault injection: dying at {step}" in log
    assert details["restarts"] >= 1
    assert_exactly_once(read_all(job.bootstrap, job.sink), lines)


def test_zombie_taskmanager_cannot_change_output_or_checkpoints(cluster: TestCluster, lines):
    cluster.start_standard(task_managers=2, slots=2)
    job = Job(cluster, lines)
    job.wait_checkpoints(1)
    cluster.local.signal("taskmanager-2", signal.SIGSTOP)
    deadline = time.monotonic() + 30
    while job.details()["restarts"] < 1 or job.details()["state"] != "RUNNING":
        assert time.monotonic() < deadline, "job did not restart without the paused TaskManager"
        time.sleep(0.1)
    cluster.local.signal("taskmanager-2", signal.SIGCONT)  # the zombie wakes up mid-job
    details = job.wait()
    assert_exactly_once(read_all(job.bootstrap, job.sink), lines)
    latest = job.client.checkpoints(job.job_id)["latest"]["completed"]
    assert latest is not None and all(execution.endswith(f"#{details['restarts']}")
                                      for execution in latest["acks"])
    cluster.wait_for(lambda s: any(r["tm_id"] == "taskmanager-2" and r["state"] == "REGISTERED"
                                   for r in s.slot_table()), 15.0, "zombie re-registered")
    assert "disconnected by resourcemanager" in (cluster.local.log_dir / "taskmanager-2.log").read_text()


def test_exhausted_restart_strategy_fails_the_job_with_the_cause(cluster: TestCluster):
    cluster.start_standard(task_managers=2, slots=2)
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    source, sink = f"poison-{uuid.uuid4().hex[:8]}", f"poison-out-{uuid.uuid4().hex[:8]}"
    produce(bootstrap, source, [b"fine", b"poison", b"fine"], partitions=1)
    result = cluster.strom("run", str(JOBS / "failing_map.py"), "--", source, sink, "--restarts", "2")
    assert result.returncode == 1
    job_id = re.search(r"JobID (\w+)", result.stdout).group(1)
    details = JobClient(cluster.config).details(job_id)
    assert details["state"] == "FAILED" and details["restarts"] == 2
    assert "cannot digest poison" in details["error"]
    assert f"on the record at {source}/0/1" in details["error"], details["error"]
    assert "fixed-delay restart strategy exhausted after 2 restarts" in details["error"]


def test_savepoint_cancel_and_resume_continues_exactly_once(cluster: TestCluster, lines):
    cluster.start_standard(task_managers=2, slots=2)
    first, second = lines[:100_000], lines[100_000:150_000]
    job = Job(cluster, first, "--unbounded")
    deadline = time.monotonic() + 60
    while len(read_all(job.bootstrap, job.sink)) < len(first):
        assert time.monotonic() < deadline, "first half not committed"
        time.sleep(0.3)
    result = cluster.strom("cancel", "--savepoint", job.job_id)
    assert result.returncode == 0, result.stderr
    savepoint = re.search(r"savepoint: (\S+)", result.stdout).group(1)
    assert job.details()["state"] == "CANCELED"

    produce(job.bootstrap, job.source, second)
    job.args.remove("--unbounded")
    job.job_id = job.submit("--from-savepoint", savepoint)
    job.wait()
    assert_exactly_once(read_all(job.bootstrap, job.sink), first + second)


def intermediate_watermarks(cluster: TestCluster, job_id: str) -> dict[tuple[str, int], tuple[int, int]]:
    """(low, high) watermark of every partition of the job's intermediate topics."""
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    prefix = f"strom.{cluster.cluster_id}.job.{job_id}."
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"watermarks-{uuid.uuid4().hex[:8]}"})
    try:
        topics = consumer.list_topics(timeout=10).topics
        return {(name, p): consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                for name, meta in topics.items() if name.startswith(prefix) for p in meta.partitions}
    finally:
        consumer.close()


def test_intermediate_topics_are_trimmed_behind_completed_checkpoints(cluster: TestCluster, lines):
    """An unbounded job: every intermediate partition keeps only what its readers took in after the
    newest completed checkpoint (no restore reads below it: a restored attempt starts at the
    partition ends), so the disk of a job that runs for weeks is bounded (Kafka Streams' purge)."""
    cluster.start_standard(task_managers=2, slots=2)
    words = lines[:50_000]
    job = Job(cluster, words, "--unbounded", interval_ms=200)
    deadline = time.monotonic() + 60
    while len(read_all(job.bootstrap, job.sink)) < len(words):
        assert time.monotonic() < deadline, "input not committed"
        time.sleep(0.3)
    job.wait_checkpoints(job.client.checkpoints(job.job_id)["counts"]["completed"] + 3)
    time.sleep(1.0)  # the JobManager's delete_records requests are asynchronous
    store = RedisCheckpointStore(redis_client(cluster.config), cluster.cluster_id, job.job_id)
    oldest = store.completed_ids()[0]
    vertices = [(v["id"], v["parallelism"]) for v in job.details()["vertices"]]
    restored_from = store.input_offsets(oldest, vertices)
    watermarks = intermediate_watermarks(cluster, job.job_id)
    # Elements travel in network buffers: far fewer Kafka records than words, but some.
    assert watermarks and 0 < sum(high for _low, high in watermarks.values()) < len(words)
    for partition, (low, high) in watermarks.items():
        if partition in restored_from:
            assert low >= restored_from[partition] or low == high, (partition, low, restored_from[partition])
    retained = sum(high - low for low, high in watermarks.values())
    # What is left: the barriers of the checkpoints since the last trim, a few per partition.
    assert retained <= 10 * len(watermarks), (retained, len(watermarks))
    cluster.strom("cancel", job.job_id)


def test_what_an_ended_job_leaves_is_deleted_but_its_savepoint(tmp_path, stack, lines):
    """After cancel no intermediate topic of the job remains; after jobstore.expiration-time no Redis
    key of it but what its savepoint points to, and after disposal nothing."""
    cluster = TestCluster(tmp_path, STROM_JOBSTORE_EXPIRATION_TIME="1000", STROM_JOBSTORE_CLEANUP_INTERVAL="300")
    try:
        cluster.start_standard(task_managers=2, slots=2)
        job = Job(cluster, lines[:20_000], "--unbounded")
        job.wait_checkpoints(2)
        savepoint = cluster.strom("savepoint", job.job_id).stdout.strip()
        assert cluster.strom("cancel", job.job_id).returncode == 0
        r = redis_client(cluster.config)
        prefix = f"strom:{cluster.cluster_id}:job:{job.job_id}"
        deadline = time.monotonic() + 30
        while intermediate_watermarks(cluster, job.job_id) or job.job_id in cluster.strom("list").stdout:
            assert time.monotonic() < deadline, "topics or the job still there 30 s after cancel"
            time.sleep(0.3)
        checkpoint = int(savepoint.rsplit("-", 1)[1])
        left = sorted(k.decode() for k in r.scan_iter(f"{prefix}*"))
        assert left and all(k.startswith(f"{prefix}:chk:{checkpoint}:") or k == f"{prefix}:checkpoint:{checkpoint}"
                            for k in left), left
        assert cluster.strom("savepoint", "--dispose", savepoint).returncode == 0
        assert list(r.scan_iter(f"{prefix}*")) == []
    finally:
        cluster.close()


def test_a_savepoint_outlives_a_jobmanager_failover_and_later_checkpoints(cluster: TestCluster, lines):
    """A savepoint taken without cancel is the user's: a new JobManager leader that never heard of
    it retains checkpoints around it, and resuming from it later is exactly-once."""
    cluster.start_standard(task_managers=2, slots=2)
    cluster.start("jobmanager-2")
    first, second = lines[:50_000], lines[50_000:80_000]
    job = Job(cluster, first, "--unbounded")
    deadline = time.monotonic() + 60
    while len(read_all(job.bootstrap, job.sink)) < len(first):
        assert time.monotonic() < deadline, "first part not committed"
        time.sleep(0.3)
    result = cluster.strom("savepoint", job.job_id)
    assert result.returncode == 0, result.stderr
    savepoint = result.stdout.strip()
    taken = job.client.checkpoints(job.job_id)["counts"]["completed"]

    zk = cluster.client.zk
    old = current_leader(zk, cluster.config, "JOBMANAGER")
    cluster.local.signal(old.id, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (new := current_leader(zk, cluster.config, "JOBMANAGER")) is None or new.id == old.id:
        assert time.monotonic() < deadline, "no new JobManager leader"
        time.sleep(0.1)
    job.client = JobClient(cluster.config)  # the new leader's REST address
    job.wait_checkpoints(3)  # counted by the new leader, which retains 2 of them
    listed = cluster.strom("savepoint", "--list")
    assert listed.returncode == 0 and savepoint in listed.stdout, listed.stdout + listed.stderr
    assert job.client.checkpoints(job.job_id)["latest"]["completed"]["id"] > taken

    assert cluster.strom("cancel", job.job_id).returncode == 0
    produce(job.bootstrap, job.source, second)
    job.args.remove("--unbounded")
    job.job_id = job.submit("--from-savepoint", savepoint)
    job.wait()
    assert_exactly_once(read_all(job.bootstrap, job.sink), first + second)

    disposed = cluster.strom("savepoint", "--dispose", savepoint)
    assert disposed.returncode == 0, disposed.stderr
    assert savepoint not in cluster.strom("savepoint", "--list").stdout
    again = cluster.strom("savepoint", "--dispose", savepoint)
    assert again.returncode == 1 and f"savepoint {savepoint} not found" in again.stderr


@pytest.mark.parametrize("damage", ["delete", "garble"])
def test_corrupt_snapshot_falls_back_to_the_previous_checkpoint(cluster: TestCluster, lines, damage):
    cluster.start_standard(task_managers=2, slots=2)
    job = Job(cluster, lines)
    job.wait_checkpoints(2)
    cluster.local.signal("taskmanager-2", signal.SIGSTOP)  # no checkpoint completes from here on
    time.sleep(1.0)
    latest = job.client.checkpoints(job.job_id)["latest"]["completed"]["id"]
    r = redis_client(cluster.config)
    key = f"strom:{cluster.cluster_id}:job:{job.job_id}:chk:{latest}:v2:0"
    if damage == "delete":
        r.delete(key)
    else:
        field = next(f for f in r.hkeys(key) if f.startswith(b"kg:"))
        r.hset(key, field, b"not a pickle")
    details = job.client.wait(job.job_id, timeout_s=120)
    cluster.local.signal("taskmanager-2", signal.SIGKILL)
    assert details["restored-checkpoint"] < latest
    assert any(f"checkpoint {latest}" in failure and "v2" in failure for failure in details["failures"]), \
        details["failures"]
    if details["state"] == "FAILED":
        # A sink committed epoch `latest` before the pause: replaying from the older checkpoint
        # would write that output again, so the job fails and says so instead.
        assert f"Kafka holds output up to epoch {latest}" in details["error"], details["error"]
        assert f"newer than checkpoint {details['restored-checkpoint']} restored" in details["error"]
        # No restart loop: the failure is unrecoverable, so it is reported once.
        assert sum("Kafka holds output up to epoch" in f for f in details["failures"]) == 1, details["failures"]
    else:
        assert details["state"] == "FINISHED", details
        assert_exactly_once(read_all(job.bootstrap, job.sink), lines)
