"""Credentials reach every client Strom creates (issue 14, item 4), proved on real clients and
servers without a secured broker: a Kafka setting librdkafka refuses makes each kind of client fail
naming it; a Redis of this test's own (another port, never the shared one) with a password and an
ACL user; digest ACLs on Strom's znodes in the shared ZooKeeper, under a cluster id of this test."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import redis
from confluent_kafka import Consumer, KafkaException, Producer
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError

from strom.api.connectors import KafkaRecordSerializationSchema, KafkaSink
from strom.client.consume import committed_records
from strom.client.produce import produce_lines
from strom.config import ClusterOptions, Configuration, KafkaOptions, ZooKeeperOptions
from strom.control.channel import ControlChannel
from strom.control.roles import Role
from strom.coordination.leader_election import (
    LeaderElectionService,
    ZooKeeperLeaderElectionDriver,
    current_leader,
    zookeeper_client,
)
from strom.io.kafka import DeliveryReports, TopicSpec, admin_client, ensure_topics, read_to_end, watermark_offsets
from strom.io.redis import redis_client
from strom.naming import cluster_path, leader_path, role_path
from strom.runtime.settings import TaskSettings
from strom.runtime.sinks import ExactlyOnceSinkWriter

from .conftest import TestCluster
from .test_wordcount import produce

JOBS = Path(__file__).parent / "jobs"
BOGUS = "bogus-protocol"  # librdkafka: Invalid value "bogus-protocol" for configuration property "security.protocol"


def config_of(tmp_path: Path, **env: str) -> Configuration:
    return Configuration(env={**os.environ, "STROM_STATE_DIR": str(tmp_path),
                              "STROM_CLUSTER_ID": f"sec-{uuid.uuid4().hex[:8]}", **env})


# -- Kafka -------------------------------------------------------------------------------------
def test_the_cluster_security_settings_reach_every_kind_of_kafka_client(stack, tmp_path, monkeypatch):
    config = config_of(tmp_path, STROM_KAFKA_SECURITY_PROTOCOL=BOGUS)
    bootstrap = config.get(KafkaOptions.BOOTSTRAP)
    settings = TaskSettings.from_config(config)
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic("never").build()).build()
    clients = {
        "control channel": lambda: ControlChannel(config, "probe", Role.CLIENT).start(),
        "topic admin": lambda: ensure_topics(bootstrap, [TopicSpec("never")], config=config),
        "task producer": lambda: Producer(settings.producer_config(bootstrap, "e1", DeliveryReports())),
        "task consumer": lambda: Consumer(settings.consumer_config(bootstrap, "g", "e1", False, {})),
        "exactly-once sink": lambda: ExactlyOnceSinkWriter(bootstrap, sink, "tid", "markers", "g", None, 5, 1000,
                                                           security=settings.kafka_security),
        "strom consume": lambda: next(committed_records(bootstrap, "never", config=config)),
        "strom produce": lambda: produce_lines(bootstrap, "never", io.BytesIO(b"x\n"), config=config),
    }
    for what, make in clients.items():
        with pytest.raises(KafkaException, match=f'"{BOGUS}" for configuration property "security.protocol"'):
            make()
            pytest.fail(f"{what}: made without the cluster's security.protocol")
    # Clients made where no configuration is at hand (the JobManager's job topics and cleanup): the
    # process environment's, which is where every service reads its configuration from.
    monkeypatch.setenv("STROM_KAFKA_SECURITY_PROTOCOL", BOGUS)
    for make in (lambda: admin_client(bootstrap), lambda: watermark_offsets(bootstrap, ["never"]),
                 lambda: read_to_end(bootstrap, "never")):
        with pytest.raises(KafkaException, match=r"security\.protocol"):
            make()
    # A connector's own properties win over the cluster's: this consumer reaches the real broker.
    consumer = Consumer(settings.consumer_config(bootstrap, "g", "e1", False, {"security.protocol": "plaintext"}))
    try:
        assert consumer.list_topics(timeout=10).brokers
    finally:
        consumer.close()


def test_settings_that_fit_the_broker_work_end_to_end(stack, tmp_path):
    config = config_of(tmp_path, STROM_KAFKA_SECURITY_PROTOCOL="plaintext",
                       STROM_KAFKA_CLIENT_PROPERTIES='{"client.rack": "rack-a", "socket.keepalive.enable": "true"}')
    topic = f"sec-{uuid.uuid4().hex[:8]}"
    count, _seconds = produce_lines(config.get(KafkaOptions.BOOTSTRAP), topic, io.BytesIO(b"a\nb\n"), 1, config)
    assert count == 2
    assert [m.value() for m in committed_records(config.get(KafkaOptions.BOOTSTRAP), topic, config=config)] == [
        b"a", b"b"]
    channel = ControlChannel(config, "probe", Role.CLIENT)
    channel.start()
    channel.close()
    admin = admin_client(config.get(KafkaOptions.BOOTSTRAP), config)
    mine = [t for t in admin.list_topics(timeout=10).topics
            if t == topic or t.startswith(f"strom.{config.get(ClusterOptions.CLUSTER_ID)}.")]
    for future in admin.delete_topics(mine).values():
        future.result(timeout=30)


def test_kafka_sink_set_property_reaches_the_sinks_producer(cluster: TestCluster):
    """A job's KafkaSink.set_property is no longer ignored: a value librdkafka refuses fails the job
    naming the property, with either guarantee; a harmless one runs."""
    cluster.start_standard(task_managers=1, slots=2)
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    run = uuid.uuid4().hex[:8]
    source = f"props-in-{run}"
    produce(bootstrap, source, [b"one", b"two"], partitions=1)
    for guarantee in ([], ["--exactly-once"]):
        result = cluster.strom("run", str(JOBS / "sink_properties.py"), "--", source, f"props-out-{run}",
                               "--property", f"security.protocol={BOGUS}", *guarantee)
        assert result.returncode == 1 and "FAILED" in result.stdout, result.stdout + result.stderr
        assert "security.protocol" in result.stderr, result.stderr
    good = cluster.strom("run", str(JOBS / "sink_properties.py"), "--", source, f"props-ok-{run}",
                         "--property", "compression.type=gzip", "--exactly-once")
    assert good.returncode == 0, good.stdout + good.stderr
    assert sorted(m.value() for m in read_to_end(bootstrap, f"props-ok-{run}", timeout_s=60)) == [b"ONE", b"TWO"]


# -- Redis -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test alone (the shared one stays without a password), with
    ``requirepass`` set through CONFIG SET and an ACL user ``strom``."""
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        admin = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                admin.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the test's redis-server did not start"
                time.sleep(0.05)
        admin.acl_setuser("strom", enabled=True, passwords=["+acl-pass"], keys=["*"], commands=["+@all"])
        admin.config_set("requirepass", "hunter2-redis")
        yield port
    finally:
        server.terminate()
        server.wait(10)


