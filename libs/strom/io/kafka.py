"""Kafka plumbing shared by the control and data planes (confluent-kafka)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential, wait_fixed

from strom.config import Configuration
from strom.errors import DeliveryFailedError, KafkaUnavailableError, StorageConfigError, TopicNotReadyError
from strom.io.client_config import kafka_client_config
from strom.logs import get_logger

log = get_logger("kafka")


class KafkaPartition(NamedTuple):
    """One partition of a topic, as a dict key: equal to, and hashed as, ``(topic, partition)``."""

    topic: str
    partition: int


@dataclass(frozen=True)
class TopicSpec:
    """A topic Strom creates: name, partitions and topic-level configs."""

    name: str
    partitions: int = 1
    config: dict[str, str] = field(default_factory=dict)


# librdkafka reports every failed reconnect (tens per second while a broker is down): say
# "waiting for Kafka" at once, then at most once per this many seconds, with the count since.
WAITING_LOG_INTERVAL_S = 5.0


def log_kafka_errors(component: str, clock=time.monotonic):
    """An ``error_cb`` for confluent-kafka clients: says what the client waits for when brokers
    are unreachable (librdkafka reconnects by itself, with backoff), without flooding the log."""
    last_logged = [float("-inf")]
    unlogged = [0]

    def on_error(error: KafkaError) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            now = clock()
            if now - last_logged[0] < WAITING_LOG_INTERVAL_S:
                unlogged[0] += 1
                return
            log.warning("waiting for Kafka", component=component, error=error.str(),
                        failures_since_last_line=unlogged[0])
            last_logged[0], unlogged[0] = now, 0
        else:
            log.error("kafka client error", component=component, error=error.str())
    return on_error


class DeliveryReports:
    """A producer's ``on_delivery`` callback that keeps what failed, for :meth:`check`.

    Give it with ``delivery.report.only.error=True`` (:meth:`producer_config`): librdkafka then
    reports only failed records, so a delivered one costs nothing here. Callbacks run inside
    ``poll``/``flush`` on the caller's thread. One instance may serve several producers.

    >>> reports = DeliveryReports()
    >>> reports.check()                   # nothing failed
    >>> reports.failed
    0
    """

    #: How much of a failed record's key and value the error shows (bytes).
    SHOWN_BYTES = 64

    def __init__(self) -> None:
        self.failed = 0                  # records Kafka did not take
        self.first: str | None = None    # what the first of them was

    def producer_config(self) -> dict[str, Any]:
        """librdkafka settings that report failed deliveries (only) to this object."""
        return {"on_delivery": self, "delivery.report.only.error": True}

    def __call__(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            return
        self.failed += 1
        if self.first is None:
            value, key = message.value() or b"", message.key()
            shown = key[:self.SHOWN_BYTES] if isinstance(key, bytes) else key
            self.first = (f"{message.topic()}[{message.partition()}] key={shown!r} value of {len(value)} bytes "
                          f"starting {value[:self.SHOWN_BYTES]!r}: {error.str()}")

    def check(self) -> None:
        """Raises :class:`~strom.errors.DeliveryFailedError` if any record failed delivery."""
        if self.failed:
            raise DeliveryFailedError(f"{self.failed} record(s) not delivered to Kafka; first: {self.first}")


#: transaction.timeout.ms of exactly-once sinks; brokers cap it at transaction.max.timeout.ms.
SINK_TRANSACTION_TIMEOUT_MS = 120_000


def exactly_once_problems(broker_config: dict[str, str], brokers: int) -> list[str]:
    """What in a broker's config (name -> value) breaks Strom's exactly-once sinks, one line each;
    ``brokers``: how many are alive now (replication needs above it are named too).

    >>> for line in exactly_once_problems({"transaction.max.timeout.ms": "60000",
    ...                                    "transaction.state.log.replication.factor": "3"}, brokers=1):
    ...     print(line)
    transaction.max.timeout.ms=60000 is below the sinks' transaction.timeout.ms 120000: init_transactions fails
    transaction.state.log.replication.factor=3 needs 3 brokers, the cluster has 1: transactions never start
    >>> exactly_once_problems({}, brokers=1)
    []
    """
    problems = []
    max_timeout = int(broker_config.get("transaction.max.timeout.ms", "900000"))
    if max_timeout < SINK_TRANSACTION_TIMEOUT_MS:
        problems.append(f"transaction.max.timeout.ms={max_timeout} is below the sinks' transaction.timeout.ms "
                        f"{SINK_TRANSACTION_TIMEOUT_MS}: init_transactions fails")
    for name in ("transaction.state.log.replication.factor", "transaction.state.log.min.isr",
                 "offsets.topic.replication.factor"):
        needed = int(broker_config.get(name, "1"))
        if needed > brokers:
            problems.append(f"{name}={needed} needs {needed} brokers, the cluster has {brokers}: "
                            f"{'transactions never start' if 'transaction' in name else 'consumer groups never work'}")
    return problems


def check_kafka_settings(admin: AdminClient, timeout_s: float = 30.0) -> None:
    """Raise :class:`~strom.errors.StorageConfigError` naming every broker setting that breaks
    exactly-once (:func:`exactly_once_problems`); a broker that does not answer is logged, not fatal
    (the services wait for Kafka anyway)."""
    from confluent_kafka.admin import ConfigResource
    try:
        metadata = admin.list_topics(timeout=timeout_s)
        broker = next(iter(metadata.brokers))
        resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
        config = admin.describe_configs([resource])[resource].result(timeout=timeout_s)
    except Exception as exc:
        log.warning("cannot read the broker's config; exactly-once settings unchecked", error=str(exc))
        return
    problems = exactly_once_problems({name: entry.value for name, entry in config.items() if entry.value is not None},
                                     len(metadata.brokers))
    # Metadata lists the live brokers only: one restarting in a bigger cluster is no reason to refuse.
    fatal = [p for p in problems if p.startswith("transaction.max.timeout.ms")]
    for problem in problems:
        if problem not in fatal:
            log.warning("Kafka may not be set up for exactly-once", problem=problem)
    if fatal:
        raise StorageConfigError("Kafka is not set up for exactly-once: " + "; ".join(fatal))


def produce(producer: Producer, topic: str, value: bytes | None, **kwargs: Any) -> float:
    """``producer.produce`` that waits for room when librdkafka's queue is full.

    ``kwargs`` go to ``Producer.produce`` (key, partition, headers, timestamp).
    Polls 50 ms at a time while the queue is full, so it blocks as long as Kafka
    does not take records; raises what ``Producer.produce`` raises besides BufferError.
    Returns the seconds it was blocked (0.0 when there was room): back-pressure.
    """
    try:
        producer.produce(topic, value, **kwargs)
        return 0.0
    except BufferError:
        started = time.monotonic()
    while True:
        producer.poll(0.05)  # deliver some of the queue, then try again
        try:
            producer.produce(topic, value, **kwargs)
            return time.monotonic() - started
        except BufferError:
            continue


#: Records per ``produce_batch`` call of :func:`produce_all`.
PRODUCE_BATCH_RECORDS = 10_000


def produce_all(producer: Producer, topic: str, records: Iterable[tuple[bytes | None, bytes, int]],
                queue_records: int = 100_000) -> float:
    """Produce ``records`` ((key, value, timestamp ms; 0: the producer's clock)) to ``topic`` in
    their order, the producer's partitioner placing them.

    Runs of records without a timestamp go through ``Producer.produce_batch``, one call per
    :data:`PRODUCE_BATCH_RECORDS` (it takes no timestamps; ~40 % less CPU a record than
    ``produce``, ``bench/sink_produce.py``); the others one
    ``produce`` each. Before a batch it polls until librdkafka's queue (``queue_records``: the
    producer's queue.buffering.max.messages) has room for all of it, so no record of a batch is
    refused and none overtakes another. Returns the seconds it waited for room (back-pressure).
    Raises :class:`KafkaException` for a record librdkafka refused anyway.
    """
    batch: list[dict[str, bytes]] = []
    blocked = 0.0

    def send() -> None:
        nonlocal blocked
        if len(producer) + len(batch) > queue_records:
            started = time.monotonic()
            while len(producer) + len(batch) > queue_records:
                producer.poll(0.05)
            blocked += time.monotonic() - started
        if producer.produce_batch(topic, batch) < len(batch):  # the refused ones carry "_error"
            raise KafkaException(next(message["_error"] for message in batch if "_error" in message))
        batch.clear()

    for key, value, timestamp in records:
        if timestamp:
            if batch:
                send()
            blocked += produce(producer, topic, value, key=key, timestamp=timestamp)
            continue
        batch.append({"value": value} if key is None else {"key": key, "value": value})
        if len(batch) >= PRODUCE_BATCH_RECORDS:
            send()
    if batch:
        send()
    return blocked


def consume_ready(consumer: Consumer, max_records: int, timeout_s: float) -> list[Message]:
    """Up to ``max_records`` records (messages or events): those ready now, else the first to
    arrive within ``timeout_s`` and whatever came with it; [] after the timeout.

    librdkafka's ``consume(n, timeout)`` returns only when ``n`` arrived or the timeout passed,
    so at a low rate every call waited its whole timeout (+100 ms per hop of a job); this never
    waits once a record is there, and drains full batches without waiting at a high rate.
    """
    records = consumer.consume(max_records, 0)
    if records or timeout_s <= 0:
        return records
    first = consumer.consume(1, timeout_s)
    return first + consumer.consume(max_records - 1, 0) if first and max_records > 1 else first


def admin_client(bootstrap: str, config: Configuration | None = None) -> AdminClient:
    """An admin client of ``bootstrap`` with the cluster's client security settings
    (:func:`~strom.io.client_config.kafka_client_config`; ``config`` None: the environment's)."""
    return AdminClient(kafka_client_config(bootstrap, config=config))


def ensure_topics(bootstrap: str, specs: list[TopicSpec], timeout_s: float = 30.0,
                  config: Configuration | None = None) -> None:
    """Create the topics of ``specs`` that do not exist yet and wait until the broker serves them;
    existing ones are left alone. One CreateTopics request for all of them, whose "already
    exists" answers are the existence check: no listing of every topic of the cluster, which
    costs 15-75 ms per call with a few thousand topics.

    Raises :class:`KafkaUnavailableError` when the broker does not answer
    within ``timeout_s``, :class:`TopicNotReadyError` when a created topic
    has no leaders after 30 s, :class:`ValueError` for one name wanted with
    two partition counts and :class:`KafkaException` when a partition is not served after 30 s
    (:func:`await_served`) or for any other failure.
    """
    wanted: dict[str, TopicSpec] = {}
    for spec in specs:  # two sinks may write one topic; librdkafka crashes on a name given twice
        if wanted.setdefault(spec.name, spec).partitions != spec.partitions:
            raise ValueError(f"topic {spec.name!r} wanted with {wanted[spec.name].partitions} and "
                             f"{spec.partitions} partitions")
    if not wanted:
        return
    admin = admin_client(bootstrap, config)
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=-1, config=s.config)
         for s in wanted.values()], operation_timeout=timeout_s, request_timeout=timeout_s)
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s + 5)
            created.append(wanted[name])
        except KafkaException as exc:
            code = exc.args[0].code()
            if code == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            if code in (KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN):
                raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer in {timeout_s:.0f} s: "
                                            f"{exc}") from exc
            raise
        except TimeoutError as exc:  # concurrent.futures' since 3.11
            raise KafkaUnavailableError(f"Kafka at {bootstrap} did not answer in {timeout_s:.0f} s") from exc
    for spec in created:
        await_partitions(admin, spec.name, spec.partitions)
        await_served(admin, spec.name, spec.partitions)


