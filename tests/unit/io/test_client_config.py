"""Client credentials declared once (strom.config) reach every client config Strom builds, and no
secret is shown (issue 14, item 4)."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
from click.testing import CliRunner

from strom.api.connectors import KafkaRecordSerializationSchema, KafkaSink, KafkaSource
from strom.config import (
    ALL_OPTIONS,
    Configuration,
    KafkaOptions,
    RedisOptions,
    ZooKeeperOptions,
    redacted,
    redacted_url,
)
from strom.coordination.security import cluster_acl, zookeeper_client_kwargs
from strom.errors import ConfigError
from strom.io.client_config import kafka_client_config, kafka_security, redis_connection_kwargs
from strom.io.kafka import DeliveryReports
from strom.io.redis import _LoggedRetry, redis_client
from strom.runtime import sinks
from strom.runtime.chain import OperatorChain
from strom.runtime.settings import TaskSettings

LIB = Path(__file__).resolve().parents[3] / "libs" / "strom"

SECURE_ENV = {
    "STROM_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "STROM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "STROM_KAFKA_SASL_USERNAME": "strom",
    "STROM_KAFKA_SASL_PASSWORD": "kafka-hunter2",
    "STROM_KAFKA_SSL_CA_LOCATION": "/etc/strom/ca.pem",
    "STROM_KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/strom/client.pem",
    "STROM_KAFKA_SSL_KEY_LOCATION": "/etc/strom/client.key",
    "STROM_KAFKA_SSL_KEY_PASSWORD": "key-hunter2",
    "STROM_KAFKA_CLIENT_PROPERTIES": '{"ssl.endpoint.identification.algorithm": "none", '
                                     '"sasl.oauthbearer.client.secret": "oauth-hunter2"}',
}
SECURE_KAFKA = {
    "security.protocol": "sasl_ssl", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "strom",
    "sasl.password": "kafka-hunter2", "ssl.ca.location": "/etc/strom/ca.pem",
    "ssl.certificate.location": "/etc/strom/client.pem", "ssl.key.location": "/etc/strom/client.key",
    "ssl.key.password": "key-hunter2", "ssl.endpoint.identification.algorithm": "none",
    "sasl.oauthbearer.client.secret": "oauth-hunter2",
}


def settings_of(env: dict[str, str], tmp_path: Path) -> TaskSettings:
    return TaskSettings.from_config(Configuration(env={**env, "STROM_STATE_DIR": str(tmp_path)}))


# -- Kafka: options -> librdkafka -------------------------------------------------------------
def test_each_security_option_becomes_its_librdkafka_property():
    assert kafka_security(Configuration(env=SECURE_ENV)) == SECURE_KAFKA
    assert kafka_security(Configuration(env={})) == {}  # a plaintext cluster: librdkafka's defaults


def test_passwords_may_come_from_files(tmp_path):
    (tmp_path / "sasl").write_text("from-file\n")
    (tmp_path / "key").write_text("key-from-file")
    config = Configuration(env={"STROM_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "sasl"),
                                "STROM_KAFKA_SSL_KEY_PASSWORD_FILE": str(tmp_path / "key")})
    assert kafka_security(config) == {"sasl.password": "from-file", "ssl.key.password": "key-from-file"}
    # the option wins over the file
    assert kafka_security(Configuration(env={"STROM_KAFKA_SASL_PASSWORD": "option",
                                             "STROM_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "sasl")})) == {
        "sasl.password": "option"}
    missing = Configuration(env={"STROM_KAFKA_SASL_PASSWORD_FILE": str(tmp_path / "nope")})
    with pytest.raises(ConfigError, match=r"kafka\.sasl\.password-file .*nope.*STROM_KAFKA_SASL_PASSWORD_FILE"):
        kafka_security(missing)


def test_client_properties_must_be_a_json_object():
    with pytest.raises(ConfigError, match="STROM_KAFKA_CLIENT_PROPERTIES"):
        Configuration(env={"STROM_KAFKA_CLIENT_PROPERTIES": '["a"]'}).get(KafkaOptions.CLIENT_PROPERTIES)
    with pytest.raises(ConfigError, match="STROM_KAFKA_CLIENT_PROPERTIES"):
        Configuration(env={"STROM_KAFKA_CLIENT_PROPERTIES": "acks=all"}).get(KafkaOptions.CLIENT_PROPERTIES)


def test_precedence_cluster_then_the_clients_own_then_the_connectors(monkeypatch):
    config = Configuration(env=SECURE_ENV)
    built = kafka_client_config("k:9092", {"group.id": "g", "ssl.endpoint.identification.algorithm": "https"},
                                properties={"sasl.username": "other-cluster-user"}, config=config)
    assert built["bootstrap.servers"] == "k:9092" and built["group.id"] == "g"
    assert built["ssl.endpoint.identification.algorithm"] == "https"  # Strom's own setting over the cluster-wide
    assert built["sasl.username"] == "other-cluster-user"             # the connector's over everything
    assert built["sasl.password"] == "kafka-hunter2"
    # Without a configuration at hand: the environment's, as every service reads its own.
    monkeypatch.setenv("STROM_KAFKA_SECURITY_PROTOCOL", "ssl")
    assert kafka_client_config("k:9092")["security.protocol"] == "ssl"


def test_task_clients_get_the_cluster_settings_and_a_sources_properties(tmp_path):
    settings = settings_of(SECURE_ENV, tmp_path)
    producer = settings.producer_config("k:9092", "e1", DeliveryReports())
    consumer = settings.consumer_config("k:9092", "g", "e1", True, {"sasl.username": "source-user"})
    for config in (producer, consumer):
        assert {k: v for k, v in config.items() if k in SECURE_KAFKA and k != "sasl.username"} == {
            k: v for k, v in SECURE_KAFKA.items() if k != "sasl.username"}
    assert producer["sasl.username"] == "strom" and consumer["sasl.username"] == "source-user"
    assert "hunter2" not in repr(settings)


class FakeClient:
    """Stands in for confluent-kafka's Producer/Consumer: keeps the config it was made with."""

    made: ClassVar[list[dict]] = []

    def __init__(self, config: dict) -> None:
        self.config = config
        FakeClient.made.append(config)

    def init_transactions(self, _timeout: float) -> None:
        pass

    def committed(self, partitions: list, timeout: float) -> list:
        return [SimpleNamespace(offset=-1001)]

    def close(self) -> None:
        pass


