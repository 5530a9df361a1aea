"""Leader election and leader retrieval over ZooKeeper, in Flink's shape.

* :class:`ZooKeeperLeaderElectionDriver` does only ZooKeeper I/O: it contends
  with kazoo's ``Election`` recipe, bumps the epoch counter, publishes the
  leader node and watches the session.
* :class:`LeaderElectionService` holds the state (the current fencing token)
  and hands grant/revoke events to the contender.
* The contender implements :class:`LeaderContender`.

Paths, under ``/strom/<cluster>/<role>``::

    election/   kazoo Election (Lock) children
    epoch       kazoo Counter: +1 by every new leader = its fencing token
    leader      ephemeral JSON {"id", "token", "host", "pid", "address"}

kazoo keeps running the elected function when the session is SUSPENDED or
even LOST (a SIGSTOPped leader resumes believing it leads), so the driver
revokes leadership itself on those states, before anything else happens.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError
from kazoo.recipe.counter import Counter

from strom.config import ClusterOptions, Configuration, ZooKeeperOptions
from strom.coordination.security import secure_cluster_tree, zookeeper_client_kwargs
from strom.logs import get_logger
from strom.naming import leader_path, role_path

log = get_logger(__name__)


def zookeeper_client(config: Configuration) -> KazooClient:
    """A started kazoo client with the configured session timeout, credentials and TLS
    (:mod:`strom.coordination.security`); with credentials, the znodes it creates get the
    cluster's digest ACL, and those of the cluster made before without one are locked down.

    Raises kazoo's ``KazooTimeoutError`` if ZooKeeper does not answer in 15 s.
    """
    client = KazooClient(hosts=config.get(ZooKeeperOptions.QUORUM),
                         timeout=config.get(ZooKeeperOptions.SESSION_TIMEOUT) / 1000.0,
                         **zookeeper_client_kwargs(config))
    client.start(timeout=15)
    try:
        secure_cluster_tree(client, config)
    except BaseException:
        client.stop()
        client.close()
        raise
    return client


@dataclass(frozen=True)
class LeaderInfo:
    """What the leader publishes: who it is, its fencing token, where to reach it."""

    id: str
    token: int
    host: str
    pid: int
    address: str = ""

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LeaderInfo:
        return cls(**json.loads(data))


class LeaderContender(Protocol):
    """Receives leadership events. Called from ZooKeeper threads: hand off, don't block."""

    def grant_leadership(self, token: int) -> None: ...

    def revoke_leadership(self) -> None: ...


class LeaderElectionService:
    """The current leadership of one contender: token while leading, else None."""

    def __init__(self, contender: LeaderContender) -> None:
        self._contender = contender
        self._token: int | None = None
        self._lock = threading.Lock()

    @property
    def token(self) -> int | None:
        """Fencing token to stamp on leader-scoped messages; None = not leader."""
        return self._token

    def on_grant(self, token: int) -> None:
        with self._lock:
            self._token = token
        self._contender.grant_leadership(token)

    def on_revoke(self) -> None:
        with self._lock:
            was_leader, self._token = self._token is not None, None
        if was_leader:
            self._contender.revoke_leadership()


class ZooKeeperLeaderElectionDriver:
    """Contends for leadership of ``role`` in ``cluster``; only ZooKeeper I/O."""

    def __init__(self, client: KazooClient, config: Configuration, role: str, contender_id: str,
                 service: LeaderElectionService, address: str = "") -> None:
        self._client = client
        self._base = role_path(config.get(ClusterOptions.CLUSTER_ID), role)
        self._leader_path = leader_path(config.get(ClusterOptions.CLUSTER_ID), role)
        self._id = contender_id
        self._service = service
        self._address = address
        self._stop = threading.Event()
        self._revoked = threading.Event()
        self._election = client.Election(f"{self._base}/election", contender_id)
        self._thread = threading.Thread(target=self._contend, name=f"election-{role.lower()}",
                                        daemon=True)

    def start(self) -> None:
        self._client.add_listener(self._on_connection_state)
        self._thread.start()

    def stop(self) -> None:
        """Give up leadership (deleting the leader node) and stop contending."""
        self._stop.set()
        self._revoked.set()
        self._election.cancel()
        self._thread.join(timeout=5)

    def _on_connection_state(self, state: str) -> None:
        # Runs in kazoo's connection thread: no ZooKeeper calls here.
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            if self._service.token is not None:
                log.warning("zookeeper session not healthy; stepping down", zk_state=state)
            self._revoked.set()
            self._service.on_revoke()

    def _contend(self) -> None:
        while not self._stop.is_set():
            if not self._client.connected:
                self._stop.wait(0.2)
                continue
            self._revoked.clear()
            try:
                self._election.run(self._lead)
            except KazooException as exc:
                log.warning("leader election interrupted; contending again", error=repr(exc))
                self._stop.wait(0.5)
            except Exception as exc:  # CancelledError from stop(), or anything kazoo raises
                if not self._stop.is_set():
                    log.error("leader election failed; contending again", error=repr(exc))
                    self._stop.wait(0.5)

    def _lead(self) -> None:
        if self._revoked.is_set() or self._stop.is_set():
            return
        counter = Counter(self._client, f"{self._base}/epoch")
        counter += 1
        token = counter.value
        info = LeaderInfo(self._id, token, socket.gethostname(), os.getpid(), self._address)
        try:
            self._client.create(self._leader_path, info.to_json(), ephemeral=True, makepath=True)
        except NodeExistsError:
            # Left by a predecessor whose session is not expired yet; the lock says we lead.
            self._client.delete(self._leader_path)
            self._client.create(self._leader_path, info.to_json(), ephemeral=True)
        if self._revoked.is_set():
            return
        self._service.on_grant(token)
        self._revoked.wait()
        self._service.on_revoke()
        try:
            data, _stat = self._client.get(self._leader_path)
            if LeaderInfo.from_json(data).id == self._id:
                self._client.delete(self._leader_path)
        except (NoNodeError, KazooException):
            pass  # session gone: the ephemeral node went with it


class LeaderRetriever:
    """Watches the leader node of ``role``; calls ``on_change(LeaderInfo | None)``.

    The callback runs in a kazoo thread.
    """

    def __init__(self, client: KazooClient, config: Configuration, role: str,
                 on_change: Callable[[LeaderInfo | None], None]) -> None:
        path = leader_path(config.get(ClusterOptions.CLUSTER_ID), role)
        client.ensure_path(role_path(config.get(ClusterOptions.CLUSTER_ID), role))

        def watch(data: bytes | None, _stat) -> None:
            on_change(LeaderInfo.from_json(data) if data else None)

        client.DataWatch(path, watch)


def current_leader(client: KazooClient, config: Configuration, role: str) -> LeaderInfo | None:
    """The leader of ``role`` as ZooKeeper has it now, or None."""
    try:
        data, _stat = client.get(leader_path(config.get(ClusterOptions.CLUSTER_ID), role))
    except NoNodeError:
        return None
    return LeaderInfo.from_json(data)
