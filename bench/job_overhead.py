"""What a job costs besides its records: submission to first output, last output to FINISHED.

    .venv/bin/strom cluster up && .venv/bin/python bench/job_overhead.py [--runs 3]

Runs ``examples/wordcount.py`` (bounded, parallelism 2) over a one-line input, with and
without checkpoints (1 s, exactly-once sink), and prints per run, in ms: ``strom run``
started -> its output record readable (read_committed) on the output topic, that -> the
``strom run`` process saw FINISHED and exited, and the whole; then the first split in two at
the job's submit time (the JobManager's clock, this host's): the client's part (start-up,
building and uploading the job) and the cluster's (topics, slots, deployment, processing). The
medians close the table.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from strom.client.jobs import JobClient
from strom.config import Configuration, KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics

ROOT = Path(__file__).resolve().parents[1]


def one_run(client: JobClient, bootstrap: str, *options: str) -> tuple[float, float, float]:
    """(ms from `strom run` to the output readable, ms from there to `strom run` ending, ms
    from `strom run` to the job's submit time)."""
    run = uuid.uuid4().hex[:8]
    source, output = f"bench-oh-in-{run}", f"bench-oh-out-{run}"
    ensure_topics(bootstrap, [TopicSpec(source, 2), TopicSpec(output, 2)])
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(source, b"overhead")
    producer.flush(10)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-oh-{run}",
                         "isolation.level": "read_committed", "fetch.wait.max.ms": 5})
    consumer.assign([TopicPartition(output, p, 0) for p in (0, 1)])
    started, started_wall = time.monotonic(), time.time()
    job = subprocess.Popen([sys.executable, "-m", "strom", "run", "-p", "2", str(ROOT / "examples" / "wordcount.py"),
                            "--", "--input", source, "--output", output, "--dead-letter-topic", f"bench-oh-dlq-{run}",
                            *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    while first is None and time.monotonic() - started < 120:
        if any(m.error() is None for m in consumer.consume(10, timeout=0.005)):
            first = time.monotonic()
    stdout, stderr = job.communicate(timeout=120)
    ended = time.monotonic()
    consumer.close()
    if job.returncode != 0 or first is None:
        raise RuntimeError(f"strom run failed or wrote nothing (exit {job.returncode}): {stderr[-2000:]}")
    job_id = re.search(r"JobID (\w+)", stdout).group(1)
    submitted = client.details(job_id)["submit-time"] / 1000 - started_wall
    return (first - started) * 1000, (ended - first) * 1000, submitted * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    args = parser.parse_args()
    config = Configuration()
    bootstrap, client = config.get(KafkaOptions.BOOTSTRAP), JobClient(config)
    print(f"{'configuration':38} {'run->output':>12} {'output->end':>12} {'total':>8} {'client':>8} "
          f"{'submit->output':>15}  (ms)")
    for name, options in (("at-least-once", ()), ("exactly-once, 1 s checkpoints", ("--checkpoint-interval", "1000"))):
        rows = [one_run(client, bootstrap, *options) for _ in range(args.runs)]
        for first, last, submitted in rows:
            print(f"{name:38} {first:12.0f} {last:12.0f} {first + last:8.0f} {submitted:8.0f} "
                  f"{first - submitted:15.0f}")
        first, last, submitted = (statistics.median(r[i] for r in rows) for i in range(3))
        print(f"{name + ' (median)':38} {first:12.0f} {last:12.0f} {first + last:8.0f} {submitted:8.0f} "
              f"{statistics.median(r[0] - r[2] for r in rows):15.0f}")


if __name__ == "__main__":
    main()