def test_redis_credentials_from_the_url_the_options_or_a_file(private_redis, tmp_path):
    port = private_redis
    (tmp_path / "redis-password").write_text("hunter2-redis\n")
    working = [
        {"STROM_REDIS_URL": f"redis://:hunter2-redis@127.0.0.1:{port}/0"},
        {"STROM_REDIS_URL": f"redis://strom:acl-pass@127.0.0.1:{port}/0"},
        {"STROM_REDIS_URL": f"redis://127.0.0.1:{port}/0", "STROM_REDIS_PASSWORD": "hunter2-redis"},
        {"STROM_REDIS_URL": f"redis://127.0.0.1:{port}/0", "STROM_REDIS_USERNAME": "strom",
         "STROM_REDIS_PASSWORD": "acl-pass"},
        {"STROM_REDIS_URL": f"redis://127.0.0.1:{port}/0",
         "STROM_REDIS_PASSWORD_FILE": str(tmp_path / "redis-password")},
    ]
    for env in working:
        client = redis_client(config_of(tmp_path, **env))
        client.set("strom:probe", b"1")
        assert client.get("strom:probe") == b"1"
        client.close()
    for env in ({"STROM_REDIS_URL": f"redis://127.0.0.1:{port}/0"},
                {"STROM_REDIS_URL": f"redis://strom:wrong-pass@127.0.0.1:{port}/0"}):
        started = time.monotonic()
        with pytest.raises(redis.AuthenticationError, match="refused Strom's credentials") as refused:
            redis_client(config_of(tmp_path, **env)).ping()
        assert time.monotonic() - started < 5, "refused credentials are not waited out like an outage"
        assert "wrong-pass" not in str(refused.value)


