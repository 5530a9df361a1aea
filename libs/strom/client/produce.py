"""Loading a text file into a Kafka topic, one record per line (``strom produce``)."""

from __future__ import annotations

import time
from typing import BinaryIO

from confluent_kafka import Producer

from strom.io.kafka import TopicSpec, ensure_topics, produce


def produce_lines(bootstrap: str, topic: str, file: BinaryIO, partitions: int = 2) -> tuple[int, float]:
    """Produce every line of ``file`` (without its newline, bytes unchanged) to ``topic``.

    Creates the topic with ``partitions`` partitions if missing. Returns
    (records, seconds). Raises RuntimeError if records remain undelivered.
    """
    ensure_topics(bootstrap, [TopicSpec(topic, partitions)])
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True,
                         "batch.num.messages": 10000})
    started = time.monotonic()
    count = 0
    for line in file:
        produce(producer, topic, line.rstrip(b"\n").rstrip(b"\r"))
        count += 1
        if count % 10000 == 0:
            producer.poll(0)
    remaining = producer.flush(60)
    if remaining:
        raise RuntimeError(f"{remaining} of {count} records not delivered to {topic}")
    return count, time.monotonic() - started
