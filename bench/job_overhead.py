"""What a job costs besides its records: submission to first output, last output to FINISHED.

    .venv/bin/strom cluster up && .venv/bin/python bench/job_overhead.py [--runs 3]

Runs ``examples/wordcount.py`` (bounded, parallelism 2) over a one-line input, with and
without checkpoints (1 s, exactly-once sink), and prints per run, in ms: ``strom run``
started -> its output record readable (read_committed) on the output topic, that -> the
``strom run`` process saw FINISHED and exited, and the whole. The medians close the table.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from strom.config import Configuration, KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics

ROOT = Path(__file__).resolve().parents[1]


def one_run(bootstrap: str, *options: str) -> tuple[float, float]:
    """(ms from `strom run` to the output readable, ms from there to `strom run` ending)."""
    run = uuid.uuid4().hex[:8]
    source, output = f"bench-oh-in-{run}", f"bench-oh-out-{run}"
    ensure_topics(bootstrap, [TopicSpec(source, 2), TopicSpec(output, 2)])
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(source, b"overhead")
    producer.flush(10)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-oh-{run}",
                         "isolation.level": "read_committed", "fetch.wait.max.ms": 5})
    consumer.assign([TopicPartition(output, p, 0) for p in (0, 1)])
    started = time.monotonic()
    job = subprocess.Popen([sys.executable, "-m", "strom", "run", "-p", "2", str(ROOT / "examples" / "wordcount.py"),
                            "--", "--input", source, "--output", output, "--dead-letter-topic", f"bench-oh-dlq-{run}",
                            *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    while first is None and time.monotonic() - started < 120:
        if any(m.error() is None for m in consumer.consume(10, timeout=0.005)):
            first = time.monotonic()
    _, stderr = job.communicate(timeout=120)
    ended = time.monotonic()
    consumer.close()
    if job.returncode != 0 or first is None:
        raise RuntimeError(f"strom run failed or wrote nothing (exit {job.returncode}): {stderr[-2000:]}")
    return (first - started) * 1000, (ended - first) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    args = parser.parse_args()
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    print(f"{'configuration':44} {'run->output':>12} {'output->end':>12} {'total':>8}  (ms)")
    for name, options in (("at-least-once", ()), ("exactly-once, 1 s checkpoints", ("--checkpoint-interval", "1000"))):
        rows = [one_run(bootstrap, *options) for _ in range(args.runs)]
        for first, last in rows:
            print(f"{name:44} {first:12.0f} {last:12.0f} {first + last:8.0f}")
        first, last = statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)
        print(f"{name + ' (median)':44} {first:12.0f} {last:12.0f} {first + last:8.0f}")


if __name__ == "__main__":
    main()