# -- ZooKeeper ---------------------------------------------------------------------------------
def test_strom_znodes_get_digest_acls_only_members_may_write(stack, tmp_path):
    members = config_of(tmp_path, STROM_ZOOKEEPER_AUTH_USERNAME="strom", STROM_ZOOKEEPER_AUTH_PASSWORD="zk-hunter2")
    cluster_id = members.get(ClusterOptions.CLUSTER_ID)
    root = cluster_path(cluster_id)
    hosts = members.get(ZooKeeperOptions.QUORUM)
    outsider = KazooClient(hosts=hosts)
    outsider.start(timeout=15)
    outsider.create(f"{root}/made-before-credentials", b"open", makepath=True)  # open ACL, as before
    member = zookeeper_client(members)
    service = LeaderElectionService(Contender())
    driver = ZooKeeperLeaderElectionDriver(member, members, "JOBMANAGER", "jm-1", service, "http://x")
    driver.start()
    try:
        deadline = time.monotonic() + 15
        while service.token is None:
            assert time.monotonic() < deadline, "no leadership granted"
            time.sleep(0.05)
        leader = leader_path(cluster_id, "JOBMANAGER")
        # Everyone may read (clients find the leader)...
        assert current_leader(outsider, members, "JOBMANAGER").id == "jm-1"
        # ... only members write: not the leader node, not a new epoch, not a node under the cluster.
        for attempt in (lambda: outsider.set(leader, b'{"id": "evil"}'),
                        lambda: outsider.delete(leader),
                        lambda: outsider.create(f"{role_path(cluster_id, 'JOBMANAGER')}/epoch2", b"9"),
                        lambda: outsider.set(f"{role_path(cluster_id, 'JOBMANAGER')}/epoch", b"9223372036854775807"),
                        lambda: outsider.create(f"{root}/x", b""),
                        lambda: outsider.set(f"{root}/made-before-credentials", b"changed")):
            with pytest.raises(NoAuthError):
                attempt()
        wrong = zookeeper_client(config_of(tmp_path, STROM_CLUSTER_ID=cluster_id,
                                           STROM_ZOOKEEPER_AUTH_USERNAME="strom",
                                           STROM_ZOOKEEPER_AUTH_PASSWORD="guess"))
        with pytest.raises(NoAuthError):
            wrong.set(leader, b"{}")
        wrong.stop()
        wrong.close()
        # /strom itself stays open: clusters with other credentials (or none) share the ZooKeeper.
        outsider.ensure_path(f"/strom/sec-open-{uuid.uuid4().hex[:8]}")
        assert [a.id.scheme for a in member.get_acls(leader)[0]] == ["digest", "world"]
    finally:
        driver.stop()
        member.delete(root, recursive=True)
        member.stop()
        member.close()
        for child in outsider.get_children("/strom"):
            if re.fullmatch(r"sec-open-\w+", child):
                outsider.delete(f"/strom/{child}")
        outsider.stop()
        outsider.close()


class Contender:
    def grant_leadership(self, token: int) -> None:
        pass

    def revoke_leadership(self) -> None:
        pass
