"""Nobody runs code or changes a job through REST without the cluster's bearer token (real JobManager)."""

from __future__ import annotations

import pickle
import re
import ssl
import subprocess
import sys
import time
import uuid

import httpx
import pytest
import trustme
from confluent_kafka import Producer

from strom.client.jobs import JobClient
from strom.config import ClusterOptions, Configuration, KafkaOptions
from strom.control import codec
from strom.control.channel import ControlChannel, control_topic
from strom.control.codec import ControlMessage
from strom.credentials import cluster_secret
from strom.errors import TamperedDataError
from strom.io.redis import redis_client
from strom.jobmanager.job_store import JobRecord, RedisJobStore
from strom.metrics.reporter import MetricEndpoints
from strom.naming import artifact_key
from strom.runtime.io.events import encode_buffer
from strom.states import JobStatus
from strom.taskmanager.artifacts import JobArtifacts

from .conftest import TestCluster
from .test_services import _consumer_at_end, allocations_until, registered
from .test_wordcount import WORDCOUNT, names, produce, read_all


class CreatesAFile:
    """A pickle whose loading runs code: it would create ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def jobmanager(cluster: TestCluster) -> str:
    cluster.start("jobmanager-1")
    cluster.wait_for(lambda s: s.leaders["JOBMANAGER"] is not None, 15.0, "a JobManager leader")
    return JobClient(cluster.config).address


def test_without_the_token_nothing_is_read_run_or_changed(cluster: TestCluster, jobmanager: str, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(CreatesAFile(str(marker)))
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": "Basic abc"}):
        answer = httpx.post(f"{jobmanager}/jobs", content=payload, headers=headers)
        assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer", answer.text
    assert not marker.exists()
    for method, path, kwargs in (("PATCH", "/jobs/abc", {"params": {"mode": "cancel"}}),
                                 ("POST", "/jobs/abc/savepoints", {"json": {"cancel-job": True}}),
                                 ("POST", "/savepoint-disposal", {"json": {"savepoint-path": "x"}}),
                                 ("GET", "/jobs", {}), ("GET", "/overview", {}), ("GET", "/metrics/targets", {})):
        assert httpx.request(method, jobmanager + path, **kwargs).status_code == 401, path
    # The UI's files and the API description hold no data: public, so a browser can load them.
    for path in ("/", "/web/app.js", "/docs", "/openapi.json"):
        assert httpx.get(jobmanager + path).status_code == 200, path
    logs = cluster.logs()
    assert "rejected: no valid bearer token" in logs
    assert cluster.auth()["Authorization"].split()[1] not in logs


def test_a_body_over_the_limit_is_refused_while_it_arrives(cluster: TestCluster, jobmanager: str):
    big = b"\0" * (100 << 20)
    answer = httpx.post(f"{jobmanager}/jobs", content=big, headers=cluster.auth(), timeout=60)
    assert answer.status_code == 413 and "rest.max-body-bytes" in answer.text

    def chunks():  # no Content-Length: counted as it arrives
        for _ in range(100):
            yield b"\0" * (1 << 20)
    answer = httpx.post(f"{jobmanager}/jobs", content=chunks(), headers=cluster.auth(), timeout=60)
    assert answer.status_code == 413


def test_strom_config_shows_no_secret(cluster: TestCluster):
    env = {**cluster.local.env, "STROM_REST_TOKEN": "hunter2-token",
           "STROM_REDIS_URL": "redis://strom:hunter2-password@127.0.0.1:6379/0"}
    shown = subprocess.run([sys.executable, "-m", "strom", "config"], env=env, capture_output=True, text=True,
                           check=True).stdout
    assert "rest.token = <set>" in shown and "redis://strom:***@127.0.0.1:6379/0" in shown
    assert "hunter2" not in shown


def test_forged_control_messages_are_refused_and_the_leaders_still_served(cluster: TestCluster):
    """Anyone who can write to the control topics: a SlotRequest sent as a CLIENT, one without the
    cluster's HMAC and one with fencing token 2^63-1 are refused (logged); the JobManager leader's
    own token still gets a slot allocated."""
    cluster.start("resourcemanager-1")
    cluster.start("taskmanager-1", "--slots", "2")
    cluster.start("jobmanager-1")
    cluster.wait_for(lambda s: registered(s, 1) and s.leaders["JOBMANAGER"] is not None, 15.0,
                     "TaskManager registered and JobManager leading")
    leader = cluster.client.leaders()["JOBMANAGER"]
    inbox = _consumer_at_end(cluster, "TASKMANAGER")

    def slot_request(role: str, token: int | None, allocation_id: str) -> None:
        channel = ControlChannel(cluster.config, f"forger-{allocation_id}", role, token_source=lambda: token)
        channel.start()
        channel.send("RESOURCEMANAGER", "SlotRequest", {"job_id": "job-x", "allocation_id": allocation_id},
                     fenced=token is not None)
        channel.close()

    slot_request("CLIENT", None, "as-client")
    slot_request("JOBMANAGER", 2**63 - 1, "huge-token")
    unsigned = codec.encode(ControlMessage(type="SlotRequest", sender_id=leader.id, sender_role="JOBMANAGER",
                                           seq=1, body={"job_id": "job-x", "allocation_id": "no-mac"},
                                           fencing_token=leader.token))
    producer = Producer({"bootstrap.servers": cluster.config.get(KafkaOptions.BOOTSTRAP)})
    producer.produce(control_topic(cluster.cluster_id, "RESOURCEMANAGER"), unsigned)
    assert producer.flush(10) == 0
    slot_request("JOBMANAGER", leader.token, "from-leader")

    allocations = allocations_until(inbox, "from-leader")
    assert allocations == ["from-leader"], allocations
    log = (cluster.local.log_dir / "resourcemanager-1.log").read_text()
    assert "SlotRequest is not accepted from a CLIENT" in log
    assert "is not a leader epoch ZooKeeper knows" in log
    assert "control record refused: no valid MAC" in log


def test_forged_cancel_tasks_are_refused_and_the_leaders_next_deploy_is_accepted(cluster: TestCluster):
    """CancelTask for a running subtask, sent as a CLIENT, with fencing token 2^63-1, and without
    the cluster's HMAC: each refused (logged by the TaskManager) and the job runs on, unrestarted;
    the JobManager leader's next DeployTask (a second job's) is accepted."""
    cluster.start_standard(task_managers=1, slots=2)
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    source, sink, dlq = names(cluster, "cancel")
    produce(bootstrap, source, [b"in the beginning"])

    def submit() -> str:
        submitted = cluster.strom("run", "-d", "-p", "1", WORDCOUNT, "--", "--unbounded", "--input", source,
                                  "--output", f"{sink}-{uuid.uuid4().hex[:4]}", "--dead-letter-topic", dlq)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        return re.search(r"JobID (\w+)", submitted.stdout).group(1)

    def running(job_id: str) -> list[dict]:
        subtasks = [s for v in client.details(job_id)["vertices"] for s in v["subtasks"]]
        return [s for s in subtasks if s["status"] == "RUNNING" and s["attempt"] == 0]

    client = JobClient(cluster.config)
    job_id = submit()
    cluster.wait_for(lambda _status: len(running(job_id)) == 2, 60.0, "the job's 2 subtasks running")
    tm_id = running(job_id)[0]["taskmanager-id"]
    leader = cluster.client.leaders()["JOBMANAGER"]
    body = {"tm_id": tm_id, "job_id": job_id, "execution_id": "v1[0]#0"}
    for role, token in (("CLIENT", None), ("JOBMANAGER", 2**63 - 1)):
        channel = ControlChannel(cluster.config, f"forger-{role}", role, token_source=lambda token=token: token)
        channel.start()
        channel.send("TASKMANAGER", "CancelTask", body, target_id=tm_id, fenced=token is not None)
        channel.close()
    unsigned = codec.encode(ControlMessage(type="CancelTask", sender_id=leader.id, sender_role="JOBMANAGER",
                                           seq=1, body=body, fencing_token=leader.token, target_id=tm_id))
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(control_topic(cluster.cluster_id, "TASKMANAGER"), unsigned)
    assert producer.flush(10) == 0
    log = cluster.local.log_dir / "taskmanager-1.log"
    refusals = ("CancelTask is not accepted from a CLIENT", "is not a leader epoch ZooKeeper knows",
                "control record refused: no valid MAC")
    cluster.wait_for(lambda _status: all(r in log.read_text() for r in refusals), 20.0,
                     "the TaskManager logging all three refusals")
    assert '"execution_id": "v1[0]#0"' in log.read_text()  # the forged cancels named a real subtask
    assert len(running(job_id)) == 2 and client.details(job_id)["state"] == "RUNNING"
    second = submit()  # deployed by the leader to the same TaskManager's other slot
    cluster.wait_for(lambda _status: len(running(second)) == 2, 60.0, "the second job's subtasks running")
    assert {s["taskmanager-id"] for s in running(second)} == {tm_id}
    for job in (job_id, second):
        client.cancel(job)


def test_an_artifact_changed_in_redis_is_refused_before_it_is_unpickled(stack, tmp_path):
    """The JobManager stores artifacts sealed with the cluster secret; a TaskManager (JobArtifacts)
    and a recovering JobManager (RedisJobStore) refuse one that fails its seal, and nothing of it
    is unpickled: the payload here would create a file."""
    config = Configuration(env={"STROM_STATE_DIR": str(tmp_path), "STROM_CLUSTER_ID": f"seal-{tmp_path.name}"})
    cluster_id, secret, client = config.get(ClusterOptions.CLUSTER_ID), cluster_secret(config, create=True), \
        redis_client(config)
    marker = tmp_path / "pwned"
    jobs = RedisJobStore(client, cluster_id, secret=secret)
    record = JobRecord(status=JobStatus.CREATED, start_time=0)
    jobs.add("job-1", b"a real artifact", record, {})
    assert jobs.artifact("job-1") == b"a real artifact"
    key = artifact_key(cluster_id, "job-1")
    client.set(key, client.get(key)[:32] + pickle.dumps(CreatesAFile(str(marker))))  # keeps the old MAC
    with pytest.raises(TamperedDataError, match=f"the artifact of job job-1 \\({key}\\) fails its HMAC"):
        JobArtifacts.from_redis(client, cluster_id, secret).job_graph("job-1")
    with pytest.raises(TamperedDataError):
        jobs.artifact("job-1")
    assert not marker.exists()
    jobs.remove("job-1")


def test_a_forged_buffer_on_an_edge_is_refused_before_it_is_unpickled(cluster: TestCluster, tmp_path):
    """Whoever can write to a job's intermediate topic but lacks the cluster secret: a buffer whose
    pickle would run code fails the reading task naming topic/partition/offset; nothing runs."""
    cluster.start_standard(task_managers=1, slots=2)
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    source, sink, dlq = names(cluster, "forged")
    produce(bootstrap, source, [b"in the beginning"])
    submitted = cluster.strom("run", "-d", "-p", "1", WORDCOUNT, "--", "--unbounded", "--input", source,
                              "--output", sink, "--dead-letter-topic", dlq)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = re.search(r"JobID (\w+)", submitted.stdout).group(1)
    deadline = time.monotonic() + 60
    while len(read_all(bootstrap, sink)) < 3:
        assert time.monotonic() < deadline, "no output"
        time.sleep(0.3)
    marker = tmp_path / "pwned"
    forged = encode_buffer((0, 0, 0, None, [CreatesAFile(str(marker))]), b"a guess at the secret")
    edge = f"strom.{cluster.cluster_id}.job.{job_id}.v1-v2-1"
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(edge, forged, partition=0)
    assert producer.flush(10) == 0
    details = JobClient(cluster.config).wait(job_id, timeout_s=60)
    assert details["state"] == "FAILED", details
    assert f"buffer {edge}/0/" in str(details) and "fails its HMAC" in str(details)
    assert not marker.exists()
    # counted where it was refused: the TaskManager's /metrics
    endpoints = MetricEndpoints(redis_client(cluster.config), cluster.cluster_id).live()
    (task_manager,) = [e["address"] for e in endpoints if e["service"] == "taskmanager"]
    scraped = httpx.get(f"http://{task_manager}/metrics", timeout=5).text
    failures = re.search(r'^strom_seal_failures_total\{kind="buffer"\} (\S+)$', scraped, re.MULTILINE)
    assert failures is not None and float(failures.group(1)) >= 1, scraped[-2000:]


def test_rest_over_tls_serves_only_clients_that_verify_its_certificate(stack, tmp_path):
    """security.ssl.rest.*: the JobManager serves https and publishes an https address; the CLI
    verifies it against the configured CA; a client trusting another CA, or speaking plain http,
    gets nothing."""
    ca, stranger = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    files = {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "ca", "other-ca")}
    server.cert_chain_pems[0].write_to_path(str(files["cert"]))
    server.private_key_pem.write_to_path(str(files["key"]))
    ca.cert_pem.write_to_path(str(files["ca"]))
    stranger.cert_pem.write_to_path(str(files["other-ca"]))
    cluster = TestCluster(tmp_path / "cluster", STROM_SECURITY_SSL_REST_ENABLED="true",
                          STROM_SECURITY_SSL_REST_CERT_FILE=str(files["cert"]),
                          STROM_SECURITY_SSL_REST_KEY_FILE=str(files["key"]),
                          STROM_SECURITY_SSL_REST_CA_FILE=str(files["ca"]))
    try:
        cluster.start("jobmanager-1")
        cluster.wait_for(lambda s: s.leaders["JOBMANAGER"] is not None, 15.0, "a JobManager leader")
        address = JobClient(cluster.config).address
        assert address.startswith("https://127.0.0.1:"), address
        listed = cluster.strom("list")
        assert listed.returncode == 0, listed.stdout + listed.stderr
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{address}/jobs", headers=cluster.auth(), verify=ssl.create_default_context(
                cafile=str(files["other-ca"])))
        with pytest.raises(httpx.HTTPError):
            httpx.get(address.replace("https://", "http://") + "/jobs", headers=cluster.auth())
        cluster.local.env["STROM_SECURITY_SSL_REST_CA_FILE"] = str(files["other-ca"])
        refused = cluster.strom("list")
        assert refused.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr, refused.stderr
    finally:
        cluster.close()