@retry(retry=retry_if_exception(lambda exc: isinstance(exc, TopicNotReadyError)), stop=stop_after_delay(30),
       wait=wait_exponential(multiplier=0.02, max=0.1), reraise=True)
def await_partitions(client: AdminClient | Producer, topic: str, partitions: int) -> None:
    """Return once ``client`` knows ``topic`` with ``partitions`` led partitions (retried up to
    30 s, then :class:`TopicNotReadyError`): the controller answers CreateTopics before the
    broker's metadata has the topic (seconds when it holds many). A producer that writes to
    explicit partitions must know them first: librdkafka queues a record for a partition it does
    not know yet on the topic's unassigned queue, from where it can be stuck or land behind
    records produced later (confluentinc/librdkafka#2033) - a network buffer behind the end of
    its partition."""
    metadata = client.list_topics(topic, timeout=10).topics.get(topic)
    ready = 0 if metadata is None or metadata.error else sum(
        1 for p in metadata.partitions.values() if p.leader >= 0)
    if ready < partitions:
        raise TopicNotReadyError(f"{topic}: {ready} of {partitions} partitions have a leader")


def _is_retriable(exc: BaseException) -> bool:
    # A new topic's leader is known to the controller before the broker serves it: meanwhile the
    # broker answers not leader, an unknown (newer) leader epoch, or no replica/offset yet.
    if not (isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError)):
        return False
    error = exc.args[0]
    return error.retriable() or error.code() in (KafkaError.NOT_LEADER_FOR_PARTITION,
                                                 KafkaError.UNKNOWN_TOPIC_OR_PART,
                                                 KafkaError.LEADER_NOT_AVAILABLE,
                                                 KafkaError.UNKNOWN_LEADER_EPOCH,
                                                 KafkaError.FENCED_LEADER_EPOCH,
                                                 KafkaError.REPLICA_NOT_AVAILABLE,
                                                 KafkaError.OFFSET_NOT_AVAILABLE,
                                                 KafkaError._UNKNOWN_PARTITION)


