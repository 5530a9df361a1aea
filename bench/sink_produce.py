"""CPU a sink spends handing records to librdkafka: a ``produce`` call per record against
:func:`strom.io.kafka.produce_all` (``produce_batch`` for records without a timestamp).

    .venv/bin/python bench/sink_produce.py [--records 165000] [--rounds 3]

Builds one exactly-once epoch of WordCount output (the KJV's first ``--records`` words,
each with its running count, no timestamps), then produces it into a fresh 2-partition topic
on the stack's Kafka both ways, ABBA per round, and prints the process CPU time per record
(ns; librdkafka's threads included) of the produce calls, without the flush that follows.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from confluent_kafka import Producer
from wordcount import input_file  # bench/wordcount.py, beside this script: the benches share the KJV

from strom.config import Configuration, KafkaOptions
from strom.io.client_config import kafka_client_config
from strom.io.kafka import TopicSpec, ensure_topics, produce, produce_all
from strom.runtime.epochs import Epoch, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=165_000, help="records in the epoch")
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds")
    args = parser.parse_args()
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    topic = f"bench-sink-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 2)])
    producer = Producer(kafka_client_config(bootstrap, {"linger.ms": 20, "partitioner": "murmur2_random",
                                                        "enable.idempotence": True}))
    epoch, counts = Epoch(), {}
    for word in input_file(None).read_bytes().lower().split()[:args.records]:
        counts[word] = counts.get(word, 0) + 1
        epoch.append(word, b"%d" % counts[word], 0)
    chunk, n = epoch.chunk(), len(epoch)

    def per_record() -> None:
        for key, value, timestamp in records(chunk):
            produce(producer, topic, value, key=key, timestamp=timestamp)

    ways = {"a produce call per record": per_record,
            "produce_all (produce_batch)": lambda: produce_all(producer, topic, records(chunk))}
    ns: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name in (*ways, *reversed(ways)):
            started = time.process_time()
            ways[name]()
            ns[name].append((time.process_time() - started) * 1e9 / n)
            producer.flush(60)
    print(f"{n:,} records (WordCount output, no timestamps) into {topic}")
    for name, values in ns.items():
        print(f"{name:<30} {statistics.median(values):6,.0f} ns CPU a record (median of {len(values)})")


if __name__ == "__main__":
    main()
