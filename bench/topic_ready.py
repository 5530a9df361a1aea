"""How long a new topic takes to be usable: CreateTopics to every leader named in the metadata,
and to the broker serving every partition (a ListOffsets of all of them answers).

    ops/stack up && .venv/bin/python bench/topic_ready.py [--partitions 128] [--rounds 3]

``strom.io.kafka.ensure_topics`` waits for the second (``await_served``): a produce request in
between is refused, and an idempotent producer's later request can be appended first, which
loses the refused one (KAFKA-15591). A job's keyed edge has 128 partitions, so this is what a
job's start waits before it deploys. Rounds alternate the two waits (ABBA); prints ms per topic
and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid

from confluent_kafka.admin import NewTopic

from strom.config import Configuration, KafkaOptions
from strom.io.kafka import admin_client, await_partitions, await_served


def one_topic(admin, partitions: int, served: bool) -> float:
    """ms from CreateTopics until the topic is ready (``served``: until the broker serves it)."""
    topic = f"bench-ready-{uuid.uuid4().hex[:8]}"
    started = time.perf_counter()
    admin.create_topics([NewTopic(topic, partitions, -1)])[topic].result()
    await_partitions(admin, topic, partitions)
    if served:
        await_served(admin, topic, partitions)
    elapsed_ms = (time.perf_counter() - started) * 1000
    admin.delete_topics([topic])
    time.sleep(1.0)  # the broker deletes the logs: not inside the next measurement
    return elapsed_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=128, help="partitions of each topic")
    parser.add_argument("--rounds", type=int, default=3, help="ABBA rounds (4 topics each)")
    args = parser.parse_args()
    admin = admin_client(Configuration().get(KafkaOptions.BOOTSTRAP))
    one_topic(admin, args.partitions, True)  # warm-up: the admin client's connections
    waited: dict[bool, list[float]] = {False: [], True: []}
    for served in [False, True, True, False] * args.rounds:
        waited[served].append(one_topic(admin, args.partitions, served))
    for served, label in ((False, "leaders in the metadata"), (True, "every partition served")):
        runs = " ".join(f"{ms:.0f}" for ms in waited[served])
        print(f"{label:26} median {statistics.median(waited[served]):6.0f} ms  ({runs})  "
              f"{args.partitions} partitions")


if __name__ == "__main__":
    main()
