"""``ops/stack up --secure`` on ports and a state dir of its own (never the shared default stack):
a job runs end to end with the credentials of ``secure.env``, and clients without them are refused
by Kafka (SASL_SSL + SCRAM + ACLs), Redis (TLS + requirepass), ZooKeeper (enforced SASL
DIGEST-MD5 authentication + sasl ACLs) and the schema registry (https + basic auth)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient, SchemaRegistryError
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from strom.config import Configuration, KafkaOptions, RedisOptions, StackOptions, ZooKeeperOptions
from strom.coordination.security import zookeeper_client_kwargs
from strom.io.client_config import kafka_client_config, schema_registry_config
from strom.testing.drill import Drill

from .conftest import TestCluster
from .test_checkpoints import corpus

ROOT = Path(__file__).resolve().parents[2]
STACK = str(ROOT / "ops" / "stack")
WORDCOUNT = str(ROOT / "examples" / "wordcount.py")
DATA_PREFIX = "secure-it-"  # job topics Strom's Kafka user may use here (besides strom.* and the drills')
DRILL_PREFIX = "drill-"     # strom.testing.drill's topics
LINES = ["to be or not to be", "that is the question", "whether tis nobler in the mind to suffer"] * 50


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports free on 127.0.0.1 now (the kernel's choice: no clash with the default stack)."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(closing(socket.socket())) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@dataclass
class SecureStack:
    state: Path
    env: dict[str, str]          # ops/stack's environment (state dir, ports)
    client_env: dict[str, str]   # what `set -a; . secure.env; set +a` exports

    def stack(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([STACK, *args], env=self.env, capture_output=True, text=True, timeout=180)

    @property
    def config(self) -> Configuration:
        return Configuration(env=self.client_env)


def sourced(env_file: Path) -> dict[str, str]:
    """The STROM_* variables a shell has after the documented ``set -a; . FILE; set +a``."""
    out = subprocess.run(["bash", "-c", 'set -a; . "$1"; set +a; env -0', "-", str(env_file)],
                         capture_output=True, check=True, env={"PATH": os.environ["PATH"]}).stdout
    pairs = (entry.decode().split("=", 1) for entry in out.split(b"\0") if entry.startswith(b"STROM_"))
    return dict(pairs)


@pytest.fixture(scope="module")
def secure_stack(tmp_path_factory) -> Iterator[SecureStack]:
    state = tmp_path_factory.mktemp("secure-stack")
    kafka, controller, zookeeper, redis_port, registry = free_ports(5)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("STROM_")},
           "STROM_STATE_DIR": str(state), "STROM_KAFKA_PORT": str(kafka),
           "STROM_KAFKA_CONTROLLER_PORT": str(controller), "STROM_ZK_PORT": str(zookeeper),
           "STROM_REDIS_PORT": str(redis_port), "STROM_SCHEMA_REGISTRY_PORT": str(registry),
           # the jar cache of this checkout: read only, nothing downloaded again
           "STROM_KAFKA_LIBS": Configuration(env={}).get(StackOptions.KAFKA_LIBS),
           "STROM_STACK_SECURE_DATA_TOPICS": f"{DATA_PREFIX},{DRILL_PREFIX}"}
    secure = SecureStack(state, env, {})
    try:
        started = time.monotonic()
        up = secure.stack("up", "--secure")
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"secure stack up in {time.monotonic() - started:.1f} s")
        secure.client_env = sourced(state / "secure.env")
        yield secure
    finally:
        down = secure.stack("down", "--purge")
        assert down.returncode == 0, down.stdout + down.stderr


def test_secrets_are_private_files_never_printed(secure_stack: SecureStack):
    secret_dir = secure_stack.state / "secure"
    assert secret_dir.stat().st_mode & 0o777 == 0o700
    passwords = [p.read_text().strip() for p in secret_dir.glob("*.password")]
    assert len(passwords) == 6
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in secret_dir.iterdir())
    status = secure_stack.stack("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert [line.split()[3] for line in status.stdout.splitlines()[:4]] == ["healthy"] * 4, status.stdout
    assert "SECURE" in status.stdout and str(secure_stack.state / "secure.env") in status.stdout
    shown = status.stdout + secure_stack.stack("env").stdout + (secure_stack.state / "secure.env").read_text()
    shown += "".join(log.read_text() for log in (secure_stack.state / "logs").glob("*.log"))
    assert not [p for p in passwords if p in shown]


def test_a_plain_up_on_the_running_secure_stack_is_refused(secure_stack: SecureStack):
    plain = secure_stack.stack("up", "redis")
    assert plain.returncode == 1
    assert "runs secure" in plain.stderr and "down" in plain.stderr


def test_a_job_runs_end_to_end_with_the_secure_env(secure_stack: SecureStack, tmp_path: Path):
    client_env = {k: v for k, v in secure_stack.client_env.items() if k != "STROM_STATE_DIR"}
    cluster = TestCluster(tmp_path, **client_env)
    try:
        cluster.start_standard(task_managers=1, slots=2)
        run = uuid.uuid4().hex[:8]
        source, sink, dlq = (f"{DATA_PREFIX}{name}-{run}" for name in ("in", "out", "dlq"))
        (tmp_path / "lines.txt").write_text("\n".join(LINES) + "\n")
        produced = cluster.strom("produce", source, str(tmp_path / "lines.txt"))
        assert produced.returncode == 0, produced.stdout + produced.stderr
        result = cluster.strom("run", "-p", "2", WORDCOUNT, "--", "--input", source, "--output", sink,
                               "--dead-letter-topic", dlq)
        assert result.returncode == 0 and "FINISHED" in result.stdout, result.stdout + result.stderr + cluster.logs()
        consumed = cluster.strom("consume", sink)
        assert consumed.returncode == 0, consumed.stderr
        counts = dict(line.split("\t") for line in consumed.stdout.splitlines())
        assert {word: int(count) for word, count in counts.items()} == Counter(" ".join(LINES).split())
        # Kafka's ACLs: Strom's user may not touch a topic outside strom.* and the data prefix
        refused = cluster.strom("produce", f"elsewhere-{run}", str(tmp_path / "lines.txt"), timeout_s=60)
        assert refused.returncode != 0
        assert "authoriz" in (refused.stdout + refused.stderr).lower()
    finally:
        cluster.close()


def test_kafka_refuses_clients_without_sasl_or_with_a_wrong_password(secure_stack: SecureStack):
    bootstrap = secure_stack.config.get(KafkaOptions.BOOTSTRAP)
    quiet = {"log_level": 0, "socket.timeout.ms": 3000}
    plaintext = AdminClient(kafka_client_config(bootstrap, quiet, security={}))
    with pytest.raises(KafkaException):
        plaintext.list_topics(timeout=3)
    wrong = secure_stack.config.with_overrides({"kafka.sasl.password": "not-the-password"})
    errors: list[KafkaError] = []
    refused = AdminClient(kafka_client_config(bootstrap, {**quiet, "error_cb": errors.append}, config=wrong))
    with pytest.raises(KafkaException):
        refused.list_topics(timeout=5)
    refused.poll(1)  # serves error_cb
    assert KafkaError._AUTHENTICATION in [error.code() for error in errors], errors
    assert AdminClient(kafka_client_config(bootstrap, quiet, config=secure_stack.config)).list_topics(
        timeout=10).brokers  # the right credentials work


def test_redis_refuses_plaintext_and_clients_without_the_password(secure_stack: SecureStack):
    config = secure_stack.config
    port = int(secure_stack.env["STROM_REDIS_PORT"])
    with pytest.raises(redis.ConnectionError):
        redis.Redis(host="127.0.0.1", port=port, socket_timeout=1).ping()
    no_password = redis.Redis(host="127.0.0.1", port=port, ssl=True, protocol=2, socket_timeout=3,
                              ssl_ca_certs=config.get(RedisOptions.SSL_CA_LOCATION))
    with pytest.raises(redis.AuthenticationError, match="Authentication required"):  # NOAUTH, as redis-py says it
        no_password.ping()


# kazoo's connection thread ends with SessionClosedRequireSaslError for the wrong password: expected
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_zookeeper_refuses_clients_without_sasl_credentials(secure_stack: SecureStack):
    hosts = secure_stack.config.get(ZooKeeperOptions.QUORUM)
    # no credentials, and a digest user (not a SASL one): enforced authentication closes the session
    for auth in ({}, {"auth_data": [("digest", "mallory:guess")]}):
        client = KazooClient(hosts=hosts, timeout=3, connection_retry={"max_tries": 0}, **auth)
        client.start(timeout=10)
        try:
            with pytest.raises(KazooException):
                client.create("/strom/anonymous", b"")
        finally:
            client.stop()
            client.close()
    # Strom's SASL user with a wrong password gets no session at all
    wrong = KazooClient(hosts=hosts, timeout=3, connection_retry={"max_tries": 0},
                        sasl_options={"mechanism": "DIGEST-MD5", "username": "strom", "password": "guess"})
    try:
        with pytest.raises((KazooException, KazooTimeoutError)):
            wrong.start(timeout=5)
            wrong.create("/strom/guessed", b"")
    finally:
        wrong.stop()
        wrong.close()
    # with secure.env's credentials (SASL DIGEST-MD5) Strom's user writes under /strom, whose ACL names it
    strom = KazooClient(hosts=hosts, timeout=3, **zookeeper_client_kwargs(secure_stack.config))
    strom.start(timeout=10)
    try:
        strom.create("/strom/sasl-probe", b"", ephemeral=True)
        acl, _ = strom.get_acls("/strom")
        assert {(a.id.scheme, a.id.id) for a in acl} == {("sasl", "strom"), ("world", "anyone")}
    finally:
        strom.stop()
        strom.close()


def test_the_schema_registry_serves_only_authenticated_https(secure_stack: SecureStack):
    conf = schema_registry_config(secure_stack.config)  # what jobs and tools get from secure.env
    assert conf["url"].startswith("https://") and conf["basic.auth.user.info"].startswith("strom:")
    with SchemaRegistryClient(conf) as client:
        schema_id = client.register_schema("secure-it-value", Schema('{"type": "string"}', "AVRO"))
        assert client.get_schema(schema_id).schema_str == '"string"'
    anonymous = {k: v for k, v in conf.items() if k != "basic.auth.user.info"}
    wrong = {**conf, "basic.auth.user.info": "strom:guess"}
    for refused in (anonymous, wrong):
        with SchemaRegistryClient({**refused, "max.retries": 0}) as client, \
                pytest.raises(SchemaRegistryError, match="HTTP status code 401"):
            client.get_subjects()
    with pytest.raises(httpx.TransportError):  # plain HTTP to the TLS port: the registry hangs up
        httpx.get(conf["url"].replace("https://", "http://") + "/subjects", timeout=5)


@pytest.mark.parametrize("fault", ["kill-jobmanager", "kill-taskmanager"])
def test_a_failover_drill_keeps_output_exactly_once_on_the_secure_stack(
        secure_stack: SecureStack, tmp_path: Path, monkeypatch, fault: str):
    """ZooKeeper SASL and ACLs under a new JobManager leader; Redis TLS and Kafka transactions
    under ACLs through a restore from a checkpoint."""
    client_env = {k: v for k, v in secure_stack.client_env.items() if k != "STROM_STATE_DIR"}
    for name, value in client_env.items():
        monkeypatch.setenv(name, value)  # the drill's own Kafka clients read the environment's settings
    cluster = TestCluster(tmp_path, **client_env)
    try:
        drill = Drill(cluster.config, cluster.local, corpus(50_000), say=lambda _line: None, input_s=3.0)
        result = drill.run(fault)
        assert result.ok, result.line(None) + cluster.logs()
        assert result.new_leader_s is not None or fault != "kill-jobmanager"
        assert (result.restarts == 0) == (fault == "kill-jobmanager"), result.line(None)
    finally:
        cluster.close()
