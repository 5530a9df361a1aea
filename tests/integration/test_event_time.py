"""Count and processing-time windows, timers, joins and idleness on the real stack, against oracles."""

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
from confluent_kafka.admin import AdminClient, ConfigResource

from strom.client.jobs import JobClient
from strom.config import KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics
from strom.io.kafka import produce as produce_record

from .conftest import TestCluster
from .test_windows import BOUND, T0, click_events, produce_spread
from .test_wordcount import read_all

JOB = str(Path(__file__).resolve().parent / "jobs" / "event_time_job.py")


@pytest.fixture(scope="module")
def shared(stack, tmp_path_factory) -> TestCluster:
    """One cluster (2 TaskManagers x 2 slots) for the tests that inject no fault."""
    cluster = TestCluster(tmp_path_factory.mktemp("event-time"))
    cluster.start_standard(task_managers=2, slots=2)
    yield cluster
    cluster.close()


def run_job(cluster: TestCluster, mode: str, events: list[dict], *args: str, second: list[dict] | None = None,
            detach: bool = False, produce: bool = True, run: str | None = None):
    """Produce ``events`` (and ``second``) and run the job; returns (bootstrap, output topic, job id)."""
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    run = run or uuid.uuid4().hex[:8]
    topics = {role: f"et-{mode}-{role}-{run}" for role in ("in", "second", "out")}
    if produce:
        produce_spread(bootstrap, topics["in"], events)
        if second is not None:
            produce_spread(bootstrap, topics["second"], second)
    result = cluster.strom("run", *(["-d"] if detach else []), "-p", "2", JOB, "--", "--mode", mode,
                           "--input", topics["in"], "--second-input", topics["second"],
                           "--output", topics["out"], "--out-of-orderness-ms", str(BOUND), *args)
    assert result.returncode == 0, result.stdout + result.stderr + cluster.logs()
    return bootstrap, topics, re.search(r"JobID (\w+)", result.stdout).group(1)


def values(records) -> list[dict]:
    return [json.loads(r.value()) for r in records]


def per_user(events: list[dict]) -> Counter:
    return Counter(e["user"] for e in events)


