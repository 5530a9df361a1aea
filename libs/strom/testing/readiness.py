"""Waiting until a cluster is ready: both leaders elected, enough TaskManagers registered.

The one such wait of ``strom cluster up``, the drills and the integration tests.
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from strom.cluster.client import ClusterClient, ClusterStatus

Readiness = Callable[[ClusterStatus], bool]


class ClusterNotReadyError(TimeoutError):
    """The cluster did not get ready in time; :attr:`status` is the last status seen."""

    def __init__(self, what: str, timeout_s: float, status: ClusterStatus) -> None:
        super().__init__(f"{what} not reached in {timeout_s:g} s; last status: {status}")
        self.what, self.timeout_s, self.status = what, timeout_s, status


def registered(status: ClusterStatus) -> int:
    """TaskManagers REGISTERED in the leading ResourceManager's slot table."""
    return sum(1 for row in status.slot_table() if row["state"] == "REGISTERED")


def cluster_ready(task_managers: int, free_slots: int = 0) -> Readiness:
    """Ready = both leaders known, at least ``task_managers`` registered with ``free_slots`` free."""
    return lambda status: (all(status.leaders.values()) and registered(status) >= task_managers
                           and status.registered_slots()[0] >= free_slots)


def wait_until_ready(client: ClusterClient, ready: Readiness, timeout_s: float,
                     what: str = "cluster ready", poll_s: float = 0.1) -> ClusterStatus:
    """Ask ``client`` for the live status every ``poll_s`` until ``ready(status)``; returns it.

    Raises :class:`ClusterNotReadyError` (with the last status) after ``timeout_s`` seconds.
    """
    def give_up(state) -> ClusterStatus:
        raise ClusterNotReadyError(what, timeout_s, state.outcome.result())

    retrying = Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(poll_s),
                        retry=retry_if_result(lambda status: not ready(status)), retry_error_callback=give_up)
    return retrying(client.status, timeout_s=2.0, settle_s=0.2)
