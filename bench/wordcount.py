"""WordCount throughput on the King James Bible vs a raw confluent-kafka passthrough.

    .venv/bin/strom cluster up && .venv/bin/python bench/wordcount.py [--file F] [--runs 2]

Prints, from one run on one broker: end-to-end words/s of WordCount at
parallelism 1 and 2, and at 2 with checkpoints every second and an exactly-once
sink (submission to FINISHED, via ``strom run``), the
records/s of a plain consume -> produce loop over the same input records
(one consumer, one producer, no Strom), the same loop producing one record
per word, Bytewax's WordCount (bench/bytewax_wordcount.py, one worker, with and
without recovery snapshots every second; skipped without the ``bench`` extra). For each
job: seconds from start to end (``strom run`` to FINISHED) and its output's span (the
output topics keep LogAppendTime, so first to last record appended is the processing time),
words/s of each, and the span's rate as a fraction of the word passthrough's ("x raw").
Every job's output is counted: one record per word.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from strom.client.produce import produce_lines
from strom.config import Configuration, KafkaOptions
from strom.io.client_config import kafka_client_config
from strom.io.kafka import TopicSpec, end_offset, ensure_topics, iter_to_end, produce

ROOT = Path(__file__).resolve().parents[1]
WORD = re.compile(r"[^\W\d_]+")


def passthrough(bootstrap: str, source: str, target: str, records: int, split: bool = False) -> float:
    """Seconds to consume ``records`` from ``source`` and produce each to ``target``.

    ``split``: produce one record per word of each line instead (the work of
    WordCount's first hop, without state or a second hop).
    """
    ensure_topics(bootstrap, [TopicSpec(target, 2)])
    consumer = Consumer({**kafka_client_config(bootstrap), "group.id": f"bench-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "max.partition.fetch.bytes": 10 * 1024 * 1024})
    producer = Producer(kafka_client_config(bootstrap, {"linger.ms": 20, "batch.num.messages": 10000}))
    consumer.assign([TopicPartition(source, p, 0) for p in (0, 1)])
    started, seen = time.monotonic(), 0
    while seen < records:
        batch = consumer.consume(1000, timeout=0.1)
        for message in batch:
            if message.error():
                continue
            seen += 1
            if not split:
                produce(producer, target, message.value(), key=message.key())  # waits for room when Kafka lags
                continue
            for word in WORD.findall(message.value().decode("utf-8", "replace").lower()):
                produce(producer, target, word.encode(), key=word.encode())
        producer.poll(0)
    producer.flush(60)
    elapsed = time.monotonic() - started
    consumer.close()
    return elapsed


def output_topic(bootstrap: str, prefix: str) -> str:
    """A new 2-partition topic whose records carry LogAppendTime: the span of their timestamps is
    the processing time of whatever writes it, without start-up and shutdown."""
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 2, {"message.timestamp.type": "LogAppendTime"})])
    return topic


def output_span(bootstrap: str, topic: str) -> tuple[int, float]:
    """(records, seconds from the first to the last one's LogAppendTime) of ``topic``."""
    count, first, last = 0, None, None
    for record in iter_to_end(bootstrap, topic, timeout_s=600):
        appended = record.timestamp()[1]
        first = appended if first is None else min(first, appended)
        last = appended if last is None else max(last, appended)
        count += 1
    return count, ((last - first) / 1000 if count else 0.0)


def wordcount(bootstrap: str, source: str, words: int, parallelism: int, *options: str) -> tuple[float, float]:
    """(seconds from `strom run` to FINISHED, seconds of output span); ``options``:
    examples/wordcount.py's. Raises RuntimeError unless it wrote one record per word."""
    output = output_topic(bootstrap, "bench-wc-out")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "strom", "run", "-p", str(parallelism),
                    str(ROOT / "examples" / "wordcount.py"), "--", "--input", source, "--output", output,
                    "--dead-letter-topic", "bench-wc-dlq", *options], check=True, stdout=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    written, span = output_span(bootstrap, output)
    if written != words:
        raise RuntimeError(f"Strom wrote {written:,} records for {words:,} words")
    return seconds, span


def bytewax(bootstrap: str, source: str, recovery: bool, words: int) -> tuple[float, float] | None:
    """Seconds of ``python -m bytewax.run`` of bench/bytewax_wordcount.py, one worker, over
    ``source``; ``recovery``: snapshots every second into a fresh recovery directory (Bytewax's
    own state store; its Kafka output is at-least-once). None without bytewax installed.
    Raises RuntimeError unless it wrote one record per word (``words``)."""
    if importlib.util.find_spec("bytewax") is None:
        return None
    with tempfile.TemporaryDirectory(prefix="bench-bytewax-") as recovery_dir:
        options: list[str] = []
        if recovery:
            subprocess.run([sys.executable, "-m", "bytewax.recovery", recovery_dir, "1"], check=True,
                           stdout=subprocess.DEVNULL)
            options = ["-r", recovery_dir, "-s", "1", "-b", "0"]
        env = {**os.environ, "BENCH_BROKERS": bootstrap, "BENCH_INPUT": source,
               "BENCH_OUTPUT": output_topic(bootstrap, "bench-bytewax-out"), "PYTHONPATH": str(ROOT)}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "bytewax.run", "bench.bytewax_wordcount:flow", "-w", "1", *options],
                       check=True, env=env, stdout=subprocess.DEVNULL)
        seconds = time.monotonic() - started
    written, span = output_span(bootstrap, env["BENCH_OUTPUT"])
    if written != words:
        raise RuntimeError(f"Bytewax wrote {written:,} records for {words:,} words")
    return seconds, span


