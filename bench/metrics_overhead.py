"""What metrics cost: WordCount on the KJV with metrics on (served, scraped every second) and off.

    ops/stack up && .venv/bin/python bench/metrics_overhead.py [--runs 3] [--file F]

Two clusters of their own on the running stack, 2 TaskManagers x 2 slots each, one
with ``metrics.enabled=false`` (no /metrics, no librdkafka statistics; the
per-batch counters of the record path stay: they are not switchable). Runs
alternate (on, off, off, on, ...) so drift of the machine and the order hit both alike; while a
run of the "on" cluster goes, a thread scrapes every /metrics endpoint of it once a
second, as Prometheus and the web UI would. Prints seconds from ``strom run`` to
FINISHED (parallelism 2, checkpoints every second) per run, the medians, and the
ratio on / off.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import uuid

import httpx
from cluster import BenchCluster  # bench/cluster.py, beside this script
from wordcount import input_file

from strom.client.produce import produce_lines
from strom.config import Configuration, KafkaOptions
from strom.credentials import rest_token


def wordcount_scraped(cluster: BenchCluster, source: str) -> float:
    """Seconds from ``strom run`` to FINISHED (p=2, checkpoints every second); with metrics on,
    every /metrics endpoint of the cluster is scraped once a second meanwhile."""
    stop = threading.Event()
    scraper = threading.Thread(target=_scrape, args=(cluster, stop), daemon=True)
    if cluster.name == "on":
        scraper.start()
    try:
        return cluster.wordcount(source, 2, "--checkpoint-interval", "1000")
    finally:
        stop.set()


def _scrape(cluster: BenchCluster, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {rest_token(cluster.config)}"}
    address = subprocess.run([sys.executable, "-c", "from strom.client.jobs import JobClient; "
                              "print(JobClient().address)"], env=cluster.env, capture_output=True,
                             text=True, check=True).stdout.strip()
    with httpx.Client(timeout=5) as http:
        while not stop.wait(1.0):
            for group in http.get(f"{address}/metrics/targets", headers=headers).json():
                for target in group["targets"]:
                    http.get(f"http://{target}/metrics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default=None, help="text file (default: KJV via `bible`)")
    parser.add_argument("--runs", type=int, default=6, help="runs per configuration (median shown)")
    args = parser.parse_args()
    path = input_file(args.file)
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    source = f"bench-mo-in-{uuid.uuid4().hex[:8]}"
    with path.open("rb") as file:
        lines, _seconds = produce_lines(bootstrap, source, file, partitions=2)
    clusters = [BenchCluster("on"), BenchCluster("off", {"STROM_METRICS_ENABLED": "false"})]
    for cluster in clusters:
        cluster.start()
    print(f"input: {path} — {lines:,} lines, topic {source}; WordCount p=2, checkpoints every 1 s")
    seconds: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for run in range(args.runs):
            for cluster in clusters if run % 2 == 0 else reversed(clusters):  # ABBA: order effects cancel
                seconds[cluster.name].append(wordcount_scraped(cluster, source))
                print(f"run {run + 1} metrics {cluster.name:<3}: {seconds[cluster.name][-1]:6.2f} s", flush=True)
    finally:
        for cluster in clusters:
            cluster.stop()
    on, off = statistics.median(seconds["on"]), statistics.median(seconds["off"])
    print(f"median: metrics on {on:.2f} s, off {off:.2f} s; on / off = {on / off:.3f} "
          f"({(on / off - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
