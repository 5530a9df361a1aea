"""Metrics and Flink's monitoring REST API of a running WordCount, on the real stack.

One unbounded WordCount with checkpoints; its counters must equal what it
processed (records in of the source = lines, records out = words; the count
vertex reads every word), every metric of strom.metrics must exist with its
labels, and each monitoring endpoint must answer in Flink's shape (404 with a
message for an unknown id).
"""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strom.client.jobs import JobClient
from strom.config import KafkaOptions

from .conftest import TestCluster
from .test_checkpoints import WORD, Job, corpus
from .test_wordcount import produce, read_all

SLOW_SINK_JOB = Path(__file__).resolve().parent / "jobs" / "slow_sink.py"

TASK_METRICS = ["strom_task_numRecordsIn_total", "strom_task_numRecordsOut_total", "strom_task_numBytesIn_total",
                "strom_task_numBytesOut_total", "strom_task_numRecordsInPerSecond", "strom_task_numRecordsOutPerSecond",
                "strom_task_currentInputWatermark_seconds", "strom_task_currentOutputWatermark_seconds",
                "strom_task_busyTimeMsPerSecond", "strom_task_idleTimeMsPerSecond",
                "strom_task_backPressuredTimeMsPerSecond", "strom_task_numLateRecordsDropped_total",
                "strom_task_checkpointAlignmentTime_seconds"]
TASK_LABELS = {"job_id", "job_name", "task_id", "task_name", "subtask_index", "tm_id"}
JOB_METRICS = ["strom_job_numRestarts_total", "strom_job_uptime_seconds", "strom_job_lastCheckpointDuration_seconds",
               "strom_job_lastCheckpointSize_bytes", "strom_job_numberOfCompletedCheckpoints_total",
               "strom_job_numberOfFailedCheckpoints_total"]
CLUSTER_METRICS = ["strom_cluster_numRegisteredTaskManagers", "strom_cluster_taskSlotsTotal",
                   "strom_cluster_taskSlotsAvailable", "strom_cluster_numRunningJobs"]


def scrape(targets: list[dict]) -> list:
    """Every sample of every /metrics endpoint the JobManager lists."""
    samples = []
    for group in targets:
        for address in group["targets"]:
            text = httpx.get(f"http://{address}/metrics", timeout=5).text
            samples += [s for family in text_string_to_metric_families(text) for s in family.samples]
    return samples


@pytest.fixture(scope="module")
def running(stack, tmp_path_factory):
    """A cluster (2 TaskManagers x 2 slots) running an unbounded WordCount that read all its
    input: 3 partitions, the last empty (source subtask 0 reads it and partition 0)."""
    cluster = TestCluster(tmp_path_factory.mktemp("monitoring"))
    cluster.start_standard(task_managers=2, slots=2)
    words = corpus(20_000)
    lines = [b" ".join(words[i:i + 5]) for i in range(0, len(words), 5)]  # 4,000 lines of 5 words
    # Partition 2 stays empty: its lag is 0 although its reader never sees a record.
    job = Job(cluster, lines, "--unbounded", interval_ms=300, partitions=3, filled=2)
    deadline = time.monotonic() + 60
    while len(read_all(job.bootstrap, job.sink)) < len(words):
        assert time.monotonic() < deadline, "input not committed"
        time.sleep(0.5)
    job.wait_checkpoints(job.client.checkpoints(job.job_id)["counts"]["completed"] + 2)
    yield cluster, job, lines
    JobClient(cluster.config).cancel(job.job_id)
    cluster.close()


def rest(cluster: TestCluster, path: str, **kwargs) -> httpx.Response:
    client = JobClient(cluster.config)
    return httpx.get(client.address + path, headers=cluster.auth(), timeout=10, **kwargs)