@retry(retry=retry_if_exception(lambda exc: isinstance(exc, TimeoutError) or _is_retriable(exc)),
       stop=stop_after_delay(30), wait=wait_fixed(0.025), reraise=True)
def await_served(admin: AdminClient, topic: str, partitions: int) -> None:
    """Return once the broker leading each of ``topic``'s ``partitions`` serves it: a ListOffsets
    for all of them answers (asked every 25 ms, so the wait is the broker's and not a backoff's,
    up to 30 s, then the last :class:`KafkaException` or TimeoutError).

    The metadata names a new partition's leader before that broker has created its log (half a
    second for 128 partitions on a loaded 2-core host). A produce request sent in between fails
    with NOT_LEADER_OR_FOLLOWER and is retried, and one sent after it can be appended first: the
    broker takes any first sequence from an idempotent producer it has no state for, then refuses
    the retry as out of order and the producer gives it up, so its records are lost without an
    error (KAFKA-15591, fixed in Kafka 4.5). Strom lost the first network buffers of new
    intermediate partitions that way."""
    latest_offsets(admin, [(topic, p) for p in range(partitions)])


@retry(retry=retry_if_exception(_is_retriable), stop=stop_after_delay(30),
       wait=wait_exponential(multiplier=0.02, max=1.0), reraise=True)
