"""Sending and receiving control messages over Kafka control topics.

One single-partition topic per receiving role, namespaced by cluster id::

    strom.<cluster>.control.jobmanager        JobManagers read it
    strom.<cluster>.control.resourcemanager   ResourceManagers read it
    strom.<cluster>.control.taskmanager       TaskManagers read it (target_id picks one)
    strom.<cluster>.control.client            CLI clients read replies here

Every reader assigns the partition itself (no consumer group: each instance,
leader or standby, sees every message) starting at the end offset read just
before, so a message sent after :meth:`ControlChannel.start` returned is
never missed. Nothing is committed to Kafka.

Every record carries an HMAC-SHA256 of its bytes under the cluster secret
(:func:`~strom.credentials.cluster_secret`) in the ``strom-mac`` header; a
record without a valid one is refused before it is decoded and logged with
its topic, partition and offset (and counted in ``refused``). Whoever can
write to the control topics cannot forge a message without the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from strom import naming
from strom.config import (
    ClusterOptions,
    Configuration,
    ControlPlaneOptions,
    KafkaOptions,
)
from strom.control import codec
from strom.control.codec import ControlMessage
from strom.control.roles import Role
from strom.credentials import cluster_secret
from strom.errors import ControlMessageError, NotLeaderError
from strom.io.client_config import kafka_client_config
from strom.io.kafka import TopicSpec, end_offset, ensure_topics, log_kafka_errors
from strom.io.sealed import SEAL_FAILURES
from strom.logs import get_logger

log = get_logger(__name__)

MAC_HEADER = "strom-mac"  # HMAC-SHA256 of the record's value under the cluster secret


def control_topic(cluster_id: str, role: Role | str) -> str:
    """Name of the control topic read by ``role``; ValueError for a string that names no :class:`Role`."""
    return naming.control_topic(cluster_id, Role(role))


def control_topic_specs(config: Configuration) -> list[TopicSpec]:
    cluster_id = config.get(ClusterOptions.CLUSTER_ID)
    topic_config = {"retention.ms": str(config.get(ControlPlaneOptions.RETENTION)),
                    "cleanup.policy": "delete"}
    return [TopicSpec(control_topic(cluster_id, role), 1, topic_config) for role in Role]


class ControlChannel:
    """A process's connection to the control plane.

    ``inbox_role`` is the role whose topic this process reads (its own role).
    ``token_source`` returns the current fencing token of a leader-scoped
    process, or None while it is not leading; unfenced senders pass None.
    """

    def __init__(self, config: Configuration, sender_id: str, sender_role: Role,
                 token_source: Callable[[], int | None] | None = None) -> None:
        self.config = config
        self.sender_id = sender_id
        self.sender_role = sender_role
        self._token_source = token_source
        self._cluster_id = config.get(ClusterOptions.CLUSTER_ID)
        self._bootstrap = config.get(KafkaOptions.BOOTSTRAP)
        self._seq = itertools.count(1)
        self._seq_lock = threading.Lock()
        self._producer: Producer | None = None
        self._consumer: Consumer | None = None
        self.inbox_topic = control_topic(self._cluster_id, sender_role)
        self._secret = cluster_secret(config, create=True)  # the first process of a state dir makes it
        self.refused = 0  # records without a valid MAC

    def start(self) -> None:
        """Create the control topics if needed, then start reading the inbox from its end."""
        ensure_topics(self._bootstrap, control_topic_specs(self.config), config=self.config)
        self._producer = Producer(kafka_client_config(self._bootstrap, {
            "enable.idempotence": True,
            "linger.ms": 2,
            "client.id": self.sender_id,
            "error_cb": log_kafka_errors("control producer"),
        }, config=self.config))
        self._consumer = Consumer(kafka_client_config(self._bootstrap, {
            "group.id": f"strom-control-{self.sender_id}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "fetch.wait.max.ms": 20,
            "client.id": self.sender_id,
            "error_cb": log_kafka_errors("control consumer"),
        }, config=self.config))
        high = end_offset(self._consumer, self.inbox_topic, 0)
        self._consumer.assign([TopicPartition(self.inbox_topic, 0, high)])

    def send(self, to_role: Role, kind: str, body: Mapping[str, Any], *,
             target_id: str | None = None, fenced: bool = False) -> ControlMessage:
        """Send one message to the topic of ``to_role``. Services send through the gateways of
        :mod:`strom.control.gateways`, which build ``body`` from the message dataclass.

        ``fenced=True`` stamps the current leader token and raises
        :class:`NotLeaderError` if there is none. Delivery is asynchronous;
        :meth:`flush` waits for it.
        """
        token = None
        if fenced:
            token = self._token_source() if self._token_source else None
            if token is None:
                raise NotLeaderError(f"{self.sender_id} is not leader; refusing to send {kind}")
        with self._seq_lock:
            seq = next(self._seq)
        message = ControlMessage(type=kind, sender_id=self.sender_id, sender_role=self.sender_role,
                                 seq=seq, body=body, fencing_token=token, target_id=target_id)
        assert self._producer is not None, "start() first"
        value = codec.encode(message)
        self._producer.produce(control_topic(self._cluster_id, to_role), value,
                               key=(target_id or "").encode() or None, headers=[(MAC_HEADER, self._mac(value))])
        self._producer.poll(0)
        return message

    def flush(self, timeout_s: float = 10.0) -> None:
        if self._producer is not None:
            self._producer.flush(timeout_s)

    def poll(self, timeout_s: float) -> list[ControlMessage]:
        """Messages for this process that arrived within ``timeout_s``.

        Records that do not decode are logged with topic/partition/offset and
        skipped; messages addressed to another instance are skipped.
        """
        assert self._consumer is not None and self._producer is not None, "start() first"
        messages: list[ControlMessage] = []
        for record in self._consumer.consume(num_messages=500, timeout=timeout_s):
            error = record.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("control topic error", error=str(error))
                continue
            if not self._authentic(record):
                self.refused += 1
                SEAL_FAILURES.labels("control").inc()
                log.error("control record refused: no valid MAC (not sent by a member of this cluster, or "
                          "cluster.secret differs)", topic=record.topic(), partition=record.partition(),
                          offset=record.offset())
                continue
            try:
                message = codec.decode(record.value())
            except ControlMessageError as exc:
                log.error("skipping undecodable control record", topic=record.topic(),
                          partition=record.partition(), offset=record.offset(), error=str(exc))
                continue
            if message.target_id is None or message.target_id == self.sender_id:
                messages.append(message)
        self._producer.poll(0)
        return messages

    def _mac(self, value: bytes) -> bytes:
        return hmac.new(self._secret, value, hashlib.sha256).digest()

    def _authentic(self, record: Any) -> bool:
        macs = [v for k, v in (record.headers() or []) if k == MAC_HEADER]
        return len(macs) == 1 and hmac.compare_digest(macs[0], self._mac(record.value() or b""))

    def lag(self) -> int:
        """Messages in the inbox not read yet: the partition end librdkafka last saw minus the
        position (a metric; 0 before :meth:`start` or the first fetch)."""
        if self._consumer is None:
            return 0
        partition = TopicPartition(self.inbox_topic, 0)
        _low, high = self._consumer.get_watermark_offsets(partition, cached=True)
        (position,) = self._consumer.position([partition])
        return max(0, high - position.offset) if high >= 0 and position.offset >= 0 else 0

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(5)
        if self._consumer is not None:
            self._consumer.close()


def new_instance_id(role: str) -> str:
    """A process id such as ``taskmanager-3f9c2a1b``: unique per process start."""
    return f"{role.lower()}-{uuid.uuid4().hex[:8]}"