def test_every_metric_exists_and_the_counters_equal_what_the_job_processed(running):
    cluster, job, lines = running
    words = sum(len(WORD.findall(line.decode())) for line in lines)
    targets = rest(cluster, "/metrics/targets").json()
    assert {g["labels"]["strom_service"] for g in targets} == {"jobmanager", "resourcemanager", "taskmanager"}
    deadline = time.monotonic() + 15  # rates need two samples; librdkafka statistics every 2 s
    while True:
        samples = [s for s in scrape(targets) if s.labels.get("job_id") in (None, job.job_id)]
        names = {s.name for s in samples}
        if {*TASK_METRICS, *JOB_METRICS, *CLUSTER_METRICS, "strom_source_pendingRecords"} <= names or \
                time.monotonic() > deadline:
            break
        time.sleep(1)
    for name in TASK_METRICS:
        tasks = [s for s in samples if s.name == name]
        assert len(tasks) == 4, (name, tasks)  # 2 vertices x 2 subtasks
        assert all(set(s.labels) >= TASK_LABELS for s in tasks), name
    for name in [*JOB_METRICS, *CLUSTER_METRICS, "strom_source_pendingRecords", "strom_control_lag_records"]:
        assert any(s.name == name for s in samples), name

    def total(name: str, vertex: str) -> float:
        return sum(s.value for s in samples if s.name == name and s.labels["task_id"] == vertex)
    source, count = (v["id"] for v in job.details()["vertices"])
    assert total("strom_task_numRecordsIn_total", source) == len(lines)
    assert total("strom_task_numRecordsOut_total", source) == words
    assert total("strom_task_numRecordsIn_total", count) == words   # events (barriers...) are not records
    assert total("strom_task_numRecordsOut_total", count) == words  # one running count per word
    assert total("strom_task_numBytesIn_total", source) > 0
    value = {s.name: s.value for s in samples if not s.labels.get("job_id") or s.labels.get("job_id") == job.job_id}
    assert value["strom_cluster_taskSlotsTotal"] == 4 and value["strom_cluster_numRegisteredTaskManagers"] == 2
    assert value["strom_job_numberOfCompletedCheckpoints_total"] >= 2
    pending = [s.value for s in samples if s.name == "strom_source_pendingRecords"]
    assert pending == [0, 0, 0]  # all read, one per partition, the empty one too


def test_rest_endpoints_answer_in_flinks_shapes(running):
    cluster, job, _lines = running
    jid = job.job_id
    overview = rest(cluster, "/overview").json()
    assert overview["taskmanagers"] == 2 and overview["slots-total"] == 4 and overview["jobs-running"] >= 1
    assert any(j["jid"] == jid and j["state"] == "RUNNING" for j in rest(cluster, "/jobs/overview").json()["jobs"])
    details = rest(cluster, f"/jobs/{jid}").json()
    source, count = details["vertices"]
    assert source["metrics"]["read-records"] > 0 and count["metrics"]["write-records"] > 0
    nodes = rest(cluster, f"/jobs/{jid}/plan").json()["plan"]["nodes"]
    assert [n["id"] for n in nodes] == [source["id"], count["id"]]
    assert nodes[1]["inputs"][0]["id"] == source["id"] and nodes[1]["inputs"][0]["ship_strategy"] == "HASH"
    assert rest(cluster, f"/jobs/{jid}/config").json()["execution-config"]["checkpoints"]["interval"] == 300
    assert rest(cluster, f"/jobs/{jid}/checkpoints/config").json()["mode"] == "exactly_once"
    assert rest(cluster, f"/jobs/{jid}/exceptions").json()["exceptionHistory"]["entries"] == []
    vertex = rest(cluster, f"/jobs/{jid}/vertices/{source['id']}").json()
    assert [s["subtask"] for s in vertex["subtasks"]] == [0, 1]
    assert all(s["metrics"]["numRecordsIn"] > 0 for s in vertex["subtasks"])
    aggregated = rest(cluster, f"/jobs/{jid}/vertices/{count['id']}/subtasks/metrics",
                      params={"get": "numRecordsIn,busyTimeMsPerSecond"}).json()
    assert [a["id"] for a in aggregated] == ["numRecordsIn", "busyTimeMsPerSecond"]
    assert all({"min", "max", "avg", "sum"} <= set(a) for a in aggregated)
    pressure = rest(cluster, f"/jobs/{jid}/vertices/{source['id']}/backpressure").json()
    assert pressure["backpressure-level"] in ("ok", "low", "high") and len(pressure["subtasks"]) == 2
    assert isinstance(rest(cluster, f"/jobs/{jid}/vertices/{count['id']}/watermarks").json(), list)
    checkpoints = rest(cluster, f"/jobs/{jid}/checkpoints").json()
    completed = [c for c in checkpoints["history"] if c["status"] == "COMPLETED"]
    assert completed and completed[0]["num_acknowledged_subtasks"] == 4
    latest = checkpoints["latest"]["completed"]["id"]
    subtasks = rest(cluster, f"/jobs/{jid}/checkpoints/details/{latest}/subtasks/{count['id']}").json()["subtasks"]
    assert [s["index"] for s in subtasks] == [0, 1] and all(s["ack_timestamp"] > 0 for s in subtasks)
    task_managers = rest(cluster, "/taskmanagers").json()["taskmanagers"]
    assert len(task_managers) == 2 and all(tm["slotsNumber"] == 2 for tm in task_managers)
    assert rest(cluster, f"/taskmanagers/{task_managers[0]['id']}").json()["tasks"]
    assert {row["key"] for row in rest(cluster, "/jobmanager/config").json()} >= {"rest.port", "rest.token"}
    assert rest(cluster, "/jobs/metrics", params={"get": "numRestarts", "agg": "sum"}).json() == [
        {"id": "numRestarts", "sum": 0}]


