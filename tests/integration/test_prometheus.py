"""A real Prometheus (Debian's) scrapes a live cluster: targets from the JobManager's HTTP service
discovery (``GET /metrics/targets`` with the REST bearer token), the job's series in its query API,
and every metric the Grafana dashboard (ops/grafana/dashboards/strom.json) shows."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from strom.client.jobs import JobClient

from .conftest import TestCluster
from .test_checkpoints import Job, corpus

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "strom.json"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

pytestmark = pytest.mark.skipif(not Path(PROMETHEUS).exists(),
                                reason="Debian's prometheus is not installed (apt-get install prometheus; "
                                       "ops/setup installs it as root)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    """/usr/bin/prometheus on 127.0.0.1, its config, data and log in ``directory``."""

    def __init__(self, directory: Path, jobmanager: str, token: str) -> None:
        directory.mkdir(parents=True)
        token_file = directory / "strom-rest-token"
        token_file.write_text(token)
        token_file.chmod(0o600)
        config = directory / "prometheus.yml"
        # JSON is YAML: Prometheus reads it as is. type Bearer explicit: Debian's 2.42 sends the bare
        # credentials to http_sd without it (scrapes default to Bearer).
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{
                "job_name": "strom",
                "http_sd_configs": [{"url": f"{jobmanager}/metrics/targets", "refresh_interval": "1s",
                                     "authorization": {"type": "Bearer", "credentials_file": str(token_file)}}],
            }],
        }, indent=2))
        check = subprocess.run([str(Path(PROMETHEUS).with_name("promtool")), "check", "config", str(config)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        self.log = directory / "prometheus.log"
        self.url = f"http://127.0.0.1:{free_port()}"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
                 f"--web.listen-address={self.url.removeprefix('http://')}"],
                cwd=directory, stdout=log, stderr=subprocess.STDOUT)
        self.wait(lambda: httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200 or None, 20,
                  "Prometheus ready")

    def wait(self, probe: Callable[[], Any], timeout_s: float, what: str | Callable[[], str]) -> Any:
        """Call ``probe`` until it returns something truthy; fail with ``what`` (called then if a
        function) and Prometheus' log after ``timeout_s``."""
        deadline, last = time.monotonic() + timeout_s, None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"Prometheus exited ({self.process.returncode}):\n{self.logs()}"
            try:
                found = probe()
                if found:
                    return found
                last = found
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.25)
        pytest.fail(f"{what() if callable(what) else what}: not within {timeout_s} s (last: {last})\n{self.logs()}")

    def query(self, promql: str) -> list[dict]:
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        answer.raise_for_status()
        return answer.json()["data"]["result"]

    def wait_values(self, promql: str, expected: list[float], timeout_s: float) -> None:
        """Until the values of ``promql``'s series are ``expected``."""
        self.wait(lambda: sorted(value(x) for x in self.query(promql)) == expected, timeout_s,
                  lambda: f"{promql} = {expected}: {self.query(promql)}")

    def targets(self) -> list[dict]:
        answer = httpx.get(f"{self.url}/api/v1/targets", params={"state": "active"}, timeout=5)
        answer.raise_for_status()
        return answer.json()["data"]["activeTargets"]

    def logs(self) -> str:
        return self.log.read_text()[-4000:]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def dashboard_metrics() -> set[str]:
    exprs = [t.get("expr", "") for p in json.loads(DASHBOARD.read_text())["panels"] for t in p.get("targets", [])]
    return {name for expr in exprs for name in re.findall(r"\bstrom_\w+", expr)}


LINES = 20_000


def value(series: dict) -> float:
    return float(series["value"][1])


def test_prometheus_scrapes_every_service_and_the_jobs_series(cluster: TestCluster, tmp_path):
    cluster.start_standard(task_managers=2, slots=2)
    jobmanager = JobClient(cluster.config).address
    headers = cluster.auth()

    # HTTP service discovery, Prometheus' format; the token is required like everywhere in REST.
    assert httpx.get(f"{jobmanager}/metrics/targets", timeout=5).status_code == 401
    deadline = time.monotonic() + 10
    while True:
        answer = httpx.get(f"{jobmanager}/metrics/targets", headers=headers, timeout=5)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json"), answer
        groups = answer.json()
        assert all(set(g) == {"targets", "labels"} and g["labels"]["strom_cluster"] == cluster.cluster_id
                   for g in groups), groups
        published = {t for g in groups for t in g["targets"]}
        if len(published) == 4 or time.monotonic() > deadline:  # 1 JobManager, 1 ResourceManager, 2 TaskManagers
            break
        time.sleep(0.2)
    assert len(published) == 4, groups

    prometheus = Prometheus(tmp_path / "prometheus", jobmanager, headers["Authorization"].split(" ", 1)[1])
    try:
        job = Job(cluster, corpus(LINES), "--unbounded")  # while Prometheus discovers (its first update takes ~5 s)
        # Every process discovered and scraped.
        targets = prometheus.wait(
            lambda: (ts := prometheus.targets()) and len(ts) == 4 and all(t["health"] == "up" for t in ts) and ts,
            15, "4 targets discovered and up")
        assert {t["labels"]["instance"] for t in targets} == published
        assert {t["labels"]["strom_cluster"] for t in targets} == {cluster.cluster_id}

        # The job's records in, per subtask (the strom_numRecordsIn).
        series = prometheus.wait(
            lambda: (s := prometheus.query(f'strom_task_numRecordsIn_total{{job_id="{job.job_id}"}}'))
            and any(value(x) > 0 for x in s) and s,
            30, f"strom_task_numRecordsIn_total of job {job.job_id} above 0")
        for x in series:
            labels = x["metric"]
            assert labels["job_name"] == "WordCount" and labels["strom_cluster"] == cluster.cluster_id, labels
            assert {"task_name", "subtask_index", "tm_id"} <= set(labels), labels
        # Counted exactly: the source task's subtasks read every line once.
        per_task = f'sum by (task_name) (strom_task_numRecordsIn_total{{job_id="{job.job_id}"}})'
        prometheus.wait(lambda: LINES in [value(x) for x in prometheus.query(per_task)], 20,
                        lambda: f"a task that read all {LINES} lines: {prometheus.query(per_task)}")

        # The cluster as the ResourceManager and JobManager leaders see it.
        where = f'{{strom_cluster="{cluster.cluster_id}"}}'
        for metric, expected in (("strom_cluster_taskSlotsTotal", 4), ("strom_cluster_numRegisteredTaskManagers", 2),
                                 ("strom_cluster_numRunningJobs", 1)):
            prometheus.wait_values(metric + where, [expected], 10)

        # Everything the Grafana dashboard shows exists (its names are the exported ones), once a
        # checkpoint completed and the sources reported their lag.
        job.wait_checkpoints(1)
        wanted = dashboard_metrics()
        names = f'{{__name__=~"strom_.*",strom_cluster="{cluster.cluster_id}"}}'

        def missing() -> set[str]:
            return wanted - {x["metric"]["__name__"] for x in prometheus.query(f"group by (__name__) ({names})")}
        prometheus.wait(lambda: not missing(), 15, lambda: f"the dashboard's metrics (missing: {sorted(missing())})")
        completed = f'strom_job_numberOfCompletedCheckpoints_total{{job_id="{job.job_id}"}}'
        prometheus.wait(lambda: any(value(x) >= 1 for x in prometheus.query(completed)), 10,
                        lambda: f"{completed} >= 1: {prometheus.query(completed)}")
    finally:
        prometheus.stop()
