"""Jobs end to end on the real stack: WordCount vs a plain-Python oracle, failures, cancel, DLQ."""

from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer

from strom.client.jobs import JobClient
from strom.config import KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics, read_to_end
from strom.io.kafka import produce as produce_record

from .conftest import TestCluster

ROOT = Path(__file__).resolve().parents[2]
WORDCOUNT = str(ROOT / "examples" / "wordcount.py")
JOBS = Path(__file__).parent / "jobs"
WORD = re.compile(r"[^\W\d_]+")


def text_lines() -> list[bytes]:
    """A few thousand real lines: the stored text of DESIGN.md and this repo's sources, plus Unicode."""
    lines = []
    for path in sorted((ROOT / "libs" / "strom").rglob("*.py")):
        lines += path.read_bytes().splitlines()
    lines += ["Straße über Ärger, ÉCOLE école — naïve façade".encode(), "Ἐν ἀρχῇ ἦν ὁ λόγος".encode()]
    return lines


def oracle(lines: list[bytes]) -> Counter:
    counts = Counter()
    for raw in lines:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue  # goes to the dead-letter topic, not into the counts
        counts.update(WORD.findall(text.lower()))
    return counts


def produce(bootstrap: str, topic: str, values: list[bytes], partitions: int = 2, filled: int | None = None) -> None:
    """Create ``topic`` with ``partitions`` partitions and produce ``values`` round-robin to its
    first ``filled`` (default: all); not the sticky partitioner, which may leave one empty."""
    ensure_topics(bootstrap, [TopicSpec(topic, partitions)])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, value in enumerate(values):
        produce_record(producer, topic, value, partition=i % (filled or partitions))
    assert producer.flush(30) == 0


def read_all(bootstrap: str, topic: str) -> list:
    return read_to_end(bootstrap, topic, timeout_s=60)


def final_counts(records) -> dict[str, int]:
    counts = {}
    for record in records:
        counts[record.key().decode()] = int(record.value())
    return counts


@pytest.fixture
def running(cluster: TestCluster) -> TestCluster:
    cluster.start_standard(task_managers=2, slots=2)
    return cluster


def names(cluster: TestCluster, prefix: str) -> tuple[str, str, str]:
    run = uuid.uuid4().hex[:8]
    return f"{prefix}-in-{run}", f"{prefix}-out-{run}", f"{prefix}-dlq-{run}"


@pytest.mark.parametrize("parallelism", [1, 2])
def test_wordcount_equals_the_oracle(running: TestCluster, parallelism: int):
    bootstrap = running.config.get(KafkaOptions.BOOTSTRAP)
    lines = text_lines()
    assert len(lines) > 2000
    source, sink, dlq = names(running, "wc")
    produce(bootstrap, source, lines)
    result = running.strom("run", "-p", str(parallelism), WORDCOUNT, "--", "--input", source,
                           "--output", sink, "--dead-letter-topic", dlq)
    assert result.returncode == 0, result.stdout + result.stderr + running.logs()
    assert "FINISHED" in result.stdout
    records = read_all(bootstrap, sink)
    expected = oracle(lines)
    assert final_counts(records) == dict(expected)
    assert len(records) == sum(expected.values())  # one running count per word occurrence
    # The sink places keyed records as Java producers do (murmur2): each word in one partition.
    partitions: dict[bytes, set[int]] = {}
    for record in records:
        partitions.setdefault(record.key(), set()).add(record.partition())
    assert all(len(p) == 1 for p in partitions.values())


def test_invalid_utf8_goes_to_the_dead_letter_topic_and_the_rest_is_counted(running: TestCluster):
    bootstrap = running.config.get(KafkaOptions.BOOTSTRAP)
    lines = [b"in the beginning", b"bad \xff\xfe bytes", b"the word was", b"\xc3\x28 also bad", b"the end"]
    source, sink, dlq = names(running, "dlq")
    produce(bootstrap, source, lines, partitions=1)
    result = running.strom("run", "-p", "2", WORDCOUNT, "--", "--input", source, "--output", sink,
                           "--dead-letter-topic", dlq)
    assert result.returncode == 0, result.stdout + result.stderr
    assert final_counts(read_all(bootstrap, sink)) == {"in": 1, "the": 3, "beginning": 1, "word": 1,
                                                        "was": 1, "end": 1}
    dead = read_all(bootstrap, dlq)
    assert sorted(r.value() for r in dead) == sorted([b"\xc3\x28 also bad", b"bad \xff\xfe bytes"])
    for record in dead:
        headers = dict(record.headers())
        assert headers["strom.error"].startswith(b"UnicodeDecodeError")
        assert headers["strom.source"] == f"{source}/0/{lines.index(record.value())}".encode()


def test_user_function_error_fails_the_job_with_the_record_position(running: TestCluster):
    bootstrap = running.config.get(KafkaOptions.BOOTSTRAP)
    source, sink, _dlq = names(running, "fail")
    produce(bootstrap, source, [b"fine", b"also fine", b"poison", b"never"], partitions=1)
    result = running.strom("run", str(JOBS / "failing_map.py"), "--", source, sink)
    assert result.returncode == 1
    assert "FAILED" in result.stdout
    assert "ValueError: cannot digest poison" in result.stderr
    assert f"on the record at {source}/0/2" in result.stderr
    job_id = re.search(r"JobID (\w+)", result.stdout).group(1)
    status = running.strom("status", job_id)
    assert "FAILED" in status.stdout and "cannot digest poison" in status.stdout
    running.wait_for(lambda s: s.registered_slots() == (4, 4), 10.0, "slots freed after failure")


