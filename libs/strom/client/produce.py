"""Loading records into a Kafka topic: a text file, one record per line (``strom produce``), or
(timestamp, value) pairs."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import BinaryIO

from confluent_kafka import Producer

from strom.config import Configuration
from strom.io.client_config import kafka_client_config
from strom.io.kafka import TopicSpec, ensure_topics, produce


def produce_lines(bootstrap: str, topic: str, file: BinaryIO, partitions: int = 2,
                  config: Configuration | None = None) -> tuple[int, float]:
    """Produce every line of ``file`` (without its newline, bytes unchanged) to ``topic``, line i
    to partition i mod the topic's partition count (:func:`produce_records`)."""
    return produce_records(bootstrap, topic, ((None, line.rstrip(b"\n").rstrip(b"\r")) for line in file),
                           partitions, config)


def produce_records(bootstrap: str, topic: str, records: Iterable[tuple[int | None, bytes]], partitions: int = 2,
                    config: Configuration | None = None) -> tuple[int, float]:
    """Produce ``records`` ((timestamp ms or None for now, value)) to ``topic``, the i-th to
    partition i mod the topic's partition count.

    Creates the topic with ``partitions`` partitions if missing; ``config``: whose Kafka client
    security settings (None: the environment's). Returns (records, seconds). Raises RuntimeError
    if records remain undelivered.
    """
    ensure_topics(bootstrap, [TopicSpec(topic, partitions)], config=config)
    producer = Producer(kafka_client_config(bootstrap, {"linger.ms": 20, "enable.idempotence": True,
                                                        "batch.num.messages": 10000}, config=config))
    # Round-robin, not librdkafka's sticky partitioner (a batch per partition in turn, which
    # leaves partitions uneven): parallel readers of the topic get equal shares.
    spread = len(producer.list_topics(topic, timeout=10).topics[topic].partitions)
    started = time.monotonic()
    count = 0
    for timestamp, value in records:
        produce(producer, topic, value, partition=count % spread, timestamp=timestamp or 0)
        count += 1
        if count % 10000 == 0:
            producer.poll(0)
    remaining = producer.flush(120)
    if remaining:
        raise RuntimeError(f"{remaining} of {count} records not delivered to {topic}")
    return count, time.monotonic() - started