def test_count_windows_fire_every_ten_clicks_per_user(shared: TestCluster):
    events = click_events(4000, seed=21)
    bootstrap, topics, _job = run_job(shared, "count-window", events)
    results = values(read_all(bootstrap, topics["out"]))
    assert all(r["count"] == 10 for r in results)
    # A count window fires when full; the remainder of each user never does (as in Flink).
    assert Counter(r["user"] for r in results) == +Counter({u: n // 10 for u, n in per_user(events).items()})


def test_processing_time_windows_and_timers_count_every_click_once(shared: TestCluster):
    events = click_events(6000, seed=22)
    for mode in ("processing-window", "processing-timers"):
        bootstrap, topics, _job = run_job(shared, mode, events)
        totals = Counter()
        for r in values(read_all(bootstrap, topics["out"])):
            totals[r["user"]] += r["count"]
        assert totals == per_user(events), mode


def ten_second_counts(events: list[dict]) -> Counter:
    return Counter((e["user"], e["ts"] - e["ts"] % 10_000 + 9_999) for e in events)


def timer_results(records) -> Counter:
    return Counter({(v["user"], v["end"]): v["count"] for v in values(records)})


def assert_in_timer_order(records) -> None:
    """A user's results sit in one partition (keyed by user): their timers fired in time order."""
    last: dict[str, int] = {}
    for record in records:
        value = json.loads(record.value())
        assert value["end"] > last.get(value["user"], -1), f"timer out of order or twice: {value}"
        last[value["user"]] = value["end"]


def test_timers_fire_in_order_once_after_a_taskmanager_kill(cluster: TestCluster):
    cluster.start_standard(task_managers=2, slots=2)
    events = click_events(150_000, seed=23)
    bootstrap, topics, job_id = run_job(cluster, "timers", events, "--checkpoint-interval", "300", detach=True)
    cluster.kill_taskmanager_mid_job(job_id)
    records = read_all(bootstrap, topics["out"])
    assert_in_timer_order(records)
    expected = ten_second_counts(events)
    assert len(records) == len(expected), "a timer fired twice or never"
    assert timer_results(records) == expected


def impressions(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = sorted(({"user": f"u{rng.randrange(50)}", "ad": f"ad{rng.randrange(20)}",
                      "ts": T0 + rng.randrange(100_000)} for _ in range(count)), key=lambda e: e["ts"])
    return sorted(events, key=lambda e: e["ts"] + rng.randrange(BOUND))


def pairs(results) -> Counter:
    return Counter((r["user"], r["click"], r["impression"], r["ad"]) for r in results)


def test_interval_join_equals_the_oracle(shared: TestCluster):
    clicks, shown = click_events(3000, seed=24), impressions(3000, seed=25)
    bootstrap, topics, _job = run_job(shared, "interval-join", clicks, second=shown)
    results = values(read_all(bootstrap, topics["out"]))
    expected = Counter((c["user"], c["ts"], i["ts"], i["ad"]) for c in clicks for i in shown
                       if c["user"] == i["user"] and c["ts"] - 1000 <= i["ts"] <= c["ts"] + 500)
    assert len(expected) > 1000
    assert pairs(results) == expected
    assert all(r["ts"] == max(r["click"], r["impression"]) for r in results)


def test_window_join_equals_the_oracle(shared: TestCluster):
    clicks, shown = click_events(2000, seed=26), impressions(2000, seed=27)
    bootstrap, topics, _job = run_job(shared, "window-join", clicks, second=shown)
    expected = Counter((c["user"], c["ts"], i["ts"], i["ad"]) for c in clicks for i in shown
                       if c["user"] == i["user"] and c["ts"] // 5000 == i["ts"] // 5000)
    assert len(expected) > 1000
    assert pairs(values(read_all(bootstrap, topics["out"]))) == expected


def edge_retention_ms(cluster: TestCluster, job_id: str) -> set[str]:
    """retention.ms of the job's keyed-edge topics (128 partitions) on the broker."""
    admin = AdminClient({"bootstrap.servers": cluster.config.get(KafkaOptions.BOOTSTRAP)})
    prefix = f"strom.{cluster.cluster_id}.job.{job_id}."
    edges = [name for name, meta in admin.list_topics(timeout=10).topics.items()
             if name.startswith(prefix) and len(meta.partitions) > 1]
    assert edges, "the job has a keyed edge"
    futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, name) for name in edges])
    return {future.result(timeout=10)["retention.ms"].value for future in futures.values()}


def test_an_idle_partition_holds_the_watermark_back_only_without_idleness(shared: TestCluster):
    """All clicks in partition 0; source subtask 1 reads the empty partition 1. With
    ``with_idleness`` its channel is left out and timers fire while the job runs; without, the
    same job on the same input fires nothing."""
    events = click_events(3000, seed=28)
    run = uuid.uuid4().hex[:8]
    bootstrap = shared.config.get(KafkaOptions.BOOTSTRAP)
    topic = f"et-idle-in-{run}"
    ensure_topics(bootstrap, [TopicSpec(topic, 2)])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for event in events:
        produce_record(producer, topic, json.dumps(event).encode(), partition=0)
    assert producer.flush(30) == 0

    jobs = {}
    for mode in ("idle", "timers"):
        result = shared.strom("run", "-d", "-p", "2", JOB, "--", "--mode", mode, "--input", topic,
                              "--output", f"et-{mode}-out-{run}", "--unbounded",
                              "--out-of-orderness-ms", str(BOUND))
        assert result.returncode == 0, result.stdout + result.stderr
        jobs[mode] = re.search(r"JobID (\w+)", result.stdout).group(1)
    # Every 10 s window that ends before the final watermark (max ts - bound - 1) must fire.
    final_watermark = max(e["ts"] for e in events) - BOUND - 1
    expected = Counter({k: n for k, n in ten_second_counts(events).items() if k[1] <= final_watermark})
    client = JobClient(shared.config)
    try:
        deadline = time.monotonic() + 60
        while timer_results(read_all(bootstrap, f"et-idle-out-{run}")) != expected:
            assert time.monotonic() < deadline, "windows did not fire with an idle partition marked idle"
            time.sleep(0.5)
        held_back = read_all(bootstrap, f"et-timers-out-{run}")
        assert edge_retention_ms(shared, jobs["idle"]) == {"86400000"}, "no checkpoints: a time retention"
    finally:  # unbounded jobs: free their slots for the tests after this one, pass or fail
        for job_id in jobs.values():
            client.cancel(job_id)
            client.wait(job_id, timeout_s=30)
    assert held_back == [], "without idleness the empty partition must hold the watermark back"


def test_a_side_output_read_twice_reaches_both_readers(shared: TestCluster):
    events = click_events(3000, seed=29)
    bootstrap, topics, _job = run_job(shared, "side-outputs", events)
    odd = Counter(json.dumps(e, sort_keys=True) for e in events if e["ts"] % 2)
    even = Counter(json.dumps(e, sort_keys=True) for e in events if not e["ts"] % 2)
    assert Counter(r.value().decode() for r in read_all(bootstrap, topics["out"])) == even
    for copy in ("side1", "side2"):
        assert Counter(r.value().decode() for r in read_all(bootstrap, f"{topics['out']}-{copy}")) == odd, copy
