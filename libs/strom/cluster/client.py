"""Asking the live cluster who leads and what it holds (used by ``strom status``)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from strom.config import Configuration, ControlPlaneOptions
from strom.control.channel import ControlChannel, new_instance_id
from strom.control.codec import ControlMessage
from strom.control.gateways import JobMasterGateway, ResourceManagerGateway, TaskExecutorGateway
from strom.control.messages import StatusReply
from strom.control.roles import LEADER_ROLES, Role
from strom.coordination.leader_election import LeaderInfo, current_leader, zookeeper_client


@dataclass
class ClusterStatus:
    """Leaders from ZooKeeper plus the StatusReply of every service that answered."""

    leaders: dict[Role, LeaderInfo | None]
    replies: list[ControlMessage] = field(default_factory=list)

    def by_role(self, role: Role) -> list[ControlMessage]:
        return sorted((r for r in self.replies if r.sender_role == role), key=lambda r: r.sender_id)

    def slot_table(self) -> list[dict]:
        """The leading ResourceManager's TaskManager rows (empty if it did not answer)."""
        for reply in self.by_role(Role.RESOURCEMANAGER):
            if reply.body["is_leader"]:
                return list(reply.body["task_managers"])
        return []

    def registered_slots(self) -> tuple[int, int]:
        """(free, total) slots of REGISTERED TaskManagers in the leader's table."""
        rows = [r for r in self.slot_table() if r["state"] == "REGISTERED"]
        total = sum(len(r["slots"]) for r in rows)
        free = sum(1 for r in rows for s in r["slots"] if s["allocation_id"] is None)
        return free, total


class ClusterClient:
    """A short-lived control-plane client; use as a context manager."""

    def __init__(self, config: Configuration) -> None:
        self.config = config
        self.channel = ControlChannel(config, new_instance_id(Role.CLIENT), Role.CLIENT)
        self.zk = zookeeper_client(config)
        self.channel.start()

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()
        self.zk.stop()
        self.zk.close()

    def leaders(self) -> dict[Role, LeaderInfo | None]:
        return {role: current_leader(self.zk, self.config, role) for role in LEADER_ROLES}

    def status(self, timeout_s: float | None = None, settle_s: float = 0.4) -> ClusterStatus:
        """Ask every service for a StatusReply.

        Waits until both leaders answered plus ``settle_s`` for the others,
        at most ``timeout_s`` (default ``control.request-timeout``).
        """
        if timeout_s is None:
            timeout_s = self.config.get(ControlPlaneOptions.REQUEST_TIMEOUT) / 1000.0
        status = ClusterStatus(self.leaders())
        request_id = uuid.uuid4().hex
        for gateway in (JobMasterGateway, ResourceManagerGateway, TaskExecutorGateway):
            gateway(self.channel).request_status(request_id)
        self.channel.flush()
        deadline = time.monotonic() + timeout_s
        settle_deadline = None
        expected = {info.id for info in status.leaders.values() if info is not None}
        while time.monotonic() < min(deadline, settle_deadline or deadline):
            for message in self.channel.poll(0.05):
                if message.type == StatusReply.type_name() and message.body["request_id"] == request_id:
                    status.replies.append(message)
            if settle_deadline is None and expected <= {r.sender_id for r in status.replies}:
                settle_deadline = time.monotonic() + settle_s
        return status
