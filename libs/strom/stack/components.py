"""Kafka (KRaft), ZooKeeper and Redis as ``ops/stack`` runs them: config files, command lines,
which process is ours, and health checks through the clients Strom itself uses.

Health means serving, not listening: Kafka answers a metadata request with its
broker (its data-plane listener opens only once it registered with the
controller and was unfenced), ZooKeeper grants a session, Redis answers PING.
"""

from __future__ import annotations

import base64
import logging
import shutil
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError

from strom.cluster.supervisor import ProcessInfo
from strom.config import ClusterOptions, Configuration, StackOptions

ZK_JARS = ("/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar",
           "/usr/share/java/log4j-1.2.jar")
JAVA_PACKAGE = "openjdk-17-jre-headless"

# The probes' clients must stay silent: a broker or server that is still starting refuses
# connections, and their logs would fill the terminal every 0.1 s.
_QUIET = logging.getLogger("strom.stack.probe")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def _installed(command: str) -> bool:
    return shutil.which(command) is not None


@dataclass(frozen=True)
class StackSettings:
    """Where the stack lives and how it runs, resolved once from :class:`StackOptions`."""

    state: Path
    kafka_libs: Path
    kafka_port: int
    kafka_controller_port: int
    zk_port: int
    redis_port: int
    kafka_heap_opts: str
    zk_heap_opts: str
    start_timeouts_s: dict[str, float]
    stop_timeout_s: float
    health_timeout_s: float

    @classmethod
    def from_config(cls, config: Configuration) -> StackSettings:
        """Raises :class:`strom.config.ConfigError` naming a variable that does not parse."""
        state = Path(config.get(ClusterOptions.STATE_DIR)).resolve()
        return cls(
            state=state, kafka_libs=Path(config.get(StackOptions.KAFKA_LIBS)),
            kafka_port=config.get(StackOptions.KAFKA_PORT),
            kafka_controller_port=config.get(StackOptions.KAFKA_CONTROLLER_PORT),
            zk_port=config.get(StackOptions.ZK_PORT), redis_port=config.get(StackOptions.REDIS_PORT),
            kafka_heap_opts=config.get(StackOptions.KAFKA_HEAP_OPTS),
            zk_heap_opts=config.get(StackOptions.ZK_HEAP_OPTS),
            start_timeouts_s={"kafka": config.get(StackOptions.KAFKA_START_TIMEOUT) / 1000,
                              "zookeeper": config.get(StackOptions.ZK_START_TIMEOUT) / 1000,
                              "redis": config.get(StackOptions.REDIS_START_TIMEOUT) / 1000},
            stop_timeout_s=config.get(StackOptions.STOP_TIMEOUT) / 1000,
            health_timeout_s=config.get(StackOptions.HEALTH_CHECK_TIMEOUT) / 1000)

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    def env_exports(self) -> dict[str, str]:
        """The clients' connection settings for this stack."""
        return {"STROM_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.kafka_port}",
                "STROM_ZOOKEEPER": f"127.0.0.1:{self.zk_port}",
                "STROM_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0"}


class Component(ABC):
    """One server of the stack."""

    name: str

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @property
    def dir(self) -> Path:
        return self.settings.state / self.name

    @property
    @abstractmethod
    def port(self) -> int:
        """The client port on 127.0.0.1."""

    @abstractmethod
    def missing_packages(self) -> list[str]:
        """Debian packages to install before this component can run."""

    @abstractmethod
    def write_config(self) -> None:
        """(Re)write the generated config files under :attr:`dir`."""

    @abstractmethod
    def command(self, log: Path) -> list[str]:
        """The server's command line (run in the foreground; the supervisor detaches it)."""

    @abstractmethod
    def is_ours(self, process: ProcessInfo) -> bool:
        """Is ``process`` this component, started from this state dir?"""

    @abstractmethod
    def healthy(self) -> bool:
        """Does it serve clients now? At most ``stack.health-check-timeout``."""


