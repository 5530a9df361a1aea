"""Nexmark q0-q8 (examples/nexmark/) on N events, next to a raw confluent-kafka passthrough of them.

    .venv/bin/strom cluster up && .venv/bin/python bench/nexmark.py [--events 2000000] [--queries q0,q1,q2]

Writes N events of Nexmark's generator (examples/nexmark/generator.py, 10,000 events/s of event
time) to a topic of 2 partitions once, times a plain consume -> produce loop over them (one
consumer, one producer, no Strom), then runs each query with ``strom run
-p 2`` on the running cluster and prints per query: the events, the seconds from submission to
FINISHED, the job's own duration (JobManager's start to FINISHED, REST ``duration``), the span
of its output (first to last record's LogAppendTime; windowed queries write late, so less than
the processing time), events/s over submission to FINISHED, that per core of this machine
(``os.cpu_count()``: the whole stack, Kafka included, shares them) and as a fraction of the
passthrough's events/s, and the 1-minute load average after it (other work on the machine
shows there). ``--runs N`` repeats passthrough and queries N times and adds the medians. Its
topics are deleted at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from wordcount import output_span, passthrough  # bench/wordcount.py, beside this script

from strom.client.jobs import JobClient
from strom.client.produce import produce_records
from strom.config import Configuration, KafkaOptions
from strom.io.kafka import TopicSpec, admin_client, ensure_topics

NEXMARK = Path(__file__).resolve().parents[1] / "examples" / "nexmark"
QUERIES = ("q0", "q1", "q2", "q3", "q4", "q5", "q7", "q8")


def load_generator() -> Any:
    """examples/nexmark/generator.py, as module ``nexmark_generator``."""
    spec = importlib.util.spec_from_file_location("nexmark_generator", NEXMARK / "generator.py")
    module = sys.modules["nexmark_generator"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_query(config: Configuration, query: str, source: str, output: str, parallelism: int) -> tuple[float, float]:
    """(seconds from `strom run` to FINISHED, the job's REST duration in s) of ``query`` from
    ``source`` to ``output`` (created first, with LogAppendTime timestamps)."""
    ensure_topics(config.get(KafkaOptions.BOOTSTRAP),
                  [TopicSpec(output, parallelism, {"message.timestamp.type": "LogAppendTime"})], config=config)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "strom", "run", "-p", str(parallelism), str(NEXMARK / f"{query}.py"),
                             "--", "--input", source, "--output", output], check=True, capture_output=True, text=True)
    seconds = time.monotonic() - started
    job_id = re.search(r"JobID (\w+)", result.stdout).group(1)
    client = JobClient(config)
    duration = client.details(job_id)["duration"] / 1000
    client.close()
    return seconds, duration


def row(run: str, name: str, records: int, seconds: float, events: int, raw: float, duration: str = "",
        span: str = "") -> str:
    """One line of the table: ``seconds`` from submission to FINISHED, ``raw`` the passthrough's."""
    cores = os.cpu_count() or 1
    return (f"{run:<4} {name:<6} {records:>10,} {seconds:>7.2f} {duration:>7} {span:>7} {events / seconds:>10,.0f} "
            f"{events / seconds / cores:>9,.0f} {raw / seconds:>7.2f} {os.getloadavg()[0]:>5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="events to generate (default 2,000,000)")
    parser.add_argument("--queries", default=",".join(QUERIES), help="comma-separated (default: all of them)")
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1, help="rounds of passthrough and queries (medians shown)")
    args = parser.parse_args()
    generator = load_generator()
    config = Configuration()
    bootstrap = config.get(KafkaOptions.BOOTSTRAP)
    source = f"bench-nexmark-{uuid.uuid4().hex[:8]}"
    events = generator.encoded(generator.GeneratorConfig(base_time=int(time.time() * 1000)), args.events)
    count, seconds = produce_records(bootstrap, source, events, partitions=2, config=config)
    print(f"{count:,} Nexmark events (10,000/s of event time) written to {source} (2 partitions) in {seconds:.1f} s;"
          f" {os.cpu_count()} cores")
    print(f"{'run':<4} {'query':<6} {'output':>10} {'run s':>7} {'job s':>7} {'span s':>7} {'events/s':>10} "
          f"{'per core':>9} {'of raw':>7} {'load':>5}")
    topics, raws, walls, outputs = [source], [], {}, {"raw": count}
    for run in range(1, args.runs + 1):
        topics.append(f"{source}-raw-{run}")
        raws.append(raw := passthrough(config.get(KafkaOptions.BOOTSTRAP), source, topics[-1], count))
        print(row(str(run), "raw", count, raw, count, raw), flush=True)
        for query in args.queries.split(","):
            topics.append(f"{source}-{query}-{run}")
            wall, duration = run_query(config, query, source, topics[-1], args.parallelism)
            walls.setdefault(query, []).append(wall)
            outputs[query], span = output_span(bootstrap, topics[-1])
            print(row(str(run), query, outputs[query], wall, count, raw, f"{duration:.2f}", f"{span:.2f}"), flush=True)
    if args.runs > 1:
        print(f"medians of {args.runs} runs:")
        raw = statistics.median(raws)
        for name, seconds_of_runs in {"raw": raws, **walls}.items():
            print(row("med", name, outputs[name], statistics.median(seconds_of_runs), count, raw), flush=True)
    admin = admin_client(bootstrap, config)
    for future in admin.delete_topics(topics).values():  # hundreds of MB each
        future.result(timeout=60)


if __name__ == "__main__":
    main()
