"""The three services on the real control plane: registration, heartbeats, election, fencing."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import uuid

import httpx
from confluent_kafka import Consumer, TopicPartition

from strom.client.jobs import JobClient
from strom.config import HeartbeatOptions, KafkaOptions, ZooKeeperOptions
from strom.control import codec
from strom.control.channel import ControlChannel, control_topic
from strom.coordination.leader_election import current_leader
from strom.io.kafka import end_offset

from .conftest import TestCluster


def registered(status, count):
    return sum(1 for r in status.slot_table() if r["state"] == "REGISTERED") == count


def test_cluster_registers_two_taskmanagers_with_four_slots(cluster: TestCluster):
    started = time.monotonic()
    cluster.start("resourcemanager-1")
    cluster.start("jobmanager-1")
    cluster.start("taskmanager-1", "--slots", "2")
    cluster.start("taskmanager-2", "--slots", "2")
    status = cluster.wait_for(lambda s: registered(s, 2) and all(s.leaders.values()), 10.0,
                              "2 TaskManagers registered")
    assert time.monotonic() - started <= 10.0
    assert status.registered_slots() == (4, 4)
    assert {r["tm_id"] for r in status.slot_table()} == {"taskmanager-1", "taskmanager-2"}
    assert status.leaders["RESOURCEMANAGER"].id == "resourcemanager-1"
    assert status.leaders["JOBMANAGER"].id == "jobmanager-1"


def _consumer_at_end(cluster: TestCluster, role: str) -> Consumer:
    topic = control_topic(cluster.cluster_id, role)
    consumer = Consumer({"bootstrap.servers": cluster.config.get(KafkaOptions.BOOTSTRAP),
                         "group.id": f"test-{uuid.uuid4().hex}", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, end_offset(consumer, topic, 0))])
    return consumer


def allocations_until(inbox: Consumer, wanted: str, timeout_s: float = 10) -> list[str]:
    """Allocation ids of the AllocateSlot messages read from a TaskManager inbox until ``wanted``
    arrives (or ``timeout_s`` passes); closes the consumer."""
    allocations, deadline = [], time.monotonic() + timeout_s
    while wanted not in allocations and time.monotonic() < deadline:
        for record in inbox.consume(100, timeout=0.1):
            message = codec.decode(record.value())
            if message.type == "AllocateSlot":
                allocations.append(message.body["allocation_id"])
    inbox.close()
    return allocations


def test_killed_taskmanager_is_reported_lost_within_the_timeout(cluster: TestCluster):
    cluster.start("resourcemanager-1")
    cluster.start("jobmanager-1")
    cluster.start("taskmanager-1", "--slots", "2")
    cluster.start("taskmanager-2", "--slots", "2")
    cluster.wait_for(lambda s: registered(s, 2), 15.0, "2 TaskManagers registered")
    jobmanager_inbox = _consumer_at_end(cluster, "JOBMANAGER")

    killed_at = time.monotonic()
    cluster.local.signal("taskmanager-2", signal.SIGKILL)
    lost = None
    while lost is None and time.monotonic() - killed_at < 10:
        for record in jobmanager_inbox.consume(100, timeout=0.1):
            if record.error():
                continue
            message = codec.decode(record.value())
            if message.type == "TaskManagerLost":
                lost = message
    detected_s = time.monotonic() - killed_at
    jobmanager_inbox.close()

    assert lost is not None, "no TaskManagerLost on the JobManager control topic"
    assert lost.body["tm_id"] == "taskmanager-2"
    assert lost.sender_role == "RESOURCEMANAGER" and lost.fencing_token is not None
    # Lost after heartbeat.timeout of silence; the last heartbeat was up to 1 interval before the kill.
    timeout_s = cluster.config.get(HeartbeatOptions.TIMEOUT) / 1000
    interval_s = cluster.config.get(HeartbeatOptions.INTERVAL) / 1000
    assert timeout_s - interval_s <= detected_s <= timeout_s + 1.5, detected_s
    status = cluster.wait_for(lambda s: s.registered_slots()[1] == 2, 3.0, "slot table shrunk")
    states = {r["tm_id"]: r["state"] for r in status.slot_table()}
    assert states == {"taskmanager-1": "REGISTERED", "taskmanager-2": "LOST"}


def test_two_jobmanagers_elect_one_leader_and_fail_over(cluster: TestCluster):
    cluster.start("jobmanager-1")
    cluster.start("jobmanager-2")
    status = cluster.wait_for(
        lambda s: s.leaders["JOBMANAGER"] is not None and len(s.by_role("JOBMANAGER")) == 2,
        15.0, "two JobManagers answering")
    replies = status.by_role("JOBMANAGER")
    leaders = [r.sender_id for r in replies if r.body["is_leader"]]
    assert leaders == [status.leaders["JOBMANAGER"].id]
    old = status.leaders["JOBMANAGER"]
    standby = ({"jobmanager-1", "jobmanager-2"} - {old.id}).pop()

    # Any JobManager answers REST: the standby sends clients to the leader.
    standby_log = (cluster.local.log_dir / f"{standby}.log").read_text()
    standby_address = json.loads(next(line for line in standby_log.splitlines()
                                      if "rest api listening" in line))["address"]
    redirect = httpx.get(f"{standby_address}/jobs", follow_redirects=False, headers=cluster.auth())
    assert redirect.status_code == 307 and redirect.headers["location"] == f"{old.address}/jobs"
    # Strom's client does not follow it with its token: it asks ZooKeeper for the leader.
    assert JobClient(cluster.config, address=standby_address).jobs() == []

    killed_at = time.monotonic()
    cluster.local.signal(old.id, signal.SIGKILL)
    new = None
    while time.monotonic() - killed_at < 10:
        new = current_leader(cluster.client.zk, cluster.config, "JOBMANAGER")
        if new is not None and new.id == standby:
            break
        time.sleep(0.05)
    failover_s = time.monotonic() - killed_at
    assert new is not None and new.id == standby
    assert new.token > old.token
    session_s = cluster.config.get(ZooKeeperOptions.SESSION_TIMEOUT) / 1000
    assert failover_s <= session_s + 2.0, failover_s  # ZooKeeper session timeout + 2 s
    status = cluster.wait_for(lambda s: any(r.body["is_leader"] for r in s.by_role("JOBMANAGER")),
                              5.0, "new leader answering")
    assert [r.sender_id for r in status.by_role("JOBMANAGER") if r.body["is_leader"]] == [standby]


def test_message_with_a_deposed_leaders_token_is_ignored(cluster: TestCluster):
    cluster.start("resourcemanager-1")
    cluster.start("taskmanager-1", "--slots", "2")
    cluster.start("jobmanager-1")
    cluster.wait_for(lambda s: registered(s, 1) and s.leaders["JOBMANAGER"] is not None, 15.0,
                     "TaskManager registered and JobManager leading")
    deposed = cluster.client.leaders()["JOBMANAGER"]
    cluster.local.stop("jobmanager-1")
    cluster.start("jobmanager-2")
    current = cluster.wait_for(
        lambda s: s.leaders["JOBMANAGER"] is not None and s.leaders["JOBMANAGER"].id == "jobmanager-2",
        15.0, "jobmanager-2 leading").leaders["JOBMANAGER"]
    assert current.token > deposed.token

    def send_slot_request(token: int, allocation_id: str) -> None:
        forged = ControlChannel(cluster.config, deposed.id, "JOBMANAGER", token_source=lambda: token)
        forged.start()
        forged.send("RESOURCEMANAGER", "SlotRequest", {"job_id": "job-x", "allocation_id": allocation_id},
                    fenced=True)
        forged.close()

    taskmanager_inbox = _consumer_at_end(cluster, "TASKMANAGER")
    send_slot_request(deposed.token, "from-deposed")
    cluster.wait_for(lambda s: any(r.body["rejected_messages"] >= 1 for r in s.by_role("RESOURCEMANAGER")),
                     5.0, "ResourceManager rejecting the stale token")
    assert "stale fencing token" in (cluster.local.log_dir / "resourcemanager-1.log").read_text()

    # The same request with the current token is served: the check above could fail.
    send_slot_request(current.token, "from-current")
    allocations = allocations_until(taskmanager_inbox, "from-current", timeout_s=5)
    assert allocations == ["from-current"], "a deposed leader's request allocated a slot"


def test_status_command_prints_leaders_and_slot_table(cluster: TestCluster):
    cluster.start("resourcemanager-1")
    cluster.start("jobmanager-1")
    cluster.start("taskmanager-1", "--slots", "3")
    cluster.wait_for(lambda s: registered(s, 1) and all(s.leaders.values()), 15.0, "ready")
    result = subprocess.run([sys.executable, "-m", "strom", "status"], capture_output=True, text=True,
                            env=cluster.local.env, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "JobManager leader: jobmanager-1" in result.stdout
    assert "ResourceManager leader: resourcemanager-1" in result.stdout
    assert "TaskManagers: 1 registered, 3 slots, 3 free" in result.stdout
    metrics = re.search(r"Metrics \(/metrics.*\): (.*)", result.stdout).group(1)
    assert all(re.search(rf"{name} 127\.0\.0\.1:\d+", metrics) for name in
               ("jobmanager-1", "resourcemanager-1", "taskmanager-1")), metrics


def test_a_redis_that_may_evict_keys_is_refused_at_start(cluster: TestCluster, tmp_path):
    """A real Redis with maxmemory-policy allkeys-lru: the JobManager and a TaskManager exit with the
    reason instead of running on a store that may drop checkpoints."""
    port = free_port()
    redis_server = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                                     "--dir", str(tmp_path), "--maxmemory-policy", "allkeys-lru"],
                                    stdout=subprocess.DEVNULL)
    try:
        env = {**cluster.local.env, "STROM_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
        for service in ("jobmanager", "taskmanager"):
            result = subprocess.run([sys.executable, "-m", "strom", service], env=env, capture_output=True,
                                    text=True, timeout=60)
            assert result.returncode == 1, (service, result.stdout, result.stderr)
            assert f"Redis at 127.0.0.1:{port} has maxmemory-policy allkeys-lru" in result.stderr, result.stderr
            assert "set maxmemory-policy noeviction" in result.stderr
    finally:
        redis_server.terminate()
        redis_server.wait(10)


def free_port() -> int:
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
