"""What a new task's Kafka clients cost before they work, in two librdkafka start-up waits
Strom now avoids.

    .venv/bin/python bench/client_start.py [--runs 6]

1. A consumer assigned librdkafka's logical OFFSET_BEGINNING before it has the partition's
   leader resolves it only when a 500 ms retry timer fires; assigned the partition's real first
   offset (its low watermark, what the JobManager now gives a source split starting at
   ``earliest``) it fetches as soon as the metadata arrives. Prints ms from ``assign`` to the
   first record.
2. A transactional producer with sparse connections (librdkafka's default) loses a race between
   its bootstrap connection's replacement and the transaction coordinator's, and
   ``init_transactions`` waits for the 500 ms PID timer; with ``enable.sparse.connections=false``
   (an exactly-once sink's producer now) it does not. Prints ms of a new producer's
   ``init_transactions``.
3. Not avoided: a new idempotent producer (a task's edge producer) that learned the topic's
   partitions, then sends one record to each of 128: ms to ``flush``. Some runs wait the same
   500 ms PID timer (the InitProducerId request goes out on the bootstrap connection, which
   librdkafka closes when the metadata names the broker), with sparse connections or without.

Each pair runs in ABBA order; the medians, and how many runs waited 500 ms or more, close each part.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from strom.config import Configuration, KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics


def first_record_ms(bootstrap: str, topic: str, start: int) -> float:
    """ms from assigning a new read_committed consumer to ``topic``'s partition 0 at ``start``
    to its first record (raises RuntimeError after 10 s)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-cs-{uuid.uuid4().hex[:8]}",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest"})
    try:
        started = time.monotonic()
        consumer.assign([TopicPartition(topic, 0, start)])
        while time.monotonic() - started < 10:
            if any(m.error() is None for m in consumer.consume(10, timeout=0.001)):
                return (time.monotonic() - started) * 1000
        raise RuntimeError(f"no record from {topic} in 10 s")
    finally:
        consumer.close()


def init_transactions_ms(bootstrap: str, sparse: bool) -> float:
    """ms from creating a producer with a new transactional.id to ``init_transactions`` returning."""
    started = time.monotonic()
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"bench-cs-{uuid.uuid4().hex}",
                         "enable.sparse.connections": sparse})
    producer.init_transactions(30)
    return (time.monotonic() - started) * 1000


def first_send_ms(bootstrap: str, topic: str, sparse: bool) -> float:
    """ms for a new idempotent producer that knows ``topic`` (128 partitions) to send a record
    to each partition and flush."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 20,
                         "enable.sparse.connections": sparse})
    producer.list_topics(topic, timeout=10)
    started = time.monotonic()
    for partition in range(128):
        producer.produce(topic, b"e", partition=partition)
    if producer.flush(30):
        raise RuntimeError(f"records to {topic} not delivered in 30 s")
    return (time.monotonic() - started) * 1000


def abba(runs: int, variants: dict[str, Callable[[], float]], unit: str) -> None:
    """Run each variant ``runs`` times in ABBA order, printing each figure and the medians."""
    results: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for i in range(runs):
        for name in names if i % 2 == 0 else names[::-1]:
            ms = variants[name]()
            results[name].append(ms)
            print(f"  {name:36} {ms:8.0f} ms")
    for name, values in results.items():
        slow = sum(v >= 500 for v in values)
        print(f"  {name + ' (median)':36} {statistics.median(values):8.0f} ms {unit}, "
              f"{slow} of {len(values)} runs >= 500 ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6, help="runs per variant (ABBA order)")
    args = parser.parse_args()
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    topic = f"bench-client-start-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 1)])
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, b"first")
    producer.flush(10)
    print("a new consumer, assign to its first record:")
    abba(args.runs, {"at OFFSET_BEGINNING": lambda: first_record_ms(bootstrap, topic, OFFSET_BEGINNING),
                     "at the low watermark (0)": lambda: first_record_ms(bootstrap, topic, 0)},
         "to the first record")
    print("a new transactional producer, init_transactions:")
    abba(args.runs, {"sparse connections": lambda: init_transactions_ms(bootstrap, True),
                     "enable.sparse.connections=false": lambda: init_transactions_ms(bootstrap, False)},
         "init_transactions")
    wide = f"bench-client-start-wide-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(wide, 128)])
    print("a new idempotent producer, a record to each of 128 partitions and flush:")
    abba(args.runs, {"sparse connections": lambda: first_send_ms(bootstrap, wide, True),
                     "enable.sparse.connections=false": lambda: first_send_ms(bootstrap, wide, False)},
         "to flush")


if __name__ == "__main__":
    main()
