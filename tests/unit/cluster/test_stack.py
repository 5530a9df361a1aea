"""ops/stack's pure parts: settings from options, which process is ours, status lines, help."""

from pathlib import Path

import pytest

from strom.cluster.supervisor import ProcessInfo
from strom.config import Configuration, KafkaOptions, RedisOptions, ZooKeeperOptions
from strom.stack.cli import main, usage
from strom.stack.commands import Stack, UnknownComponentError, describe_state, status_line
from strom.stack.components import (
    Kafka,
    Redis,
    SchemaRegistry,
    StackSettings,
    ZooKeeper,
    find_java,
    java_version,
    kafka_cluster_id,
)

ENV = {"STROM_STATE_DIR": "/tmp/some-stack", "STROM_KAFKA_PORT": "19092", "STROM_ZK_PORT": "12181",
       "STROM_REDIS_PORT": "16379", "STROM_STACK_STOP_TIMEOUT": "2500", "STROM_SCHEMA_REGISTRY_PORT": "18085"}


@pytest.fixture
def settings():
    return StackSettings.from_config(Configuration(env=ENV))


def test_ports_are_declared_once_and_clients_follow_them(settings):
    config = Configuration(env=ENV)
    assert (settings.kafka_port, settings.kafka_controller_port, settings.zk_port, settings.redis_port) == (
        19092, 9093, 12181, 16379)
    assert settings.env_exports() == {"STROM_KAFKA_BOOTSTRAP": config.get(KafkaOptions.BOOTSTRAP),
                                      "STROM_ZOOKEEPER": config.get(ZooKeeperOptions.QUORUM),
                                      "STROM_REDIS_URL": config.get(RedisOptions.URL),
                                      "STROM_SCHEMA_REGISTRY_URL": "http://127.0.0.1:18085/apis/ccompat/v7"}
    assert settings.kafka_libs == Path("/tmp/some-stack/kafka-libs") and settings.stop_timeout_s == 2.5


def test_is_ours_needs_this_state_dirs_config(settings):
    kafka, zookeeper, redis = Kafka(settings), ZooKeeper(settings), Redis(settings)
    kafka_argv = ("java", "-cp", "x", "kafka.Kafka", "/tmp/some-stack/kafka/server.properties")
    assert kafka.is_ours(ProcessInfo(1, kafka_argv, "/"))
    assert not kafka.is_ours(ProcessInfo(1, (*kafka_argv[:-1], "/other/kafka/server.properties"), "/"))
    zk_argv = ("java", "org.apache.zookeeper.server.ZooKeeperServerMain", "/tmp/some-stack/zookeeper/zoo.cfg")
    assert zookeeper.is_ours(ProcessInfo(1, zk_argv, "/")) and not kafka.is_ours(ProcessInfo(1, zk_argv, "/"))
    # redis rewrites its title; its working directory names the state dir
    assert redis.is_ours(ProcessInfo(1, ("redis-server 127.0.0.1:16379",), "/tmp/some-stack/redis/data"))
    assert not redis.is_ours(ProcessInfo(1, ("redis-server 127.0.0.1:6379",), "/work/main/.strom/redis/data"))


def test_commands_carry_the_settings(settings):
    kafka = Kafka(settings).command(Path("/log"))
    assert kafka[:3] == ["java", "-Xmx1G", "-Xms256m"] and kafka[-1] == "/tmp/some-stack/kafka/server.properties"
    redis = Redis(settings).command(Path("/tmp/some-stack/logs/redis.log"))
    assert redis[redis.index("--port") + 1] == "16379" and "--daemonize" not in redis


def test_schema_registry_runs_apicurio_with_its_config_and_a_java_21(settings, tmp_path, monkeypatch):
    registry = SchemaRegistry(settings)
    assert registry.port == 18085 and registry.home == Path("/tmp/some-stack/apicurio")
    monkeypatch.setattr(registry, "java", lambda: "/jdk/bin/java")
    argv = registry.command(Path("/log"))
    config = "-Dquarkus.config.locations=file:/tmp/some-stack/registry/application.properties"
    assert argv[:3] == ["/jdk/bin/java", "-Xmx384m", "-Xms64m"] and config in argv
    assert argv[-2:] == ["-jar", "/tmp/some-stack/apicurio/quarkus-run.jar"]
    assert registry.is_ours(ProcessInfo(1, tuple(argv), "/"))
    assert not registry.is_ours(ProcessInfo(1, (*argv[:-1], "/other/apicurio/quarkus-run.jar"), "/"))
    monkeypatch.setattr(registry, "java", lambda: None)
    with pytest.raises(OSError, match="no java 21 or newer"):
        registry.command(Path("/log"))


