"""The slots of one job's current attempt (Flink's ``SlotPool``).

Slot sharing as Flink's default group: subtask ``i`` of every vertex runs in
slot ``i``, so an attempt asks the ResourceManager for ``slots_needed``
slots. A refused request is retried every :data:`SLOT_RETRY_MS`; when not
every slot was granted within ``slot.request.timeout`` the job fails with
"not enough slots: need N, have M".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strom.clock import Clock
from strom.control.channel import ControlChannel
from strom.control.gateways import ResourceManagerGateway, TaskExecutorGateway
from strom.naming import allocation_id

SLOT_RETRY_MS = 500  # ms between a refusal and asking again for the refused slots


@dataclass
class SlotGrant:
    """One slot the attempt asked for: ``allocation_id`` names the request; ``tm_id`` and
    ``slot_index`` say where it was granted (None while not granted); ``refused``: the last reason
    the ResourceManager gave."""

    allocation_id: str
    tm_id: str | None = None
    slot_index: int | None = None
    refused: str | None = None


class SlotPool:
    """Requests, offers, refusals and freeing of one job's slots; ``grants[i]`` is slot ``i``."""

    def __init__(self, job_id: str, channel: ControlChannel, request_timeout_ms: float, clock: Clock) -> None:
        self.job_id = job_id
        self.resource_manager = ResourceManagerGateway(channel)
        self.task_executors = TaskExecutorGateway(channel)
        self.request_timeout_ms = request_timeout_ms
        self.clock = clock
        self.grants: list[SlotGrant] = []
        self._deadline_ms = 0.0
        self._retry_at_ms: float | None = None

    @property
    def all_granted(self) -> bool:
        """True when every slot asked for was granted (also when none was asked for)."""
        return all(g.tm_id is not None for g in self.grants)

    def request(self, attempt: int, count: int) -> None:
        """Ask the ResourceManager for ``count`` slots for ``attempt``, forgetting earlier grants."""
        self.grants = [SlotGrant(allocation_id(self.job_id, attempt, i)) for i in range(count)]
        self._deadline_ms = self.clock.monotonic_ms() + self.request_timeout_ms
        for grant in self.grants:
            self._request(grant)

    def _request(self, grant: SlotGrant) -> None:
        self.resource_manager.request_slot(self.job_id, grant.allocation_id)

    def offer(self, body: Mapping[str, Any], accept: bool) -> bool:
        """A TaskManager offers a slot (``SlotOffer`` body); True once every slot is granted.

        An offer the pool does not take (``accept`` False, an unknown allocation, a slot already
        granted) is freed at once, so the TaskManager does not keep it for nothing.
        """
        grant = self._grant(body["allocation_id"])
        if grant is None or not accept or grant.tm_id is not None:
            self.free_slot(body["tm_id"], body["allocation_id"])
            return False
        grant.tm_id, grant.slot_index, grant.refused = body["tm_id"], body["slot_index"], None
        return self.all_granted

    def refused(self, body: Mapping[str, Any]) -> None:
        """The ResourceManager refused a request (``SlotRequestFailed`` body): ask again soon."""
        grant = self._grant(body["allocation_id"])
        if grant is not None:
            grant.refused = body["reason"]
            self._retry_at_ms = self.clock.monotonic_ms() + SLOT_RETRY_MS

    def _grant(self, allocation: str) -> SlotGrant | None:
        return next((g for g in self.grants if g.allocation_id == allocation), None)

    def check_requests(self) -> str | None:
        """Periodic while slots are missing: ask again for refused ones; once the slot request
        timeout passed, the reason to fail the attempt ("not enough slots ..."), else None."""
        now = self.clock.monotonic_ms()
        if now > self._deadline_ms:
            have = sum(g.tm_id is not None for g in self.grants)
            reason = next((g.refused for g in self.grants if g.refused), "no answer from the ResourceManager")
            return (f"not enough slots: need {len(self.grants)}, have {have} "
                    f"after {self.request_timeout_ms / 1000:.0f} s ({reason})")
        if self._retry_at_ms is not None and now >= self._retry_at_ms:
            self._retry_at_ms = None
            for grant in self.grants:
                if grant.refused:
                    self._request(grant)
        return None

    def adopt(self, attempt: int, count: int, running: list[tuple[int, dict[str, Any]]]) -> None:
        """Take over the slots an earlier leader's attempt runs in: ``running`` holds
        (slot of the job, TaskManager's task report) pairs; other slots stay ungranted."""
        self.grants = [SlotGrant(allocation_id(self.job_id, attempt, i)) for i in range(count)]
        for slot, report in running:
            if 0 <= slot < count:
                grant = self.grants[slot]
                grant.allocation_id, grant.tm_id = report["allocation_id"], report["tm_id"]
                grant.slot_index = report["slot_index"]

    def free_slot(self, tm_id: str, allocation: str) -> None:
        """Tell TaskManager ``tm_id`` to free the slot of ``allocation`` (and stop its tasks)."""
        self.task_executors.free_slot(tm_id, allocation, self.job_id)

    def release_reported(self, reports: Sequence[Mapping[str, Any]]) -> None:
        """Free the slot of every task report (tasks of an attempt a new leader gives up on) and
        forget all grants."""
        for report in reports:
            self.free_slot(report["tm_id"], report["allocation_id"])
        self.grants = []

    def release_all(self) -> None:
        """Free every granted slot and forget all grants."""
        for grant in self.grants:
            if grant.tm_id is not None:
                self.free_slot(grant.tm_id, grant.allocation_id)
        self.grants = []
