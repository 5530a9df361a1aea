"""The main-thread loop every Strom service runs (Flink's RpcEndpoint + main thread executor).

A :class:`ControlEndpoint` owns a :class:`~strom.control.channel.ControlChannel`
and a mailbox. One thread does everything that touches the service's state:
it drains the mailbox (callables posted by kazoo or other threads), polls the
control inbox, drops stale-token messages via :class:`FencingGuard`, hands each
message to the handler its type has in :meth:`ControlEndpoint.handlers` and runs
periodic timers. Leader-scoped
subclasses (``leader_role`` set) also run a ZooKeeper leader election.
"""

from __future__ import annotations

import functools
import os
import queue
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from kazoo.client import KazooClient
from prometheus_client.core import GaugeMetricFamily, Metric

from strom import logs
from strom.config import Configuration, ControlPlaneOptions, MetricsOptions
from strom.control.channel import ControlChannel, new_instance_id
from strom.control.codec import ControlMessage
from strom.control.fencing import FencingGuard
from strom.control.gateways import ClientGateway
from strom.control.messages import ControlPayload, StatusRequest, TaskManagerInfo
from strom.control.roles import LEADER_ROLES, Role
from strom.coordination.leader_election import (
    LeaderElectionService,
    LeaderInfo,
    LeaderRetriever,
    ZooKeeperLeaderElectionDriver,
    current_leader,
    zookeeper_client,
)
from strom.errors import NotLeaderError, StaleLeaderError
from strom.io.redis import redis_client
from strom.metrics.reporter import MainThreadCollector, MetricsReporter

# What a deposed leader's main thread meets when it acts on leadership it just lost: the control
# channel refuses to stamp a token, Redis refuses a write with an old epoch. Logged, not fatal.
FENCED = (NotLeaderError, StaleLeaderError)

# A control message handler; it reads the typed body with ``message.payload(Type)``.
Handler = Callable[[ControlMessage], None]


