"""A cluster of a bench's own on the running stack: ``strom cluster up --no-stack`` under its own
cluster id, state dir and free ports, so two configurations can alternate in one run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from strom.config import Configuration

ROOT = Path(__file__).resolve().parents[1]


class BenchCluster:
    """``name``: what it stands for in the output; ``env``: STROM_* settings of all its processes;
    ``up``: arguments of ``strom cluster up`` (default 2 TaskManagers x 2 slots)."""

    def __init__(self, name: str, env: dict[str, str] | None = None,
                 up: tuple[str, ...] = ("--taskmanagers", "2", "--slots", "2")) -> None:
        self.name, self.up_args = name, up
        self.cluster_id = f"bench-{name.replace(' ', '-')}-{uuid.uuid4().hex[:6]}"
        self.env = {**os.environ, "STROM_CLUSTER_ID": self.cluster_id, "STROM_REST_PORT": "0",
                    "STROM_STATE_DIR": tempfile.mkdtemp(prefix=f"strom-{self.cluster_id}-"),
                    "STROM_METRICS_REPORTER_PROM_PORT": "0", **(env or {})}
        self.config = Configuration(env=self.env)

    def strom(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "strom", *args], check=True, env=self.env, stdout=subprocess.DEVNULL)

    def start(self) -> None:
        self.strom("cluster", "up", "--no-stack", *self.up_args)

    def stop(self) -> None:
        self.strom("cluster", "down")

    def wordcount(self, source: str, parallelism: int = 2, *options: str) -> float:
        """Seconds from ``strom run`` of examples/wordcount.py over ``source`` to FINISHED;
        ``options``: the example's (e.g. ``--checkpoint-interval 1000``)."""
        started = time.monotonic()
        self.strom("run", "-p", str(parallelism), str(ROOT / "examples" / "wordcount.py"), "--", "--input", source,
                   "--output", f"bench-out-{uuid.uuid4().hex[:8]}", "--dead-letter-topic", "bench-dlq", *options)
        return time.monotonic() - started