def a_sink(**properties: str) -> KafkaSink:
    builder = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic("out").build())
    for name, value in properties.items():
        builder = builder.set_property(name.replace("_", "."), value)
    return builder.build()


def test_an_exactly_once_sinks_clients_get_its_properties_but_keep_their_ids(monkeypatch, tmp_path):
    monkeypatch.setattr(sinks, "Producer", FakeClient)
    monkeypatch.setattr(sinks, "Consumer", FakeClient)
    FakeClient.made = []
    sink = a_sink(compression_type="zstd", sasl_username="sink-user")
    sink.properties["transactional.id"] = "not-the-sinks"
    security = settings_of(SECURE_ENV, tmp_path).kafka_security
    writer = sinks.ExactlyOnceSinkWriter("k:9092", sink, "tid-1", "markers", "group-1", clock=None, linger_ms=5,
                                         max_record_bytes=1000, security=security)
    producer, marker_reader = FakeClient.made
    assert producer["transactional.id"] == "tid-1" and producer["compression.type"] == "zstd"
    assert marker_reader["group.id"] == "group-1"
    for config in (producer, marker_reader):
        assert config["sasl.username"] == "sink-user" and config["sasl.password"] == "kafka-hunter2"
    writer.committed_marker("group-2")  # another job's marker group: a reader of its own, same settings
    assert FakeClient.made[-1]["group.id"] == "group-2" and FakeClient.made[-1]["sasl.username"] == "sink-user"


@pytest.mark.parametrize(("properties", "own_producer"), [({}, False), ({"compression.type": "zstd"}, True)])
def test_an_at_least_once_sink_with_properties_gets_a_producer_of_its_own(properties, own_producer, tmp_path):
    made = []

    def make_producer(bootstrap, overrides):
        made.append((bootstrap, overrides))
        return "own producer"

    sink = a_sink(**{k.replace(".", "_"): v for k, v in properties.items()})
    descriptor = SimpleNamespace(sink=SimpleNamespace(guarantee="at-least-once", max_record_bytes=1 << 20),
                                 execution_id="e1")
    writer = OperatorChain._sink_writer(SimpleNamespace(clock=None), sink, descriptor, "edge producer", "k:9092",
                                        make_producer, settings_of({}, tmp_path))
    assert (writer.producer == "own producer") is own_producer
    assert made == ([("k:9092", properties)] if own_producer else [])