class ControlEndpoint:
    """Base of the JobManager, ResourceManager and TaskManager services.

    Subclasses set ``role`` (their control inbox, e.g. ``Role.TASKMANAGER``),
    ``leader_scoped`` (contend for leadership of ``role``) and extend
    :meth:`handlers`; ``on_leader_change(role, info)`` hears about leaders of
    both leader-scoped roles.
    """

    role: Role
    leader_scoped: bool = False

    def __init__(self, config: Configuration, instance_id: str | None = None) -> None:
        self.config = config
        self.poll_interval_s = config.get(ControlPlaneOptions.POLL_INTERVAL) / 1000
        self.id = instance_id or new_instance_id(self.role)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.session = uuid.uuid4().hex  # this process, even where host and pid repeat (a container)
        self.log = logs.get_logger(self.role.lower())
        self.fencing = FencingGuard(confirm=self._epoch_in_zookeeper)
        self.leadership = LeaderElectionService(self)
        self.leaders: dict[Role, LeaderInfo | None] = {r: None for r in LEADER_ROLES}
        self.channel = ControlChannel(config, self.id, self.role,
                                      token_source=lambda: self.leadership.token)
        self.clients = ClientGateway(self.channel)
        self._handlers = {kind.type_name(): handler for kind, handler in self.handlers().items()}
        self._mailbox: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._timers: list[list] = []  # [interval_s, next_due, fn]
        self._stopped = threading.Event()
        self._zk: KazooClient | None = None
        self._driver: ZooKeeperLeaderElectionDriver | None = None
        self.metrics: MetricsReporter | None = None

    # -- wiring ---------------------------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        return self.leadership.token is not None

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the endpoint's main thread (safe from any thread)."""
        self._mailbox.put(fn)

    def call(self, fn: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        """Run ``fn`` on the main thread and return its result (raising what it raised; TimeoutError
        after ``timeout_s``). For other threads: REST handlers, metric scrapes."""
        future: Future = Future()

        def run() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)
        self.post(run)
        return future.result(timeout_s)

    def every(self, interval_s: float, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the main thread every ``interval_s`` seconds."""
        self._timers.append([interval_s, time.monotonic() + interval_s, fn])

    def stop(self) -> None:
        self._stopped.set()

    def advertised_address(self) -> str:
        """Address published in the leader node (the REST endpoint, where there is one)."""
        return ""

    # -- leadership (LeaderContender), called from kazoo threads --------------------------
    def grant_leadership(self, token: int) -> None:
        logs.set_leader_token(token)
        self.fencing.observe(self.role, token)
        self.log.info("granted leadership", token=token)
        self.post(lambda: self.on_grant_leadership(token))

    def revoke_leadership(self) -> None:
        logs.set_leader_token(None)
        self.log.warning("leadership revoked")
        self.post(self.on_revoke_leadership)

    def _epoch_in_zookeeper(self, role: str, token: int) -> bool:
        """A token above the newest known: believed only if ZooKeeper's leader node of ``role``
        has that epoch or a newer one (anyone can write a number into a control message)."""
        if self._zk is None:
            return False
        try:
            info = current_leader(self._zk, self.config, role)
        except Exception as exc:  # ZooKeeper unreachable: refuse; the real leader's next message is checked again
            self.log.warning("fencing token not confirmed: ZooKeeper unreachable", role=role, token=token,
                             error=str(exc))
            return False
        return info is not None and info.token >= token

    def on_grant_leadership(self, token: int) -> None:
        """Main-thread hook: this process now leads with ``token``."""

    def on_revoke_leadership(self) -> None:
        """Main-thread hook: this process stopped leading."""

    def on_leader_change(self, role: Role, info: LeaderInfo | None) -> None:
        """Main-thread hook: ZooKeeper reports a new (or no) leader of ``role``."""

    def _leader_changed(self, role: Role, info: LeaderInfo | None) -> None:
        if info is not None:
            self.fencing.observe(role, info.token)

        def apply() -> None:
            self.leaders[role] = info
            self.on_leader_change(role, info)
        self.post(apply)

    # -- the loop -------------------------------------------------------------------------
    def start(self) -> None:
        """Connect to ZooKeeper and Kafka, join the election, watch the leaders."""
        self._zk = zookeeper_client(self.config)
        self.channel.start()
        for role in LEADER_ROLES:
            LeaderRetriever(self._zk, self.config, role, functools.partial(self._leader_changed, role))
        if self.leader_scoped:
            self._driver = ZooKeeperLeaderElectionDriver(
                self._zk, self.config, self.role, self.id, self.leadership,
                address=self.advertised_address())
            self._driver.start()
        try:
            if self.config.get(MetricsOptions.ENABLED):
                self.metrics = MetricsReporter(self.config, self.role.lower(), self.id,
                                               [MainThreadCollector(self.call, self.metric_families)],
                                               redis_client(self.config))
        except OSError as exc:  # as Flink's reporter: the service runs on, without metrics
            self.log.error("metrics not served", error=str(exc))
        self.log.info("started", host=self.host, pid=self.pid,
                      metrics=self.metrics.address if self.metrics else None)

    def run(self) -> None:
        """Start, then loop until :meth:`stop` or SIGTERM/SIGINT; then shut down cleanly."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
        self.start()
        try:
            while not self._stopped.is_set():
                self._run_once()
        finally:
            self.shutdown()

    def _run_once(self) -> None:
        while True:
            try:
                callback = self._mailbox.get_nowait()
            except queue.Empty:
                break
            self._guarded("posted callback", callback)
        for message in self.channel.poll(self.poll_interval_s):
            self.dispatch(message)
        now = time.monotonic()
        for timer in self._timers:
            if now >= timer[1]:
                timer[1] = now + timer[0]
                self._guarded("timer", timer[2])

    def _guarded(self, what: str, fn: Callable[[], None]) -> None:
        """Run a main-thread callback; an error is logged and the loop goes on (a process whose
        loop died would stay up silent: no heartbeats, no status)."""
        try:
            fn()
        except FENCED as exc:
            # Leadership was revoked (kazoo thread) while the main thread still acted on it: the
            # channel refused to stamp a token, or Redis refused the stale epoch.
            self.log.warning("rejected by fencing: no longer leader", error=str(exc))
        except Exception:
            self.log.exception(f"{what} failed", callback=getattr(fn, "__qualname__", repr(fn)))

    def handlers(self) -> Mapping[type[ControlPayload], Handler]:
        """The handler of each message type this endpoint acts on. Subclasses extend it: their
        table must cover ``received_by(role)`` (a unit test checks every role's)."""
        return {StatusRequest: self.on_status_request}

    def dispatch(self, message: ControlMessage) -> None:
        """Fence, then hand ``message`` to its handler; types without one are logged and skipped."""
        reason = self.fencing.check(message)
        if reason is not None:
            self.log.warning("rejected control message", type=message.type,
                             sender=message.sender_id, reason=reason)
            return
        handler = self._handlers.get(message.type)
        if handler is None:
            self.log.debug("ignoring control message", type=message.type, sender=message.sender_id)
            return
        try:
            handler(message)
        except FENCED as exc:
            self.log.warning("rejected by fencing: no longer leader", type=message.type, error=str(exc))
        except Exception:
            self.log.exception("control message handler failed", type=message.type,
                               sender=message.sender_id)

    def metric_families(self) -> list[Metric]:
        """Main thread, at each scrape: this process's metric families (subclasses extend them)."""
        lag = GaugeMetricFamily("strom_control_lag_records", "Control messages not read yet",
                                labels=["service", "service_id"])
        lag.add_metric([self.role.lower(), self.id], self.channel.lag())
        return [lag]

    def shutdown(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
        if self._driver is not None:
            self._driver.stop()
        self.channel.close()
        if self._zk is not None:
            self._zk.stop()
            self._zk.close()
        self.log.info("stopped")

    # -- common handlers ------------------------------------------------------------------
    def status_rows(self) -> list[TaskManagerInfo]:
        """The TaskManager rows of a StatusReply (the slot table, for a ResourceManager)."""
        return []

    def on_status_request(self, message: ControlMessage) -> None:
        self.clients.status_reply(
            message.sender_id, message.payload(StatusRequest).request_id, is_leader=self.is_leader,
            host=self.host, pid=self.pid, rejected_messages=self.fencing.rejected,
            task_managers=self.status_rows())