def test_java_versions_come_from_the_release_file(tmp_path):
    def jdk(name: str, version: str) -> str:
        (tmp_path / name / "bin").mkdir(parents=True)
        java = tmp_path / name / "bin" / "java"
        java.write_text("#!/bin/sh\n")
        java.chmod(0o755)
        (tmp_path / name / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
        return str(java)
    old, new, ancient = jdk("jdk17", "17.0.15"), jdk("jdk25", "25.0.3"), jdk("jdk8", "1.8.0_402")
    assert (java_version(old), java_version(new), java_version(ancient)) == (17, 25, 8)
    assert java_version(tmp_path / "missing" / "java") is None
    assert find_java(21, configured=new) == new and find_java(21, configured=old) is None
    assert find_java(17, java_home=str(tmp_path / "jdk17")) == f"{tmp_path}/jdk17/bin/java"


def test_kafka_cluster_id_is_kafkas_uuid_format():
    ids = {kafka_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)


def test_status_states_and_lines():
    assert describe_state(True, True, True, "") == "healthy"
    assert describe_state(True, False, False, "") == "unhealthy"
    assert describe_state(False, False, False, "") == "stopped"
    assert describe_state(False, True, True, "pid 9 java x").startswith("healthy (external: ")
    assert describe_state(False, True, False, "pid 9 nc") == "stopped (port in use by another process: pid 9 nc)"
    assert status_line("redis", 4242, 6379, "healthy") == "redis      pid=4242     127.0.0.1:6379   healthy"
    assert status_line("kafka", None, 9092, "stopped") == "kafka      pid=-        127.0.0.1:9092   stopped"


def test_components_are_selected_in_start_order():
    stack = Stack(Configuration(env=ENV))
    assert stack.select(()) == ["zookeeper", "redis", "kafka", "registry"]
    assert stack.select(["kafka", "zookeeper"]) == ["zookeeper", "kafka"]
    with pytest.raises(UnknownComponentError, match="unknown component 'kafak'"):
        stack.select(["kafak"])


def test_help_shows_the_declared_defaults():
    text = usage(Configuration(env=ENV))
    assert "Kafka broker port (default 9092)" in text and "now /tmp/some-stack" in text


def test_usage_errors_exit_2(capsys, monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["frobnicate"]) == 2 and "unknown command 'frobnicate'" in capsys.readouterr().err
    assert main(["stop"]) == 2 and "usage: ops/stack stop COMPONENT..." in capsys.readouterr().err
    assert main(["down", "--force"]) == 2 and "down: unknown argument '--force'" in capsys.readouterr().err
    monkeypatch.setenv("STROM_KAFKA_PORT", "99999")
    assert main(["env"]) == 2 and "STROM_KAFKA_PORT='99999'" in capsys.readouterr().err


# -- up --secure ---------------------------------------------------------------------------------
def test_the_secure_env_names_real_options_and_its_files(tmp_path):
    from strom.config import ALL_OPTIONS
    secure = StackSettings.from_config(Configuration(env={**ENV, "STROM_STATE_DIR": str(tmp_path)}), secure=True)
    env = secure.env_exports()
    known = {option.env_var for option in ALL_OPTIONS} | {"STROM_SCHEMA_REGISTRY_URL"}
    assert set(env) <= known
    config = secure.client_config()
    assert config.get(RedisOptions.URL) == "rediss://127.0.0.1:16379/0"
    assert config.get(KafkaOptions.SASL_PASSWORD_FILE) == str(tmp_path / "secure" / "kafka-strom.password")
    assert config.get(ZooKeeperOptions.AUTH_USERNAME) == "strom"
    plain = StackSettings.from_config(Configuration(env={**ENV, "STROM_STATE_DIR": str(tmp_path)}))
    assert plain.client_config().get(KafkaOptions.SECURITY_PROTOCOL) == ""
    assert Kafka(secure).data != Kafka(plain).data  # each mode keeps its own data


def test_strom_acls_cover_its_topics_groups_and_the_data_prefixes():
    from confluent_kafka.admin import ResourcePatternType, ResourceType

    from strom.stack.secure import strom_acls
    acls = {(a.restype, a.name, a.resource_pattern_type) for a in strom_acls("in-, out-")}
    assert {(ResourceType.TOPIC, "strom.", ResourcePatternType.PREFIXED),
            (ResourceType.GROUP, "strom-", ResourcePatternType.PREFIXED),
            (ResourceType.TRANSACTIONAL_ID, "strom-", ResourcePatternType.PREFIXED),
            (ResourceType.TOPIC, "in-", ResourcePatternType.PREFIXED),
            (ResourceType.TOPIC, "out-", ResourcePatternType.PREFIXED)} <= acls
    assert (ResourceType.TOPIC, "*", ResourcePatternType.LITERAL) in {
        (a.restype, a.name, a.resource_pattern_type) for a in strom_acls("*")}
    assert all(a.principal == "User:strom" for a in strom_acls("*"))


def test_secret_files_are_0600_and_redis_gets_its_password_from_a_file(tmp_path):
    from strom.stack.secure import PASSWORDS, SecureFiles, redis_conf, write_private
    files = SecureFiles(tmp_path)
    files.dir.mkdir()
    for name in PASSWORDS:
        write_private(files.password_file(name), f"pw-{name}\n")
    assert {p.stat().st_mode & 0o777 for p in files.dir.iterdir()} == {0o600}
    conf = redis_conf(files, 16379, tmp_path / "data", tmp_path / "redis.log", Redis.PERSISTENCE)
    assert "requirepass pw-redis" in conf and "tls-port 16379" in conf and "port 0" in conf
    assert 'save ""' in conf and "appendfsync always" in conf
    secure = StackSettings.from_config(Configuration(env={**ENV, "STROM_STATE_DIR": str(tmp_path)}), secure=True)
    Redis(secure).write_config()
    command = Redis(secure).command(tmp_path / "redis.log")
    assert command == ["redis-server", str(tmp_path / "redis" / "redis.conf")]  # no password on the command line


def test_up_secure_is_a_flag_of_up_and_in_the_help():
    text = usage(Configuration(env=ENV))
    assert "up [--secure]" in text and "secure.env" in text and "STROM_STACK_SECURE_DATA_TOPICS" in text