def end_offset(consumer: Consumer, topic: str, partition: int) -> int:
    """The high watermark of a partition, retried while a new topic's leader settles.

    Raises the last :class:`KafkaException` after 30 s.
    """
    _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    return high


def latest_offsets(admin: AdminClient, partitions: list[tuple[str, int]],
                   timeout_s: float = 10.0) -> dict[KafkaPartition, int]:
    """High watermarks of ``partitions``, in one ListOffsets request per broker. ``admin`` must
    outlive the call (a destroyed client drops its requests). Raises KafkaException, or
    TimeoutError after ``timeout_s``."""
    if not partitions:
        return {}
    futures = admin.list_offsets({TopicPartition(t, p): OffsetSpec.latest() for t, p in partitions},
                                 request_timeout=timeout_s)
    return {KafkaPartition(tp.topic, tp.partition): future.result(timeout=timeout_s).offset
            for tp, future in futures.items()}


def watermark_offsets(bootstrap: str, topics: list[str], timeout_s: float = 10.0,
                      properties: dict[str, str] | None = None) -> dict[str, dict[int, tuple[int, int]]]:
    """Per topic of ``topics`` that exists on ``bootstrap``: partition -> (low watermark, the
    first offset left; high watermark, the offset the next record gets); ``properties``: a source
    connector's. Raises KafkaException when Kafka does not answer in time."""
    consumer = Consumer(kafka_client_config(bootstrap, {"group.id": "strom-jobmaster"}, properties=properties))
    try:
        metadata = consumer.list_topics(timeout=timeout_s).topics
        return {topic: {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout_s)
                        for p in sorted(metadata[topic].partitions)}
                for topic in topics if topic in metadata and metadata[topic].error is None}
    finally:
        consumer.close()