def kafka_cluster_id() -> str:
    """A new KRaft cluster id, as ``kafka-storage random-uuid`` makes it (URL-safe base64 of 16
    random bytes, not starting with '-'), without starting a JVM for it."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


class Kafka(Component):
    name = "kafka"

    @property
    def port(self) -> int:
        return self.settings.kafka_port

    def missing_packages(self) -> list[str]:
        missing = [] if _installed("java") else [JAVA_PACKAGE]
        if not (self.settings.kafka_libs / ".strom-complete").is_file() and not _installed("mvn"):
            missing.append("maven")
        return missing

    def write_config(self) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        s = self.settings
        (self.dir / "server.properties").write_text(KAFKA_SERVER_PROPERTIES.format(
            port=s.kafka_port, controller_port=s.kafka_controller_port, data=self.dir / "data"))
        (self.dir / "log4j2.properties").write_text(KAFKA_LOG4J2)
        self.write_tools_log4j()

    def write_tools_log4j(self) -> Path:
        """log4j2 config for command-line tools (format, --deep, kafka-run): stderr, WARN."""
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "tools-log4j2.properties"
        path.write_text(KAFKA_TOOLS_LOG4J2)
        return path

    def java(self, *args: str) -> list[str]:
        """Command line of a Java main class with the Kafka jars on the class path."""
        return ["java", "-cp", f"{self.settings.kafka_libs}/*",
                f"-Dlog4j2.configurationFile=file:{self.write_tools_log4j()}", *args]

    @property
    def formatted(self) -> bool:
        return (self.dir / "data" / "meta.properties").is_file()

    def cluster_id(self) -> str:
        """This stack's KRaft cluster id (made once, kept in ``kafka/cluster.id``)."""
        path = self.dir / "cluster.id"
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        cluster_id = kafka_cluster_id()
        path.write_text(cluster_id + "\n")
        return cluster_id

    def format_command(self, cluster_id: str) -> list[str]:
        return self.java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                         "-c", str(self.dir / "server.properties"), "--ignore-formatted")

    def command(self, log: Path) -> list[str]:
        return ["java", *self.settings.kafka_heap_opts.split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
                "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
                "-cp", f"{self.settings.kafka_libs}/*",
                f"-Dlog4j2.configurationFile=file:{self.dir / 'log4j2.properties'}",
                "kafka.Kafka", str(self.dir / "server.properties")]

    def is_ours(self, process: ProcessInfo) -> bool:
        return "kafka.Kafka" in process.argv and str(self.dir / "server.properties") in process.argv

    def version(self) -> str:
        jars = sorted(self.settings.kafka_libs.glob("kafka_2.13-*.jar"))
        return jars[0].name[len("kafka_2.13-"):-len(".jar")] if jars else "?"

    def healthy(self) -> bool:
        timeout_s = self.settings.health_timeout_s
        config: dict[str, Any] = {"bootstrap.servers": f"127.0.0.1:{self.port}", "logger": _QUIET,
                                  "socket.timeout.ms": int(timeout_s * 1000)}
        admin = AdminClient(config)
        try:
            return bool(admin.list_topics(timeout=timeout_s).brokers)
        except KafkaException:
            return False