@pytest.mark.parametrize("path", ["/jobs/{unknown}", "/jobs/{unknown}/plan", "/jobs/{unknown}/checkpoints",
                                  "/jobs/{unknown}/vertices/v1/backpressure", "/jobs/{jid}/vertices/v99",
                                  "/jobs/{jid}/checkpoints/details/99999", "/taskmanagers/{unknown}"])
def test_unknown_ids_get_404_with_a_message(running, path):
    cluster, job, _lines = running
    response = rest(cluster, path.format(unknown="0123456789abcdef", jid=job.job_id))
    assert response.status_code == 404
    message = response.json()["errors"][0]
    assert any(words in message for words in ("not found", "not retained", "has no vertex")), message


def test_secrets_never_reach_the_config_endpoint(running):
    cluster, _job, _lines = running
    rows = {row["key"]: row["value"] for row in rest(cluster, "/jobmanager/config").json()}
    assert rows["rest.token"] == "<set>" or rows["rest.token"] == "<not set>"


def test_status_shows_progress_and_consume_prints_committed_output(running):
    cluster, job, lines = running
    status = cluster.strom("status", job.job_id)
    assert status.returncode == 0, status.stderr
    assert f"in {len(lines):,} records" in status.stdout and "source lag 0 records" in status.stdout, status.stdout
    consumed = cluster.strom("consume", job.sink, "--max", "5")
    rows = consumed.stdout.splitlines()
    assert consumed.returncode == 0 and len(rows) == 5, consumed.stdout + consumed.stderr
    assert all(key.isalpha() and count.isdigit() for key, count in (row.split("\t") for row in rows))
    missing = cluster.strom("consume", f"no-such-topic-{job.job_id}")
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_a_slow_sink_backpressures_its_upstream_through_flow_control(stack, tmp_path):
    """The edge may hold 20 buffers (of 1 KiB, ~70 lines) unread; the sink side takes ~500
    records/s and the upstream would take far more: it waits on the edge, so its vertex reads as
    back-pressured (Flink's level high, over 500 ms/s) and the edge's backlog stays near the bound.
    The input is more than the upstream reads before its first backlog check (a second, at
    ~250k lines/s here), so it is still reading when the check finds the edge full."""
    cluster = TestCluster(tmp_path, STROM_TASK_EDGE_MAX_BACKLOG_BUFFERS="20",
                          STROM_TASKMANAGER_MEMORY_SEGMENT_SIZE="1024")
    try:
        cluster.start_standard(task_managers=1, slots=2)
        run = uuid.uuid4().hex[:8]
        source, sink = f"slow-in-{run}", f"slow-out-{run}"
        produce(cluster.config.get(KafkaOptions.BOOTSTRAP), source, [f"line {i}".encode() for i in range(600_000)])
        submitted = cluster.strom("run", "-d", "-p", "1", str(SLOW_SINK_JOB), "--", source, sink)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        jid = re.search(r"JobID (\w+)", submitted.stdout).group(1)
        upstream, slow = (v["id"] for v in JobClient(cluster.config).details(jid)["vertices"])
        deadline, body, pressured = time.monotonic() + 40, {}, []
        while time.monotonic() < deadline:
            body = rest(cluster, f"/jobs/{jid}/vertices/{upstream}/backpressure").json()
            pressured = rest(cluster, f"/jobs/{jid}/vertices/{upstream}/subtasks/metrics",
                             params={"get": "backPressuredTimeMsPerSecond"}).json()
            if body.get("backpressure-level") == "high" and pressured and pressured[0]["max"] > 500:
                break
            time.sleep(1)
        assert body.get("backpressure-level") == "high", body
        assert pressured[0]["max"] > 500, pressured
        slow_side = rest(cluster, f"/jobs/{jid}/vertices/{slow}/backpressure").json()
        assert slow_side["backpressure-level"] == "ok", slow_side  # busy, not waiting on output
        JobClient(cluster.config).cancel(jid)
    finally:
        cluster.close()
