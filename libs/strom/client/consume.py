"""``strom consume``: the committed records of a topic (``read_committed``), for people.

>>> show(b"word", b"12"), show(None, b"\\xff\\x00")
('word\\t12', "-\\tb'\\\\xff\\\\x00'")
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, Message, TopicPartition

from strom.config import Configuration
from strom.errors import StromError
from strom.io.client_config import kafka_client_config


class UnknownTopicError(StromError):
    """The topic to read does not exist."""


def show(key: bytes | None, value: bytes | None) -> str:
    """``key<TAB>value``: UTF-8 as text, other bytes as a Python bytes literal, None as ``-``."""
    def text(data: bytes | None) -> str:
        if data is None:
            return "-"
        try:
            return data.decode()
        except UnicodeDecodeError:
            return repr(data)
    return f"{text(key)}\t{text(value)}"


def committed_records(bootstrap: str, topic: str, tail: bool = False, follow: bool = False,
                      max_records: int | None = None, config: Configuration | None = None) -> Iterator[Message]:
    """Committed records of every partition of ``topic``, from its start (``tail``: from its end).
    Stops at the end as it was when every partition was first read to it, unless ``follow``, and
    after ``max_records``; ``config``: whose Kafka client security settings (None: the environment's).
    Raises :class:`UnknownTopicError`."""
    consumer = Consumer(kafka_client_config(bootstrap, {
        "group.id": f"strom-consume-{uuid.uuid4().hex[:8]}", "isolation.level": "read_committed",
        "enable.auto.commit": False, "enable.partition.eof": True}, config=config))
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise UnknownTopicError(f"topic {topic!r} does not exist on {bootstrap}")
        start = OFFSET_END if tail else OFFSET_BEGINNING
        consumer.assign([TopicPartition(topic, p, start) for p in metadata.partitions])
        at_end: set[int] = set()
        shown = 0
        while follow or len(at_end) < len(metadata.partitions):
            for message in consumer.consume(500, timeout=0.5):
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise StromError(f"{topic}/{message.partition()}: {error}")
                    at_end.add(message.partition() or 0)
                    continue
                yield message
                shown += 1
                if max_records is not None and shown >= max_records:
                    return
    finally:
        consumer.close()