class ZooKeeper(Component):
    name = "zookeeper"

    @property
    def port(self) -> int:
        return self.settings.zk_port

    def missing_packages(self) -> list[str]:
        packages = {"/usr/share/java/zookeeper.jar": "zookeeper",
                    "/usr/share/java/slf4j-log4j12.jar": "libslf4j-java",
                    "/usr/share/java/log4j-1.2.jar": "liblog4j1.2-java"}
        missing = [] if _installed("java") else [JAVA_PACKAGE]
        return missing + [package for jar, package in packages.items() if not Path(jar).is_file()]

    def write_config(self) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        (self.dir / "zoo.cfg").write_text(ZOO_CFG.format(data=self.dir / "data", port=self.port))
        (self.dir / "log4j.properties").write_text(ZK_LOG4J)

    def command(self, log: Path) -> list[str]:
        return ["java", *self.settings.zk_heap_opts.split(), "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true", "-cp", ":".join(ZK_JARS),
                f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
                "-Dzookeeper.jmx.log4j.disable=true",
                "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.dir / "zoo.cfg")]

    def is_ours(self, process: ProcessInfo) -> bool:
        return ("org.apache.zookeeper.server.ZooKeeperServerMain" in process.argv
                and str(self.dir / "zoo.cfg") in process.argv)

    def healthy(self) -> bool:
        client = KazooClient(hosts=f"127.0.0.1:{self.port}", logger=_QUIET,
                             timeout=self.settings.health_timeout_s)
        try:
            client.start(timeout=self.settings.health_timeout_s)
            return True
        except KazooTimeoutError:
            return False
        finally:
            client.stop()
            client.close()


class Redis(Component):
    name = "redis"

    @property
    def port(self) -> int:
        return self.settings.redis_port

    def missing_packages(self) -> list[str]:
        return [package for command, package in (("redis-server", "redis-server"), ("redis-cli", "redis-tools"))
                if not _installed(command)]

    def write_config(self) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)

    def command(self, log: Path) -> list[str]:
        # Not --daemonize: the supervisor detaches it and knows its pid, as for the JVMs.
        # appendfsync always: a crash loses no acknowledged write. With everysec the last second
        # could go, leaving the latest checkpoint behind what sinks already committed to Kafka
        # (the restore then fails with SinkMarkerError); bench/checkpoints.py measures the cost.
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir / "data"),
                "--logfile", str(log), "--appendonly", "yes", "--appendfsync", "always", "--save", ""]

    def is_ours(self, process: ProcessInfo) -> bool:
        # Redis rewrites its title ("redis-server 127.0.0.1:6379") and chdirs to --dir.
        return process.command_line.startswith("redis-server") and process.cwd == str(self.dir / "data")

    def healthy(self) -> bool:
        timeout_s = self.settings.health_timeout_s
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout_s,
                             socket_connect_timeout=timeout_s)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


COMPONENTS: tuple[type[Component], ...] = (ZooKeeper, Redis, Kafka)  # start order; stop order is reversed

KAFKA_SERVER_PROPERTIES = """\
# Generated by ops/stack — edits are overwritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={data}
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
delete.topic.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# After kill -9 the restarted node cannot re-register (DUPLICATE_BROKER_REGISTRATION)
# until the old incarnation's session expires: default 9 s, shortened for drills.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=3
num.io.threads=4
# No time-based retention: retention compares record timestamps with now, and
# examples and tests replay historical event time (2013 flights, 2023 clicks)
# whose segments would be deleted at the next retention check (every 5 min).
log.retention.ms=-1
log.segment.bytes=268435456
# How often the broker deletes segments below a partition's log start offset: intermediate
# topics are trimmed after every checkpoint (delete_records), their disk freed at this check.
log.retention.check.interval.ms=60000
"""

KAFKA_LOG4J2 = """\
# Generated by ops/stack. Console -> the stack's log file (stdout is redirected).
status = warn
name = strom-kafka
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = WARN
"""

KAFKA_TOOLS_LOG4J2 = """\
status = warn
name = strom-kafka-tools
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
"""

ZOO_CFG = """\
# Generated by ops/stack — edits are overwritten on every start.
tickTime=500
initLimit=10
syncLimit=5
minSessionTimeout=1000
maxSessionTimeout=60000
dataDir={data}
clientPort={port}
clientPortAddress=127.0.0.1
maxClientCnxns=0
4lw.commands.whitelist=ruok,stat,mntr,srvr
admin.enableServer=false
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
"""

ZK_LOG4J = """\
# Generated by ops/stack (log4j 1.2). Console -> the stack's log file.
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Threshold=INFO
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
# ops/stack's health check opens a session every 0.1 s while it waits; don't log each one
log4j.logger.org.apache.zookeeper.server.NIOServerCnxn=WARN
"""
