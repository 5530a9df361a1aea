"""A TaskManager's slots and the tasks running in them (Flink's ``TaskSlotTable``), pure logic.

Slots are numbered ``0 .. n-1``. A slot is allocated to one job under an
allocation id (by the ResourceManager); tasks of that job run in it until the
slot is freed. Ended tasks stay listed (a new JobManager leader asks for them
to re-attach) until their slot is freed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from strom.control.messages import SlotStatus, TaskReport


class TaskHandle(Protocol):
    """What the slot table needs of a running task (a :class:`~strom.runtime.task.Task`)."""

    @property
    def state(self) -> str: ...

    @property
    def end_of_data(self) -> bool: ...

    def is_alive(self) -> bool: ...

    def cancel(self) -> None: ...


T = TypeVar("T", bound=TaskHandle)


@dataclass(frozen=True)
class TaskSlot(Generic[T]):
    """A task and the allocation whose slot it runs in."""

    allocation_id: str
    task: T


class TaskSlotTable(Generic[T]):
    """Slots by index and tasks by (job id, execution id). Execution ids (``v1[0]#0``) repeat
    across jobs, so two jobs sharing this TaskManager must not be keyed by execution id alone."""

    def __init__(self, number_of_slots: int) -> None:
        self.slots = [SlotStatus(index) for index in range(number_of_slots)]
        self.tasks: dict[tuple[str, str], TaskSlot[T]] = {}

    def allocate_slot(self, slot_index: int, job_id: str, allocation_id: str) -> str | None:
        """Give slot ``slot_index`` to ``job_id``; idempotent for the same allocation.
        Returns None when done, else why not (no such slot, or held by another allocation)."""
        if not 0 <= slot_index < len(self.slots):
            return "no such slot"
        slot = self.slots[slot_index]
        if slot.allocation_id not in (None, allocation_id):
            return f"held by {slot.allocation_id}"
        slot.allocation_id, slot.job_id = allocation_id, job_id
        return None

    def free_slot(self, allocation_id: str) -> tuple[list[SlotStatus], list[T]]:
        """Free the slots of ``allocation_id``: returns them as they were, and their tasks, removed
        from the table, which the caller cancels."""
        keys = [key for key, entry in self.tasks.items() if entry.allocation_id == allocation_id]
        tasks = [self.tasks.pop(key).task for key in keys]
        freed = []
        for slot in self.slots:
            if slot.allocation_id == allocation_id:
                freed.append(SlotStatus(slot.slot_index, slot.allocation_id, slot.job_id))
                slot.allocation_id = slot.job_id = None
        return freed, tasks

    def free_all(self) -> list[T]:
        """Free every slot; returns every task, removed from the table, for the caller to cancel."""
        tasks = [entry.task for entry in self.tasks.values()]
        self.tasks.clear()
        self.slots = [SlotStatus(slot.slot_index) for slot in self.slots]
        return tasks

    def is_allocated(self, allocation_id: str) -> bool:
        return any(slot.allocation_id == allocation_id for slot in self.slots)

    def add_task(self, job_id: str, execution_id: str, allocation_id: str, task: T) -> None:
        self.tasks[(job_id, execution_id)] = TaskSlot(allocation_id, task)

    def task(self, job_id: str, execution_id: str) -> T | None:
        entry = self.tasks.get((job_id, execution_id))
        return entry.task if entry is not None else None

    def tasks_of_job(self, job_id: str) -> list[T]:
        return [entry.task for (job, _execution), entry in self.tasks.items() if job == job_id]

    def all_tasks(self) -> list[T]:
        return [entry.task for entry in self.tasks.values()]

    def remove_ended_tasks(self) -> None:
        """Forget tasks that ended and whose slot was freed."""
        held = {slot.allocation_id for slot in self.slots if slot.allocation_id}
        for key, entry in list(self.tasks.items()):
            if entry.allocation_id not in held and not entry.task.is_alive():
                del self.tasks[key]

    def active_jobs(self) -> set[str]:
        """Jobs that hold a slot here."""
        return {slot.job_id for slot in self.slots if slot.job_id}

    def slot_report(self) -> list[SlotStatus]:
        """Every slot as a copy (what heartbeats and registrations carry)."""
        return [SlotStatus(slot.slot_index, slot.allocation_id, slot.job_id) for slot in self.slots]

    def task_reports(self) -> list[TaskReport]:
        """Every listed task with its slot (-1 once freed), last state and end of data."""
        slot_of = {slot.allocation_id: slot.slot_index for slot in self.slots if slot.allocation_id}
        return [TaskReport(job_id, execution_id, entry.allocation_id, slot_of.get(entry.allocation_id, -1),
                           entry.task.state, entry.task.end_of_data)
                for (job_id, execution_id), entry in self.tasks.items()]
