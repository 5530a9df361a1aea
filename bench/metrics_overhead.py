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
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from wordcount import input_file  # bench/wordcount.py, beside this script

from strom.client.produce import produce_lines
from strom.config import Configuration, KafkaOptions
from strom.credentials import rest_token

ROOT = Path(__file__).resolve().parents[1]


class BenchCluster:
    """``strom cluster up --no-stack`` under a cluster id and state dir of its own."""

    def __init__(self, metrics: bool) -> None:
        self.metrics = metrics
        self.cluster_id = f"bench-metrics-{'on' if metrics else 'off'}-{uuid.uuid4().hex[:6]}"
        self.env = {**os.environ, "STROM_CLUSTER_ID": self.cluster_id, "STROM_REST_PORT": "0",
                    "STROM_STATE_DIR": tempfile.mkdtemp(prefix=f"strom-{self.cluster_id}-"),
                    "STROM_METRICS_REPORTER_PROM_PORT": "0", "STROM_METRICS_ENABLED": str(metrics).lower()}
        self.config = Configuration(env=self.env)

    def strom(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "strom", *args], check=True, env=self.env, stdout=subprocess.DEVNULL)

    def wordcount(self, source: str) -> float:
        """Seconds from ``strom run`` to FINISHED; scrapes /metrics every second meanwhile (metrics on)."""
        stop = threading.Event()
        scraper = threading.Thread(target=self._scrape, args=(stop,), daemon=True)
        started = time.monotonic()
        if self.metrics:
            scraper.start()
        try:
            self.strom("run", "-p", "2", str(ROOT / "examples" / "wordcount.py"), "--", "--input", source,
                       "--output", f"bench-mo-out-{uuid.uuid4().hex[:8]}", "--dead-letter-topic", "bench-mo-dlq",
                       "--checkpoint-interval", "1000")
            return time.monotonic() - started
        finally:
            stop.set()

    def _scrape(self, stop: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {rest_token(self.config)}"}
        address = subprocess.run([sys.executable, "-c", "from strom.client.jobs import JobClient; "
                                  "print(JobClient().address)"], env=self.env, capture_output=True,
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
    clusters = [BenchCluster(metrics=True), BenchCluster(metrics=False)]
    for cluster in clusters:
        cluster.strom("cluster", "up", "--no-stack", "--taskmanagers", "2", "--slots", "2")
    print(f"input: {path} — {lines:,} lines, topic {source}; WordCount p=2, checkpoints every 1 s")
    seconds: dict[bool, list[float]] = {True: [], False: []}
    try:
        for run in range(args.runs):
            for cluster in clusters if run % 2 == 0 else reversed(clusters):  # ABBA: order effects cancel
                seconds[cluster.metrics].append(cluster.wordcount(source))
                print(f"run {run + 1} metrics {'on ' if cluster.metrics else 'off'}: "
                      f"{seconds[cluster.metrics][-1]:6.2f} s", flush=True)
    finally:
        for cluster in clusters:
            cluster.strom("cluster", "down")
    on, off = statistics.median(seconds[True]), statistics.median(seconds[False])
    print(f"median: metrics on {on:.2f} s, off {off:.2f} s; on / off = {on / off:.3f} "
          f"({(on / off - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()