def test_connector_properties_are_not_in_their_repr():
    source = KafkaSource.builder().set_topics("in").set_property("sasl.password", "hunter2").build()
    sink = a_sink(sasl_password="hunter2")
    assert "hunter2" not in repr(source) and "hunter2" not in repr(sink)


def test_every_kafka_client_in_libs_goes_through_kafka_client_config():
    """No ``{"bootstrap.servers": ...}`` literal outside strom.io.client_config: a client config
    built by hand would miss the security settings."""
    allowed = {"io/client_config.py"}  # the one place (ops/stack's health checks use it too)
    offenders = []
    for path in LIB.rglob("*.py"):
        relative = str(path.relative_to(LIB))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "bootstrap.servers"
                                                  for k in node.keys) and relative not in allowed:
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == []


# -- ZooKeeper ---------------------------------------------------------------------------------
def test_zookeeper_credentials_acls_and_tls(tmp_path):
    assert zookeeper_client_kwargs(Configuration(env={})) == {}
    assert cluster_acl(Configuration(env={})) is None
    (tmp_path / "zk").write_text("zk-hunter2\n")
    config = Configuration(env={"STROM_ZOOKEEPER_AUTH_USERNAME": "strom",
                                "STROM_ZOOKEEPER_AUTH_PASSWORD_FILE": str(tmp_path / "zk"),
                                "STROM_ZOOKEEPER_SSL_ENABLED": "true", "STROM_ZOOKEEPER_SSL_CA_LOCATION": "/ca.pem"})
    kwargs = zookeeper_client_kwargs(config)
    assert kwargs["auth_data"] == [("digest", "strom:zk-hunter2")]
    assert [(a.id.scheme, a.perms) for a in kwargs["default_acl"]] == [("digest", 31), ("world", 1)]
    assert kwargs["default_acl"][0].id.id.startswith("strom:")  # the digest, not the password
    assert "zk-hunter2" not in kwargs["default_acl"][0].id.id
    assert kwargs["use_ssl"] is True and kwargs["ca"] == "/ca.pem"
    with pytest.raises(ConfigError, match="STROM_ZOOKEEPER_AUTH_PASSWORD"):
        zookeeper_client_kwargs(Configuration(env={"STROM_ZOOKEEPER_AUTH_USERNAME": "strom"}))


def test_zookeeper_sasl_authenticates_by_digest_md5_and_acls_name_the_sasl_user(tmp_path):
    (tmp_path / "zk").write_text("zk-hunter2\n")
    kwargs = zookeeper_client_kwargs(Configuration(env={
        "STROM_ZOOKEEPER_AUTH_USERNAME": "strom", "STROM_ZOOKEEPER_AUTH_PASSWORD_FILE": str(tmp_path / "zk"),
        "STROM_ZOOKEEPER_AUTH_MECHANISM": "SASL"}))
    assert kwargs["sasl_options"] == {"mechanism": "DIGEST-MD5", "username": "strom", "password": "zk-hunter2"}
    assert "auth_data" not in kwargs
    assert [(a.id.scheme, a.id.id, a.perms) for a in kwargs["default_acl"]] == [("sasl", "strom", 31),
                                                                               ("world", "anyone", 1)]
    with pytest.raises(ConfigError, match="digest or sasl"):
        Configuration(env={"STROM_ZOOKEEPER_AUTH_MECHANISM": "kerberos"}).get(ZooKeeperOptions.AUTH_MECHANISM)


