"""The ResourceManager's slot table, as pure logic (no I/O, caller supplies time).

TaskManagers report their full slot state on registration and with every
heartbeat, so the table is always rebuilt from reports: a new ResourceManager
leader knows every live TaskManager one heartbeat interval after it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strom.control.messages import SlotStatus, TaskManagerInfo, TaskManagerState
from strom.errors import NoSlotAvailableError


@dataclass
class TaskManagerRegistration:
    """A row of the slot table; times are the ResourceManager's monotonic clock, in s."""

    tm_id: str
    host: str
    pid: int
    slots: list[SlotStatus]
    last_heartbeat: float
    state: TaskManagerState = TaskManagerState.REGISTERED
    # Allocations sent to the TaskManager but not yet confirmed by its report.
    pending: dict[int, tuple[str, str]] = field(default_factory=dict)
    session: str = ""  # the process's random id, from its registration

    def free_slots(self) -> list[int]:
        return [s.slot_index for s in self.slots
                if s.allocation_id is None and s.slot_index not in self.pending]


@dataclass(frozen=True)
class SlotAssignment:
    """Where a slot request was placed."""

    tm_id: str
    slot_index: int
    job_id: str
    allocation_id: str


class SlotManager:
    """Registered TaskManagers, their slots, liveness and pending allocations."""

    def __init__(self, heartbeat_timeout_s: float) -> None:
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.task_managers: dict[str, TaskManagerRegistration] = {}

    def report(self, tm_id: str, host: str, pid: int, slots: list[SlotStatus], now: float,
               session: str = "") -> bool:
        """Record a registration or heartbeat (``session``: the process's random id, kept from
        the first report that had one, so :meth:`register` sees a restart). Returns False if
        ``tm_id`` was declared lost.

        A lost TaskManager stays lost until it registers anew (a zombie's
        heartbeat must not resurrect slots that may have been given away).
        """
        known = self.task_managers.get(tm_id)
        if known is not None and known.state == TaskManagerState.LOST:
            return False
        reports = [SlotStatus(s.slot_index, s.allocation_id, s.job_id) for s in slots]
        pending = known.pending if known else {}
        for report in reports:
            if report.allocation_id is not None:
                pending.pop(report.slot_index, None)
        kept = known.session if known is not None and known.session else session
        self.task_managers[tm_id] = TaskManagerRegistration(tm_id, host, pid, reports, now, pending=pending,
                                                            session=kept)
        return True

    def register(self, tm_id: str, host: str, pid: int, slots: list[SlotStatus],
                 now: float, session: str = "") -> TaskManagerRegistration | None:
        """An explicit registration: clears a LOST mark. Returns the registration it replaces when
        that was another process (host, pid, random ``session``) still counted alive: a TaskManager
        restarted under the same id before its heartbeats timed out, whose tasks are gone with the
        old process (Flink closes the old TaskExecutor connection likewise). A TaskManager known
        only from heartbeats (a standby, or a leader started after it registered) has no session
        yet: host and pid decide then, or a failover would count every TaskManager as restarted."""
        previous = self.task_managers.pop(tm_id, None)
        self.report(tm_id, host, pid, slots, now)
        self.task_managers[tm_id].session = session
        if previous is None or previous.state != TaskManagerState.REGISTERED:
            return None
        other_session = bool(previous.session) and previous.session != session
        return previous if (previous.host, previous.pid) != (host, pid) or other_session else None

    def expire(self, now: float) -> list[tuple[TaskManagerRegistration, float]]:
        """Mark TaskManagers silent longer than the timeout as LOST; returns (tm, silent s)."""
        lost = []
        for tm in self.task_managers.values():
            silent = now - tm.last_heartbeat
            if tm.state == TaskManagerState.REGISTERED and silent > self.heartbeat_timeout_s:
                tm.state = TaskManagerState.LOST
                lost.append((tm, silent))
        return lost

    def allocate(self, job_id: str, allocation_id: str) -> SlotAssignment:
        """Pick a free slot, spreading over TaskManagers (most free slots first).

        Raises :class:`NoSlotAvailableError`.
        """
        live = self.registered()
        candidates = sorted((tm for tm in live if tm.free_slots()),
                            key=lambda tm: (-len(tm.free_slots()), tm.tm_id))
        if not candidates:
            raise NoSlotAvailableError(
                f"no free slot for job {job_id}: 0 free of {sum(len(tm.slots) for tm in live)}")
        tm = candidates[0]
        slot_index = tm.free_slots()[0]
        tm.pending[slot_index] = (job_id, allocation_id)
        return SlotAssignment(tm.tm_id, slot_index, job_id, allocation_id)

    def registered(self) -> list[TaskManagerRegistration]:
        return [tm for tm in self.task_managers.values() if tm.state == TaskManagerState.REGISTERED]

    def total_slots(self) -> int:
        return sum(len(tm.slots) for tm in self.registered())

    def free_slot_count(self) -> int:
        return sum(len(tm.free_slots()) for tm in self.registered())

    def rows(self, now: float) -> list[TaskManagerInfo]:
        """The slot table for status replies, by TaskManager id; ``now`` in s (monotonic)."""
        return [TaskManagerInfo(tm.tm_id, tm.host, tm.pid, tm.state, int((now - tm.last_heartbeat) * 1000),
                                [SlotStatus(s.slot_index, s.allocation_id, s.job_id) for s in tm.slots])
                for tm in sorted(self.task_managers.values(), key=lambda t: t.tm_id)]
