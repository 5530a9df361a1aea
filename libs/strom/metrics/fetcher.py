"""The JobManager's view of the TaskManagers' metrics (Flink's ``MetricFetcher``).

It scrapes each live TaskManager's ``/metrics`` (the addresses in
:class:`~strom.metrics.reporter.MetricEndpoints`) over HTTP, parses the text
with ``prometheus_client``'s parser and keeps the result for
``metrics.fetcher.update-interval`` ms, so REST calls and the web UI cost at
most one scrape per TaskManager per interval. Thread-safe (REST handlers run
in a thread pool).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

from strom.logs import get_logger
from strom.metrics.reporter import MetricEndpoints

log = get_logger(__name__)

FETCH_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Sample:
    """One Prometheus sample: ``name`` without the ``strom_task_``-style prefix kept (full name)."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass
class TaskManagerMetrics:
    """What one TaskManager's endpoint answered; ``error`` when it did not."""

    tm_id: str
    address: str
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None
    fetched_ms: int = 0

    def value(self, name: str, default: float = 0.0) -> float:
        return next((s.value for s in self.samples if s.name == name), default)


class MetricFetcher:
    """``task_managers()``: the metrics of every live TaskManager, at most ``interval_ms`` old."""

    def __init__(self, endpoints: MetricEndpoints, interval_ms: int) -> None:
        self.endpoints, self.interval_s = endpoints, interval_ms / 1000
        self._lock = threading.Lock()
        self._fetched_at = -float("inf")
        self._cache: list[TaskManagerMetrics] = []
        self._http = httpx.Client(timeout=FETCH_TIMEOUT_S)

    def task_managers(self) -> list[TaskManagerMetrics]:
        with self._lock:
            if time.monotonic() - self._fetched_at >= self.interval_s:
                self._cache = [self._fetch(e["id"], e["address"]) for e in self.endpoints.live()
                               if e["service"] == "taskmanager"]
                self._fetched_at = time.monotonic()
            return list(self._cache)

    def task_samples(self, job_id: str) -> list[Sample]:
        """Every per-task and per-source-partition sample of ``job_id``."""
        return [s for tm in self.task_managers() for s in tm.samples if s.labels.get("job_id") == job_id]

    def _fetch(self, tm_id: str, address: str) -> TaskManagerMetrics:
        result = TaskManagerMetrics(tm_id, address, fetched_ms=int(time.time() * 1000))
        try:
            response = self._http.get(f"http://{address}/metrics")
            response.raise_for_status()
            result.samples = [Sample(s.name, dict(s.labels), s.value)
                              for family in text_string_to_metric_families(response.text)
                              for s in family.samples if not s.name.endswith("_created")]
        except (httpx.HTTPError, ValueError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            log.warning("taskmanager metrics not fetched", tm_id=tm_id, address=address, error=result.error)
        return result