# -- Redis -------------------------------------------------------------------------------------
def test_redis_password_from_the_url_an_option_or_a_file(tmp_path):
    (tmp_path / "redis").write_text("file-pw\n")
    from_url = redis_client(Configuration(env={"STROM_REDIS_URL": "redis://strom:url-pw@127.0.0.1:6399/0"}))
    assert from_url.connection_pool.connection_kwargs.items() >= {"username": "strom", "password": "url-pw"}.items()
    from_option = redis_client(Configuration(env={"STROM_REDIS_URL": "redis://127.0.0.1:6399/0",
                                                  "STROM_REDIS_USERNAME": "strom", "STROM_REDIS_PASSWORD": "opt-pw"}))
    assert from_option.connection_pool.connection_kwargs.items() >= {"username": "strom", "password": "opt-pw"}.items()
    from_file = redis_client(Configuration(env={"STROM_REDIS_PASSWORD_FILE": str(tmp_path / "redis")}))
    assert from_file.connection_pool.connection_kwargs["password"] == "file-pw"


def test_rediss_gets_the_tls_files_and_redis_does_not():
    tls = {"STROM_REDIS_SSL_CA_LOCATION": "/ca.pem", "STROM_REDIS_SSL_CERTIFICATE_LOCATION": "/c.pem",
           "STROM_REDIS_SSL_KEY_LOCATION": "/c.key"}
    assert redis_connection_kwargs(Configuration(env={"STROM_REDIS_URL": "rediss://r:6380/0", **tls})) == {
        "ssl_ca_certs": "/ca.pem", "ssl_certfile": "/c.pem", "ssl_keyfile": "/c.key"}
    assert redis_connection_kwargs(Configuration(env={"STROM_REDIS_URL": "redis://r:6379/0", **tls})) == {}
    client = redis_client(Configuration(env={"STROM_REDIS_URL": "rediss://r:6380/0", **tls}))
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == "/ca.pem"


# -- redaction ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "shown"), [
    ("redis://strom:hunter2@redis:6379/0", "redis://strom:***@redis:6379/0"),
    ("rediss://:hunter2@redis:6380/0", "rediss://:***@redis:6380/0"),
    ("redis://redis:6379/0?password=hunter2", "redis://redis:6379/0?password=***"),
    ("redis://redis:6379/0", "redis://redis:6379/0"),
    ("127.0.0.1:9092,127.0.0.1:9093", "127.0.0.1:9092,127.0.0.1:9093"),
])
def test_url_passwords_are_hidden(url, shown):
    assert redacted_url(url) == shown
    assert redacted(RedisOptions.URL, url) == shown


def test_no_secret_in_strom_config_rest_config_rows_or_the_redis_wait_log(tmp_path):
    env = {**SECURE_ENV, "STROM_REDIS_URL": "rediss://strom:redis-hunter2@redis:6380/0",
           "STROM_REDIS_PASSWORD": "redis-hunter2", "STROM_ZOOKEEPER_AUTH_USERNAME": "strom",
           "STROM_ZOOKEEPER_AUTH_PASSWORD": "zk-hunter2", "STROM_ZOOKEEPER_SSL_KEY_PASSWORD": "zk-key-hunter2",
           "STROM_REST_TOKEN": "rest-hunter2", "STROM_CLUSTER_SECRET": "cluster-hunter2"}
    rows = Configuration(env=env).describe()
    shown = "\n".join(f"{key} = {value}" for key, _var, value, _unit, _doc in rows)  # as strom config, REST /config
    assert "hunter2" not in shown
    assert "kafka.sasl.password = <set>" in shown and "zookeeper.auth.password = <set>" in shown
    assert "redis.url = rediss://strom:***@redis:6380/0" in shown
    assert "'sasl.oauthbearer.client.secret': '***'" in shown
    assert "kafka.sasl.username = strom" in shown  # what is not secret stays visible
    secret_keys = {o.key for o in ALL_OPTIONS if o.secret}
    assert {"kafka.sasl.password", "kafka.ssl.key.password", "zookeeper.auth.password",
            "zookeeper.ssl.key.password", "redis.password"} <= secret_keys
    from strom.cli import cli
    output = CliRunner().invoke(cli, ["config"], env={**env, "STROM_STATE_DIR": str(tmp_path)}).output
    assert "kafka.sasl.password = <set>" in output and "hunter2" not in output
    assert _LoggedRetry("redis://strom:redis-hunter2@redis:6379/0").url == "redis://strom:***@redis:6379/0"