@pytest.mark.parametrize("policy", ["fail", "dead-letter"])
def test_a_record_the_sink_topic_cannot_take_follows_the_error_policy(running: TestCluster, policy: str):
    """An AT_LEAST_ONCE sink whose topic takes batches of at most 200 bytes: the 300-byte record is
    refused when collected (before delivery reports, the job FINISHED with it missing). FAIL: the
    job fails naming it; DEAD_LETTER: it is in the dead-letter topic with the reason, every other
    record in the output (batches stay within the topic's limit)."""
    bootstrap = running.config.get(KafkaOptions.BOOTSTRAP)
    source, sink, dlq = names(running, "refused")
    ensure_topics(bootstrap, [TopicSpec(sink, 1, {"max.message.bytes": "200"})])
    lines = [f"line {i}".encode() for i in range(40)]
    lines.insert(17, b"y" * 300)
    produce(bootstrap, source, lines, partitions=1)
    result = running.strom("run", str(JOBS / "failing_map.py"), "--", source, sink, "--error-policy", policy,
                           "--dead-letter-topic", dlq)
    reason = "over the 200 bytes the topic takes (max.message.bytes)"
    if policy == "fail":
        assert result.returncode == 1, result.stdout + result.stderr
        assert reason in result.stderr and f"on the record at {source}/0/17" in result.stderr, result.stderr
        return
    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.value() for r in read_all(bootstrap, sink)] == [line.upper() for line in lines if len(line) < 300]
    (dead,) = read_all(bootstrap, dlq)
    headers = dict(dead.headers())
    assert dead.value() == b"y" * 300 and reason.encode() in headers["strom.error"]
    assert headers["strom.source"] == f"{source}/0/17".encode()
    assert headers["strom.operator"] == b"Kafka Source -> explode -> Kafka Sink"


def test_dead_letter_policy_sets_aside_the_record_a_function_raises_on(running: TestCluster):
    bootstrap = running.config.get(KafkaOptions.BOOTSTRAP)
    source, sink, dlq = names(running, "poison")
    lines = [f"w{i}".encode() for i in range(100_000)]
    lines[61_234] = b"poison"
    produce(bootstrap, source, lines, partitions=2)
    result = running.strom("run", str(JOBS / "failing_map.py"), "--", source, sink,
                           "--error-policy", "dead-letter", "--dead-letter-topic", dlq)
    assert result.returncode == 0, result.stdout + result.stderr
    assert Counter(r.value() for r in read_all(bootstrap, sink)) == Counter(
        line.upper() for line in lines if line != b"poison")
    (dead,) = read_all(bootstrap, dlq)
    headers = dict(dead.headers())
    assert dead.value() == b"poison" and headers["strom.error"] == b"ValueError: cannot digest poison"
    assert headers["strom.source"].startswith(f"{source}/".encode()) and headers["strom.element"] == b"'poison'"


def test_job_needing_more_slots_than_exist_fails_clearly(tmp_path, stack):
    cluster = TestCluster(tmp_path, STROM_SLOT_REQUEST_TIMEOUT="2000")
    try:
        cluster.start_standard(task_managers=2, slots=2)
        bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
        source, sink, dlq = names(cluster, "slots")
        produce(bootstrap, source, [b"a b c"], partitions=1)
        result = cluster.strom("run", "-p", "6", WORDCOUNT, "--", "--input", source, "--output", sink,
                               "--dead-letter-topic", dlq)
        assert result.returncode == 1
        assert "not enough slots: need 6, have 4" in result.stderr
        cluster.wait_for(lambda s: s.registered_slots() == (4, 4), 10.0, "slots released")
    finally:
        cluster.close()


def test_cancel_stops_every_subtask_and_frees_the_slots(running: TestCluster):
    bootstrap = running.config.get(KafkaOptions.BOOTSTRAP)
    source, sink, dlq = names(running, "cancel")
    produce(bootstrap, source, [b"tick tock"] * 100)
    result = running.strom("run", "-d", "-p", "2", WORDCOUNT, "--", "--input", source, "--output", sink,
                           "--dead-letter-topic", dlq, "--unbounded")
    assert result.returncode == 0, result.stderr
    job_id = re.search(r"JobID (\w+)", result.stdout).group(1)
    client = JobClient(running.config)
    deadline = time.monotonic() + 20
    while final_counts(read_all(bootstrap, sink)).get("tick") != 100 and time.monotonic() < deadline:
        time.sleep(0.2)
    details = client.details(job_id)
    assert details["state"] == "RUNNING"
    assert running.client.status().registered_slots() == (2, 4)

    cancel = running.strom("cancel", job_id)
    assert cancel.returncode == 0, cancel.stderr
    details = client.details(job_id)
    assert details["state"] == "CANCELED"
    assert {s["status"] for v in details["vertices"] for s in v["subtasks"]} == {"CANCELED"}
    running.wait_for(lambda s: s.registered_slots() == (4, 4), 10.0, "slots freed after cancel")
    assert any(j["id"] == job_id and j["status"] == "CANCELED" for j in client.jobs())
    client.close()


def test_job_that_fails_to_import_is_rejected_with_file_and_line(running: TestCluster):
    result = running.strom("run", str(JOBS / "broken_import.py"))
    assert result.returncode == 1
    assert "broken_import.py:5" in result.stderr and "JSONDecodeError" in result.stderr
    assert "submitted" not in result.stdout
    assert JobClient(running.config).jobs() == []
