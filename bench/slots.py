"""Slots as threads or as processes: WordCount p=2 on one TaskManager with 2 slots (the two
subtask chains share one interpreter and its GIL) against two TaskManagers with 1 slot each (a
process per slot), on 2 cores.

    ops/stack up && .venv/bin/python bench/slots.py [--runs 3] [--file F]

Two clusters of their own on the running stack; runs alternate (ABBA) so drift and order hit
both alike. Prints seconds from ``strom run`` to FINISHED and words/s per run, at-least-once and
exactly-once (checkpoints every second), the medians and the ratio threads / processes.
"""

from __future__ import annotations

import argparse
import statistics
import uuid

from cluster import BenchCluster  # bench/cluster.py, beside this script
from wordcount import WORD, input_file

from strom.client.produce import produce_lines
from strom.config import Configuration, KafkaOptions

MODES = {"at-least-once": (), "exactly-once": ("--checkpoint-interval", "1000")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=None, help="text file (default: KJV via `bible`)")
    parser.add_argument("--runs", type=int, default=3, help="runs per layout and mode (median shown)")
    args = parser.parse_args()
    path = input_file(args.file)
    words = sum(len(WORD.findall(line.lower())) for line in path.read_text(errors="replace").splitlines())
    source = f"bench-slots-in-{uuid.uuid4().hex[:8]}"
    with path.open("rb") as file:
        lines, _seconds = produce_lines(Configuration().get(KafkaOptions.BOOTSTRAP), source, file, partitions=2)
    clusters = [BenchCluster("threads", up=("--taskmanagers", "1", "--slots", "2")),
                BenchCluster("processes", up=("--taskmanagers", "2", "--slots", "1"))]
    for cluster in clusters:
        cluster.start()
    print(f"input: {path} — {lines:,} lines, {words:,} words, topic {source}; WordCount p=2")
    seconds: dict[tuple[str, str], list[float]] = {}
    try:
        for run in range(args.runs):
            for cluster in clusters if run % 2 == 0 else reversed(clusters):
                for mode, options in MODES.items():
                    took = cluster.wordcount(source, 2, *options)
                    seconds.setdefault((cluster.name, mode), []).append(took)
                    print(f"run {run + 1} {cluster.name:<9} {mode:<13} {took:6.2f} s {words / took:>9,.0f} words/s",
                          flush=True)
    finally:
        for cluster in clusters:
            cluster.stop()
    for mode in MODES:
        threads, processes = (statistics.median(seconds[(name, mode)]) for name in ("threads", "processes"))
        print(f"median {mode:<13}: threads {threads:.2f} s ({words / threads:,.0f} words/s), processes "
              f"{processes:.2f} s ({words / processes:,.0f} words/s); processes are {threads / processes:.2f}x "
              f"as fast")


if __name__ == "__main__":
    main()
