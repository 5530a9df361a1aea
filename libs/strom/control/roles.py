"""The kinds of Strom process on the control plane (the Avro enum ``strom.control.Role``).

A role names a control topic (``strom.<cluster>.control.<role>``) and says
whether its processes elect a leader. A :class:`Role` is a ``str`` equal to its
Avro symbol, so it goes onto the wire, into topic names and into ZooKeeper
paths as it is.

>>> Role.JOBMANAGER.leader_scoped, Role.TASKMANAGER.leader_scoped
(True, False)
>>> Role("CLIENT") == "CLIENT"
True
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """Kind of process that sends or reads a control message."""

    JOBMANAGER = "JOBMANAGER"
    RESOURCEMANAGER = "RESOURCEMANAGER"
    TASKMANAGER = "TASKMANAGER"
    CLIENT = "CLIENT"

    @property
    def leader_scoped(self) -> bool:
        """True for roles with one elected leader, whose messages carry its fencing token."""
        return self in LEADER_ROLES


# The roles that run a ZooKeeper leader election; in the order status output lists them.
LEADER_ROLES: tuple[Role, ...] = (Role.JOBMANAGER, Role.RESOURCEMANAGER)
