"""Fencing of leader-scoped control messages.

Flink's ``FencedRpcEndpoint`` drops RPCs whose fencing token is not the
current leader's. Strom's tokens are leader *epochs* (a ZooKeeper counter
bumped by each new leader), so a receiver can also reject an old leader it
has never been told about: any token below the newest one it knows is stale.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from strom.control.codec import ControlMessage
from strom.control.messages import MESSAGES
from strom.control.roles import LEADER_ROLES


class FencingGuard:
    """Newest known leader epoch per leader-scoped role, and the admission rule.

    Epochs come from two places: the ZooKeeper leader node (:meth:`observe`)
    and admitted messages themselves (a newer token than known means ZooKeeper
    news is still on its way). Thread-safe.
    """

    def __init__(self, confirm: Callable[[str, int], bool] | None = None) -> None:
        """``confirm(role, token)``: whether ZooKeeper names a leader of ``role`` with an epoch
        at least ``token``; asked before a token above the newest known one is believed (None:
        believed, for tests without ZooKeeper)."""
        self._confirm = confirm
        self._newest: dict[str, int] = {}
        self._lock = threading.Lock()
        self.rejected = 0

    def observe(self, role: str, token: int) -> None:
        """Learn that ``role`` has a leader with epoch ``token``."""
        with self._lock:
            if token > self._newest.get(role, -1):
                self._newest[role] = token

    def newest(self, role: str) -> int | None:
        with self._lock:
            return self._newest.get(role)

    def check(self, message: ControlMessage) -> str | None:
        """None if ``message`` may be acted on, else the reason to drop it.

        A message type is taken only from the roles that send it (``senders`` of its class in
        :mod:`strom.control.messages`: a DeployTask only from a JobManager, a Heartbeat only
        from a TaskManager); leader roles' messages must then carry a current fencing token.
        """
        kind = MESSAGES.get(message.type)
        if kind is not None and message.sender_role not in kind.senders:
            with self._lock:
                self.rejected += 1
            return f"{message.type} is not accepted from a {message.sender_role} ({message.sender_id})"
        if message.sender_role not in LEADER_ROLES:
            return None
        token = message.fencing_token
        newest = self.newest(message.sender_role)
        if (token is not None and self._confirm is not None and (newest is None or token > newest)
                and not self._confirm(message.sender_role, token)):
            with self._lock:
                self.rejected += 1
            return (f"fencing token {token} of {message.sender_role} {message.sender_id} is not a leader epoch "
                    f"ZooKeeper knows (newest known {newest})")
        with self._lock:
            if token is None:
                reason = f"{message.sender_role} message without fencing token"
            elif token < self._newest.get(message.sender_role, -1):
                reason = (f"stale fencing token {token} from deposed {message.sender_role} leader "
                          f"{message.sender_id}; newest is {self._newest[message.sender_role]}")
            else:
                self._newest[message.sender_role] = token
                return None
            self.rejected += 1
            return reason
