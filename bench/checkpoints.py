"""Checkpointing costs and recovery time, on the running cluster.

    .venv/bin/strom cluster up && .venv/bin/python bench/checkpoints.py [--words 822552]

Prints, from one run:
1. WordCount throughput (words/s, submission to FINISHED) with checkpoints
   off, every 5 s and every 1 s (exactly-once sink), and every 1 s with an
   at-least-once sink, with ratios to the checkpoint-free run; the 1 s
   exactly-once row again with Redis ``appendfsync everysec`` instead of the
   stack's ``always`` (what fsyncing every checkpoint write costs);
2. checkpoint duration and size with 100 K and 1 M keys of keyed state;
3. recovery time: kill -9 of a TaskManager to the first new committed output record.
"""

from __future__ import annotations

import argparse
import io
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer

from strom.client.jobs import JobClient
from strom.client.produce import produce_lines
from strom.cluster.local import LocalCluster
from strom.config import ClusterOptions, Configuration, HeartbeatOptions, KafkaOptions
from strom.io.client_config import kafka_client_config
from strom.io.kafka import end_offset
from strom.io.redis import redis_client

ROOT = Path(__file__).resolve().parents[1]
WORDCOUNT = str(ROOT / "examples" / "wordcount.py")
WORD = re.compile(r"[^\W\d_]+")


def strom(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "strom", *args], check=True, capture_output=True,
                          text=True).stdout


def new_topic(bootstrap: str, lines: list[bytes], prefix: str) -> str:
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    produce_lines(bootstrap, topic, io.BytesIO(b"\n".join(lines) + b"\n"), partitions=2)
    return topic


def run_wordcount(source: str, *options: str, detached: bool = False) -> tuple[str, str, float]:
    """(job id, output topic, seconds from submission to FINISHED or to submitted)."""
    output = f"bench-cp-out-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    out = strom("run", *(["-d"] if detached else []), "-p", "2", WORDCOUNT, "--", "--input", source,
                "--output", output, "--dead-letter-topic", "bench-cp-dlq", *options)
    return re.search(r"JobID (\w+)", out).group(1), output, time.monotonic() - started


def letters(number: int) -> str:
    """A distinct lowercase word per number (WordCount's words are letters only): 0 -> 'a', 26 -> 'ba'."""
    word = ""
    while True:
        number, digit = divmod(number, 26)
        word = chr(97 + digit) + word
        if number == 0:
            return word


def committed_end(bootstrap: str, topic: str) -> int:
    consumer = Consumer(kafka_client_config(bootstrap, {"group.id": "bench", "isolation.level": "read_committed"}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return sum(end_offset(consumer, topic, p) for p in partitions)
    finally:
        consumer.close()


def throughput(bootstrap: str, lines: list[bytes], words: int) -> None:
    source = new_topic(bootstrap, lines, "bench-cp-in")
    print(f"1. WordCount throughput, {words:,} words, parallelism 2")
    base = None
    redis = redis_client(Configuration())
    stack_fsync = redis.config_get("appendfsync")["appendfsync"]
    print(f"   (Redis appendfsync {stack_fsync} unless the row says otherwise)")
    for label, options, fsync in [
            ("checkpoints off (at-least-once sink)", [], stack_fsync),
            ("every 5 s, exactly-once sink", ["--checkpoint-interval", "5000"], stack_fsync),
            ("every 1 s, exactly-once sink", ["--checkpoint-interval", "1000"], stack_fsync),
            ("every 1 s, exactly-once, fsync everysec", ["--checkpoint-interval", "1000"], "everysec"),
            ("every 1 s, at-least-once sink", ["--checkpoint-interval", "1000",
                                               "--delivery-guarantee", "at-least-once"], stack_fsync)]:
        redis.config_set("appendfsync", fsync)
        try:
            _job, _out, seconds = run_wordcount(source, *options)
        finally:
            redis.config_set("appendfsync", stack_fsync)
        base = base or seconds
        print(f"   {label:<40} {seconds:6.2f} s {words / seconds:>10,.0f} words/s  ({base / seconds:.2f}x)")


def state_checkpoints(bootstrap: str, client: JobClient, keys: int) -> None:
    lines = [letters(i).encode() for i in range(keys)]
    source = new_topic(bootstrap, lines, "bench-keys")
    job_id, output, _ = run_wordcount(source, "--checkpoint-interval", "1000", "--unbounded", detached=True)
    deadline = time.monotonic() + 600
    while committed_end(bootstrap, output) < keys and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)  # a few checkpoints of the full state
    latest = client.checkpoints(job_id)["latest"]["completed"]
    client.cancel(job_id)
    client.wait(job_id, timeout_s=60)
    print(f"   {keys:>9,} keys: checkpoint {latest['duration']:>6} ms, {latest['state-size'] / 2**20:8.1f} MiB")


def recovery(bootstrap: str, client: JobClient, lines: list[bytes]) -> None:
    config = Configuration()
    local = LocalCluster(config.get(ClusterOptions.STATE_DIR))
    source = new_topic(bootstrap, lines, "bench-rec")
    job_id, output, _ = run_wordcount(source, "--checkpoint-interval", "500", detached=True)
    while client.checkpoints(job_id)["counts"].get("completed", 0) < 2:
        time.sleep(0.05)
    killed = time.monotonic()
    local.signal("taskmanager-2", signal.SIGKILL)
    # Output committed from here on is the restarted job's: until the restart no checkpoint
    # can complete (the dead TaskManager's tasks never ack), and the restart aborts the pending one.
    while client.details(job_id)["restarts"] < 1:
        time.sleep(0.05)
    restarted = time.monotonic() - killed
    before = committed_end(bootstrap, output)
    while committed_end(bootstrap, output) <= before:
        time.sleep(0.05)
    recovered = time.monotonic() - killed
    client.wait(job_id, timeout_s=300)
    local.start("taskmanager-2", "taskmanager", "--slots", "2")
    print(f"3. recovery: kill -9 of a TaskManager -> restart {restarted:.1f} s -> first new committed "
          f"output record {recovered:.1f} s (heartbeat.timeout {config.get(HeartbeatOptions.TIMEOUT)} ms, "
          f"checkpoint interval 500 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=822_552, help="input size in words (KJV length)")
    args = parser.parse_args()
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout
    vocabulary = WORD.findall(text.decode().lower())
    lines = [vocabulary[i % len(vocabulary)].encode() for i in range(args.words)]
    client = JobClient()
    throughput(bootstrap, lines, args.words)
    print("2. checkpoint duration and size (WordCount state, exactly-once sink, every 1 s)")
    for keys in (100_000, 1_000_000):
        state_checkpoints(bootstrap, client, keys)
    recovery(bootstrap, client, lines)


if __name__ == "__main__":
    main()