def input_file(file: str | None) -> Path:
    """``file``, or the King James Bible written by Debian's ``bible`` to /tmp (the benches' default)."""
    if file:
        return Path(file)
    path = Path("/tmp/strom-bench-kjv.txt")
    path.write_bytes(subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=None, help="text file (default: KJV via `bible`)")
    parser.add_argument("--runs", type=int, default=2, help="runs per configuration (median shown)")
    args = parser.parse_args()
    path = input_file(args.file)
    lines = path.read_bytes().splitlines()
    words = sum(len(WORD.findall(line.decode("utf-8", "replace").lower())) for line in lines)
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    source = f"bench-wc-in-{uuid.uuid4().hex[:8]}"
    with path.open("rb") as file:
        produce_lines(bootstrap, source, file, partitions=2)
    probe = Consumer(kafka_client_config(bootstrap, {"group.id": "bench-probe"}))
    assert sum(end_offset(probe, source, p) for p in (0, 1)) == len(lines)
    probe.close()

    print(f"input: {path} — {len(lines):,} lines, {words:,} words, topic {source} (2 partitions)")
    raw = statistics.median(passthrough(bootstrap, source, f"bench-pass-{uuid.uuid4().hex[:8]}", len(lines))
                            for _ in range(args.runs))
    print(f"raw confluent-kafka passthrough: {raw:6.2f} s  {len(lines) / raw:>10,.0f} records/s")
    split = statistics.median(
        passthrough(bootstrap, source, f"bench-split-{uuid.uuid4().hex[:8]}", len(lines), split=True)
        for _ in range(args.runs))
    print(f"raw line -> words passthrough:   {split:6.2f} s  {words / split:>10,.0f} words/s")
    print(f"{'':<44} {'total s':>8} {'words/s':>10} {'span s':>7} {'words/s':>10} {'x raw':>6}")

    def row(label: str, runs: list[tuple[float, float]]) -> None:
        seconds, span = (statistics.median(r[i] for r in runs) for i in (0, 1))
        print(f"{label:<44} {seconds:8.2f} {words / seconds:>10,.0f} {span:7.2f} {words / span:>10,.0f} "
              f"{split / span:6.2f}")
    for recovery in (False, True):
        label = f"Bytewax 0.21 WordCount, 1 worker{', recovery 1 s' if recovery else ''}"
        runs = [bytewax(bootstrap, source, recovery, words) for _ in range(args.runs)]
        if None in runs:
            print(f"{label}: skipped (pip install -e '.[bench]')")
        else:
            row(label, [r for r in runs if r is not None])
    for name, parallelism, options in (("p=1", 1, ()), ("p=2", 2, ()),
                                       ("p=2 exactly-once, 1 s checkpoints", 2, ("--checkpoint-interval", "1000"))):
        row(f"Strom WordCount {name}", [wordcount(bootstrap, source, words, parallelism, *options)
                                        for _ in range(args.runs)])


if __name__ == "__main__":
    main()
