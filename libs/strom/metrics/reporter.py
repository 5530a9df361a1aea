"""Serving a process's metrics (prometheus_client's HTTP server) and publishing where.

>>> MetricsReporter.ports((9249, 9251))
[9249, 9250, 9251]
>>> MetricsReporter.ports((0, 0))
[0]
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from strom import naming
from strom.config import ClusterOptions, Configuration, MetricsOptions
from strom.io.sealed import SEAL_FAILURES
from strom.logs import get_logger

log = get_logger(__name__)

#: How long a published endpoint stays listed without a refresh (s): a killed process drops out.
ENDPOINT_TTL_S = 30.0
REFRESH_INTERVAL_S = 10.0


class MetricEndpoints:
    """Where each live process of a cluster serves ``/metrics``: one Redis sorted set,
    member = JSON ``{"service", "id", "address"}``, score = when it expires (s since the epoch).
    A process refreshes its entry every 10 s; readers drop expired ones, so the set stays as
    small as the cluster."""

    def __init__(self, client: redis.Redis, cluster_id: str) -> None:
        self.redis, self.key = client, naming.metric_endpoints_key(cluster_id)

    def publish(self, service: str, service_id: str, address: str, now_s: float | None = None) -> None:
        member = json.dumps({"service": service, "id": service_id, "address": address}, sort_keys=True)
        self.redis.zadd(self.key, {member: (now_s or time.time()) + ENDPOINT_TTL_S})

    def withdraw(self, service: str, service_id: str, address: str) -> None:
        self.redis.zrem(self.key, json.dumps({"service": service, "id": service_id, "address": address},
                                             sort_keys=True))

    def live(self, now_s: float | None = None) -> list[dict[str, str]]:
        """``[{"service", "id", "address": "host:port"}]`` of processes that refreshed lately."""
        now_s = now_s or time.time()
        self.redis.zremrangebyscore(self.key, "-inf", now_s)
        members: list[bytes] = self.redis.zrangebyscore(self.key, now_s, "+inf")  # type: ignore[assignment]
        return [json.loads(m) for m in members]


class MetricsReporter:
    """``/metrics`` of one process on the first free port of ``metrics.reporter.prom.port``,
    published in :class:`MetricEndpoints` until :meth:`close`.

    ``collectors``: prometheus_client collectors read at each scrape. Raises OSError when every
    port of the range is taken (Flink's reporter also fails then; widen the range or use 0).
    """

    def __init__(self, config: Configuration, service: str, service_id: str, collectors: Iterable[Collector],
                 client: redis.Redis) -> None:
        self.service, self.service_id = service, service_id
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in (SEAL_FAILURES, *collectors):
            self.registry.register(collector)
        host = config.get(MetricsOptions.HOST)
        self.server, self.port = self._bind(host, config.get(MetricsOptions.PORT))
        advertised = config.get(MetricsOptions.ADVERTISED_HOST) or (
            socket.gethostname() if host in ("0.0.0.0", "") else host)
        self.address = f"{advertised}:{self.port}"
        self.endpoints = MetricEndpoints(client, config.get(ClusterOptions.CLUSTER_ID))
        self._closed = threading.Event()
        self._publisher = threading.Thread(target=self._publish, name="metrics-publisher", daemon=True)
        self._publisher.start()
        log.info("metrics served", address=self.address)

    @staticmethod
    def ports(port_range: tuple[int, int]) -> list[int]:
        return list(range(port_range[0], port_range[1] + 1))

    def _bind(self, host: str, port_range: tuple[int, int]) -> tuple[Any, int]:
        for port in self.ports(port_range):
            try:
                server, _thread = start_http_server(port, host, registry=self.registry)
            except OSError:
                continue
            return server, server.server_address[1]
        raise OSError(f"metrics.reporter.prom.port: no free port in {port_range[0]}-{port_range[1]} on {host}")

    def _publish(self) -> None:
        while not self._closed.is_set():
            try:
                self.endpoints.publish(self.service, self.service_id, self.address)
            except redis.RedisError as exc:  # Redis down for a while: listed again once it is back
                log.warning("metrics endpoint not published", error=str(exc))
            self._closed.wait(REFRESH_INTERVAL_S)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(redis.RedisError):  # else it expires by itself
            self.endpoints.withdraw(self.service, self.service_id, self.address)
        self.server.shutdown()
        self.server.server_close()


class MainThreadCollector:
    """A collector whose families are built by ``families()`` on a service's main thread, where
    its state lives unlocked (``call(fn, timeout_s)`` runs ``fn`` there and returns its result).
    A main thread too busy to answer within 5 s yields nothing for that scrape."""

    def __init__(self, call: Callable[..., Any], families: Callable[[], list[Metric]]) -> None:
        self.call, self.families = call, families

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self.call(self.families, timeout_s=5.0)
        except TimeoutError:
            log.warning("metrics scrape: main thread busy for 5 s; nothing collected")
