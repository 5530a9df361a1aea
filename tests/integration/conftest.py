"""One real stack (Kafka, ZooKeeper, Redis from ops/stack) shared by every integration test.

Each test gets its own cluster id, so its control topics and ZooKeeper paths
are its own, and its own service processes, stopped when it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from strom.cluster.client import ClusterClient, ClusterStatus
from strom.cluster.local import LocalCluster
from strom.config import Configuration, KafkaOptions
from strom.io.client_config import kafka_client_config
from strom.testing.readiness import ClusterNotReadyError, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack() -> None:
    """Bring up (or reuse) the stack ops/stack manages."""
    subprocess.run([str(ROOT / "ops" / "stack"), "up"], check=True)


class TestCluster:
    """Service processes of one test, in a cluster of its own."""

    __test__ = False

    def __init__(self, state_dir: Path, **env_overrides: str) -> None:
        self.cluster_id = f"test-{uuid.uuid4().hex[:10]}"
        env = {**os.environ, "STROM_CLUSTER_ID": self.cluster_id, "STROM_STATE_DIR": str(state_dir),
               "STROM_REST_PORT": "0", "STROM_METRICS_REPORTER_PROM_PORT": "0", **env_overrides}
        self.config = Configuration(env=env)
        self.local = LocalCluster(state_dir, env=env)
        self._client: ClusterClient | None = None

    @property
    def client(self) -> ClusterClient:
        if self._client is None:
            self._client = ClusterClient(self.config)
        return self._client

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> int:
        return self.local.start(name, name.rsplit("-", 1)[0], *args, env=env)

    def start_standard(self, task_managers: int = 2, slots: int = 2,
                       tm_env: dict[int, dict[str, str]] | None = None) -> ClusterStatus:
        """1 ResourceManager, 1 JobManager, ``task_managers`` TaskManagers; waits until registered.

        ``tm_env``: extra environment of TaskManager i (1-based), e.g. a fault injection.
        """
        self.start("resourcemanager-1")
        self.start("jobmanager-1")
        for i in range(1, task_managers + 1):
            self.start(f"taskmanager-{i}", "--slots", str(slots), env=(tm_env or {}).get(i))
        return self.wait_for(
            lambda s: all(s.leaders.values()) and sum(
                1 for r in s.slot_table() if r["state"] == "REGISTERED") == task_managers,
            20.0, f"{task_managers} TaskManagers registered")

    def strom(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess:
        """Run the ``strom`` command against this cluster."""
        return subprocess.run([sys.executable, "-m", "strom", *args], capture_output=True, text=True,
                              env=self.local.env, timeout=timeout_s)

    def wait_for(self, predicate: Callable[[ClusterStatus], bool], timeout_s: float,
                 what: str) -> ClusterStatus:
        """Poll the live status until ``predicate`` holds; fail with the last status."""
        try:
            return wait_until_ready(self.client, predicate, timeout_s, what)
        except ClusterNotReadyError as exc:
            pytest.fail(f"{exc}\n" + self.logs())

    def kill_taskmanager_mid_job(self, job_id: str, name: str = "taskmanager-2") -> dict:
        """kill -9 ``name`` once the job completed a checkpoint; returns the job's final details
        after asserting it FINISHED through at least one restart."""
        from strom.client.jobs import JobClient
        client = JobClient(self.config)
        deadline = time.monotonic() + 60
        while client.checkpoints(job_id)["counts"].get("completed", 0) < 1:
            assert time.monotonic() < deadline, "no checkpoint completed in 60 s\n" + self.logs()
            time.sleep(0.05)
        self.local.signal(name, signal.SIGKILL)
        details = client.wait(job_id, timeout_s=120)
        assert details["state"] == "FINISHED" and details["restarts"] >= 1, details
        return details

    def auth(self) -> dict[str, str]:
        """The REST headers of this cluster's bearer token (its JobManager made the token file)."""
        from strom.credentials import rest_token
        return {"Authorization": f"Bearer {rest_token(self.config)}"}

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n" + p.log.read_text()[-3000:]
                         for p in self.local.processes() if p.log.exists())

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.local.down()
        # Topics of this cluster's jobs and control plane: thousands of partitions left behind
        # slow every Kafka restart down (a restart-kafka drill among them).
        admin = AdminClient(kafka_client_config(self.config.get(KafkaOptions.BOOTSTRAP), config=self.config))
        mine = [t for t in admin.list_topics(timeout=10).topics if t.startswith(f"strom.{self.cluster_id}.")]
        if mine:
            for future in admin.delete_topics(mine).values():
                try:
                    future.result(timeout=30)
                except KafkaException as exc:  # a JobMaster deleting its edge topics got there first
                    if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise


@pytest.fixture
def cluster(stack, tmp_path) -> TestCluster:
    test_cluster = TestCluster(tmp_path)
    yield test_cluster
    test_cluster.close()