#: librdkafka's default message.max.bytes: the largest request a Strom producer sends (bytes).
PRODUCER_MAX_MESSAGE_BYTES = 1_000_000


def max_message_bytes(bootstrap: str, topics: list[str], timeout_s: float = 10.0) -> dict[str, int]:
    """Per topic of ``topics``: the largest record batch Kafka accepts for it (bytes), the smaller
    of its ``max.message.bytes`` and :data:`PRODUCER_MAX_MESSAGE_BYTES`; a topic whose config cannot
    be read gets the producer's limit. Raises KafkaException when Kafka does not answer in time."""
    from confluent_kafka.admin import ConfigResource
    admin = admin_client(bootstrap)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, topic) for topic in topics]
    limits = {}
    for resource, future in (admin.describe_configs(resources) if resources else {}).items():
        try:
            value = future.result(timeout=timeout_s)["max.message.bytes"].value
        except (KafkaException, KeyError):
            value = None
        limits[resource.name] = min(int(value), PRODUCER_MAX_MESSAGE_BYTES) if value else PRODUCER_MAX_MESSAGE_BYTES
    return limits


def iter_to_end(bootstrap: str, topic: str, timeout_s: float = 120.0,
                extra_config: dict[str, Any] | None = None) -> Iterator[Message]:
    """Every committed record (``read_committed``) of ``topic`` up to its end offsets now, as a
    stream (nothing kept); ``extra_config`` goes to the consumer (an ``error_cb``, say).

    Stops at each partition's EOF rather than counting offsets: transaction
    markers take offsets but are never delivered. Raises TimeoutError when the
    end is not reached within ``timeout_s``.
    """
    consumer = Consumer(kafka_client_config(bootstrap, {
        "group.id": f"strom-read-{uuid.uuid4().hex[:8]}", "isolation.level": "read_committed",
        "enable.auto.commit": False, "enable.partition.eof": True,
        "max.partition.fetch.bytes": 10 * 1024 * 1024,  # 10x faster than 1 MiB
        **(extra_config or {})}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: end_offset(consumer, topic, p) for p in partitions}
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, 0) for p in pending])
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(pending)} not read to the end in {timeout_s} s")
            for message in consumer.consume(10000, timeout=0.2):
                if message.error():
                    if (message.offset() or 0) >= ends[message.partition()]:
                        pending.discard(message.partition())
                else:
                    yield message
    finally:
        consumer.close()


def read_to_end(bootstrap: str, topic: str, timeout_s: float = 120.0) -> list[Message]:
    """:func:`iter_to_end` as a list."""
    return list(iter_to_end(bootstrap, topic, timeout_s))
