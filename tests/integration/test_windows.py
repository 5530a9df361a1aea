"""Event-time windows against a batch oracle, on out-of-order input with a known disorder bound."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer

from strom.client.jobs import JobClient
from strom.config import KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics
from strom.io.kafka import produce as produce_record

from .conftest import TestCluster
from .test_wordcount import read_all

CLICKS = str(Path(__file__).resolve().parents[2] / "examples" / "clicks.py")
T0 = 1_700_000_000_000
BOUND = 2000


def click_events(count: int = 20_000, seed: int = 7) -> list[dict]:
    """Clicks over 100 s by 50 users, shuffled within the disorder bound."""
    rng = random.Random(seed)
    events = sorted(({"user": f"u{rng.randrange(50)}", "url": f"/p{rng.randrange(9)}",
                      "ts": T0 + rng.randrange(100_000)} for _ in range(count)), key=lambda e: e["ts"])
    # Arrival order: event time plus a random delay of up to BOUND ms.
    return sorted(events, key=lambda e: e["ts"] + rng.randrange(BOUND))


def oracle(events: list[dict], size: int, slide: int | None = None) -> Counter:
    """(user, window end - 1) -> clicks, computed in batch over the whole input."""
    slide = slide or size
    result = Counter()
    for e in events:
        start = e["ts"] - e["ts"] % slide
        while start > e["ts"] - size:
            result[(e["user"], start + size - 1)] += 1
            start -= slide
    return result


def window_results(records) -> Counter:
    return Counter({(r.key().decode(), r.timestamp()[1]): int(r.value()) for r in records})


def produce_spread(bootstrap: str, topic: str, events: list[dict]) -> None:
    """Events round-robin over 2 partitions. A partition left empty would hold every watermark
    back in an unbounded job (no idleness detection yet), which librdkafka's sticky
    partitioner can do to a few thousand small records."""
    ensure_topics(bootstrap, [TopicSpec(topic, 2)])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, event in enumerate(events):
        produce_record(producer, topic, json.dumps(event).encode(), partition=i % 2)
    assert producer.flush(30) == 0


def run_clicks(cluster: TestCluster, events: list[dict], *args: str, detach: bool = False):
    """Run examples/clicks.py on ``events``; returns (bootstrap, topics by role, job id)."""
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    run = uuid.uuid4().hex[:8]
    topics = {role: f"clicks-{role}-{run}" for role in ("in", "out", "totals", "late", "dlq")}
    produce_spread(bootstrap, topics["in"], events)
    result = cluster.strom("run", *(["-d"] if detach else []), "-p", "2", CLICKS, "--",
                           "--input", topics["in"], "--output", topics["out"], "--totals", topics["totals"],
                           "--late", topics["late"], "--dead-letter-topic", topics["dlq"],
                           "--out-of-orderness-ms", str(BOUND), *args)
    assert result.returncode == 0, result.stdout + result.stderr + cluster.logs()
    return bootstrap, topics, re.search(r"JobID (\w+)", result.stdout).group(1)


@pytest.fixture
def running(cluster: TestCluster) -> TestCluster:
    cluster.start_standard(task_managers=2, slots=2)
    return cluster


# Watermarks and windows give the same output whether elements travel in network buffers
# (the default 100 ms timeout) or one per Kafka record.
BUFFERING = pytest.mark.parametrize("buffer_timeout_ms", ["100", "0"], ids=["buffered", "a-record-per-element"])


def start_buffering(cluster: TestCluster, buffer_timeout_ms: str) -> TestCluster:
    env = {"STROM_EXECUTION_BUFFER_TIMEOUT": buffer_timeout_ms}
    cluster.start_standard(task_managers=2, slots=2, tm_env={1: env, 2: env})
    return cluster


@BUFFERING
def test_tumbling_windows_and_running_totals_equal_the_oracle(cluster: TestCluster, buffer_timeout_ms):
    running = start_buffering(cluster, buffer_timeout_ms)
    events = click_events()
    bootstrap, topics, _job = run_clicks(running, events)
    assert window_results(read_all(bootstrap, topics["out"])) == oracle(events, 5000)
    assert read_all(bootstrap, topics["late"]) == []  # disorder within the bound: nothing late
    final = {}
    for record in read_all(bootstrap, topics["totals"]):
        final[record.key().decode()] = int(record.value())
    assert final == dict(Counter(e["user"] for e in events))


@BUFFERING
def test_sliding_windows_equal_the_oracle(cluster: TestCluster, buffer_timeout_ms):
    running = start_buffering(cluster, buffer_timeout_ms)
    events = click_events(8000, seed=11)
    bootstrap, topics, _job = run_clicks(running, events, "--window-ms", "10000", "--slide-ms", "2000")
    assert window_results(read_all(bootstrap, topics["out"])) == oracle(events, 10000, 2000)


def test_taskmanager_kill_during_windowed_job_fires_every_window_once(running: TestCluster):
    events = click_events(150_000, seed=3)
    bootstrap, topics, job_id = run_clicks(running, events, "--checkpoint-interval", "300", detach=True)
    output = topics["out"]
    running.kill_taskmanager_mid_job(job_id)
    records = read_all(bootstrap, output)
    assert len(records) == len(oracle(events, 5000)), "a window fired twice or never"
    assert window_results(records) == oracle(events, 5000)


def sessions(events: list[dict], gap: int) -> Counter:
    """(user, session end - 1) -> clicks: a user's clicks less than ``gap`` apart form one session."""
    result = Counter()
    by_user: dict[str, list[int]] = {}
    for e in events:
        by_user.setdefault(e["user"], []).append(e["ts"])
    for user, stamps in by_user.items():
        stamps.sort()
        last, count = stamps[0], 0
        for ts in stamps:
            if ts > last + gap:
                result[(user, last + gap - 1)] = count
                count = 0
            last, count = ts, count + 1
        result[(user, last + gap - 1)] = count
    return result


def test_session_windows_equal_the_oracle(running: TestCluster):
    events = click_events(5000, seed=5)
    bootstrap, topics, _job = run_clicks(running, events, "--session-gap-ms", "3000")
    assert window_results(read_all(bootstrap, topics["out"])) == sessions(events, 3000)


def test_late_clicks_go_to_the_side_output_counted_exactly(running: TestCluster):
    early = click_events(3000, seed=9)
    bootstrap, topics, job_id = run_clicks(running, early, "--unbounded", "--allowed-lateness-ms", "1000",
                                           detach=True)
    # Once every early window fired, the watermark is past them: older clicks are late for sure.
    expected = oracle(early, 5000)
    last_window_end = max(ts for _user, ts in expected)
    deadline = time.monotonic() + 60
    while len(window_results(read_all(bootstrap, topics["out"]))) < len(expected) - 60:
        assert time.monotonic() < deadline, "early windows did not fire"
        time.sleep(0.3)
    late = [{"user": "late-user", "url": "/x", "ts": T0 + i} for i in range(17)]
    produce_spread(bootstrap, topics["in"], late)
    deadline = time.monotonic() + 30
    while len(read_all(bootstrap, topics["late"])) < len(late) and time.monotonic() < deadline:
        time.sleep(0.3)
    client = JobClient(running.config)
    client.cancel(job_id)
    client.wait(job_id, timeout_s=30)
    assert sorted(json.loads(r.value())["ts"] for r in read_all(bootstrap, topics["late"])) == \
        [e["ts"] for e in late]
    assert not any(user == "late-user" for user, _ts in window_results(read_all(bootstrap, topics["out"])))
    assert last_window_end > T0 + 17
