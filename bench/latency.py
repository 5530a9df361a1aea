"""End-to-end latency of WordCount at a low input rate, on the running cluster.

    .venv/bin/strom cluster up && .venv/bin/python bench/latency.py [--lines 200] [--rate 20]

For each configuration (at-least-once with the default 100 ms network buffer
timeout and with ``--buffer-timeout 0``; exactly-once with 1 s checkpoints and
the default timeout), runs ``examples/wordcount.py`` unbounded at parallelism 2,
produces ``--lines`` one-word lines (a new word each) at ``--rate`` lines/s, and
prints p50, p90, p99 and max of produce -> readable on the output topic
(``read_committed``) in ms, both clocks on this machine. A warm-up line must come
through first, so start-up is not counted.
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
CONFIGURATIONS = {
    "at-least-once, buffer timeout 100 ms": [],
    "at-least-once, buffer timeout 0": ["--buffer-timeout", "0"],
    "exactly-once (1 s checkpoints), buffer timeout 100 ms": ["--checkpoint-interval", "1000"],
}


def word(number: int) -> str:
    """A distinct word of letters per number (WordCount splits on anything else)."""
    return "".join(chr(97 + int(d)) for d in str(number))


def measure(bootstrap: str, options: list[str], lines: int, rate: float) -> list[float]:
    """Latencies (ms) of ``lines`` lines through one WordCount job run with ``options``."""
    run = uuid.uuid4().hex[:8]
    source, output = f"bench-lat-in-{run}", f"bench-lat-out-{run}"
    ensure_topics(bootstrap, [TopicSpec(source, 2), TopicSpec(output, 2)])
    submitted = subprocess.run(
        [sys.executable, "-m", "strom", "run", "-d", "-p", "2", str(ROOT / "examples" / "wordcount.py"), "--",
         "--unbounded", "--input", source, "--output", output, "--dead-letter-topic", f"bench-lat-dlq-{run}",
         *options], check=True, capture_output=True, text=True).stdout
    job_id = re.search(r"JobID (\w+)", submitted).group(1)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-lat-{run}",
                         "isolation.level": "read_committed", "fetch.wait.max.ms": 5})
    consumer.assign([TopicPartition(output, p, 0) for p in (0, 1)])
    sent: dict[bytes, float] = {}
    arrived: dict[bytes, float] = {}
    try:
        warm_up = b"warmup"
        producer.produce(source, warm_up)
        producer.flush(10)
        deadline = time.monotonic() + 120
        while warm_up not in arrived and time.monotonic() < deadline:
            receive(consumer, arrived, 0.1)
        if warm_up not in arrived:
            raise RuntimeError(f"job {job_id}: no output within 120 s")
        next_at = time.monotonic()
        for i in range(lines):
            while time.monotonic() < next_at:
                receive(consumer, arrived, max(0.0, min(0.005, next_at - time.monotonic())))
            key = word(i).encode()
            sent[key] = time.monotonic()
            producer.produce(source, key)
            producer.poll(0)
            next_at += 1 / rate
        producer.flush(10)
        deadline = time.monotonic() + 30
        while not sent.keys() <= arrived.keys() and time.monotonic() < deadline:
            receive(consumer, arrived, 0.05)
    finally:
        consumer.close()
        JobClient(Configuration()).cancel(job_id)
    missing = len(sent.keys() - arrived.keys())
    if missing:
        raise RuntimeError(f"job {job_id}: {missing} of {lines} lines had no output within 30 s")
    return [(arrived[key] - sent[key]) * 1000 for key in sent]


def receive(consumer: Consumer, arrived: dict[bytes, float], timeout_s: float) -> None:
    for message in consumer.consume(100, timeout=timeout_s):
        if message.error() is None:
            arrived.setdefault(message.key(), time.monotonic())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200, help="lines per configuration")
    parser.add_argument("--rate", type=float, default=20, help="lines per second")
    args = parser.parse_args()
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    print(f"{args.lines} one-word lines at {args.rate:g} lines/s through WordCount p=2; ms from produce "
          f"to readable (read_committed) on the output")
    print(f"{'configuration':56} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
    for name, options in CONFIGURATIONS.items():
        latencies = measure(bootstrap, options, args.lines, args.rate)
        cuts = statistics.quantiles(latencies, n=100)
        print(f"{name:56} {cuts[49]:7.0f} {cuts[89]:7.0f} {cuts[98]:7.0f} {max(latencies):7.0f}")


if __name__ == "__main__":
    main()
