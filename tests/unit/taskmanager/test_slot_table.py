"""The TaskManager's slot table: allocation, freeing with its tasks, reports, reaping."""

from strom.control.messages import SlotStatus, TaskReport
from strom.taskmanager.slot_table import TaskSlotTable


class FakeTask:
    def __init__(self, state="RUNNING", alive=True):
        self.state, self.end_of_data, self.alive = state, False, alive

    def is_alive(self):
        return self.alive

    def cancel(self):
        self.alive = False


def test_allocation_is_idempotent_and_refuses_another_holder_or_a_missing_slot():
    table = TaskSlotTable(2)
    assert table.allocate_slot(1, "j-1", "a-1") is None
    assert table.allocate_slot(1, "j-1", "a-1") is None
    assert table.allocate_slot(1, "j-2", "a-2") == "held by a-1"
    assert table.allocate_slot(2, "j-1", "a-3") == "no such slot"
    assert table.allocate_slot(-1, "j-1", "a-3") == "no such slot"
    assert table.slot_report() == [SlotStatus(0), SlotStatus(1, "a-1", "j-1")]
    assert table.is_allocated("a-1") and not table.is_allocated("a-2")
    assert table.active_jobs() == {"j-1"}


def test_free_slot_returns_the_slot_and_only_its_tasks():
    table = TaskSlotTable(2)
    table.allocate_slot(0, "j-1", "a-0")
    table.allocate_slot(1, "j-1", "a-1")
    first, second = FakeTask(), FakeTask()
    table.add_task("j-1", "v1[0]#0", "a-0", first)
    table.add_task("j-1", "v1[1]#0", "a-1", second)
    freed, tasks = table.free_slot("a-0")
    assert freed == [SlotStatus(0, "a-0", "j-1")] and tasks == [first]
    assert table.slot_report()[0] == SlotStatus(0)
    assert table.all_tasks() == [second]
    assert table.free_slot("a-unknown") == ([], [])


def test_tasks_are_keyed_by_job_and_execution_id():
    table = TaskSlotTable(2)
    table.allocate_slot(0, "j-1", "a-0")
    table.allocate_slot(1, "j-2", "a-1")
    one, two = FakeTask(), FakeTask()
    table.add_task("j-1", "v1[0]#0", "a-0", one)
    table.add_task("j-2", "v1[0]#0", "a-1", two)  # the same execution id in another job
    assert table.task("j-1", "v1[0]#0") is one and table.task("j-2", "v1[0]#0") is two
    assert table.tasks_of_job("j-2") == [two]
    assert table.task("j-3", "v1[0]#0") is None


def test_reports_list_ended_tasks_until_their_slot_is_freed():
    table = TaskSlotTable(1)
    table.allocate_slot(0, "j-1", "a-0")
    task = FakeTask(state="FINISHED", alive=False)
    task.end_of_data = True
    table.add_task("j-1", "v1[0]#0", "a-0", task)
    table.remove_ended_tasks()
    assert table.task_reports() == [TaskReport("j-1", "v1[0]#0", "a-0", 0, "FINISHED", True)]
    table.slots[0] = SlotStatus(0)  # freed by the ResourceManager's view, task still listed
    assert table.task_reports() == [TaskReport("j-1", "v1[0]#0", "a-0", -1, "FINISHED", True)]
    table.remove_ended_tasks()
    assert table.task_reports() == []


def test_a_live_task_is_not_reaped_even_without_a_slot():
    table = TaskSlotTable(1)
    table.add_task("j-1", "v1[0]#0", "a-0", FakeTask(alive=True))
    table.remove_ended_tasks()
    assert len(table.all_tasks()) == 1


def test_free_all_clears_slots_and_returns_every_task():
    table = TaskSlotTable(2)
    table.allocate_slot(0, "j-1", "a-0")
    task = FakeTask()
    table.add_task("j-1", "v1[0]#0", "a-0", task)
    assert table.free_all() == [task]
    assert table.slot_report() == [SlotStatus(0), SlotStatus(1)] and table.all_tasks() == []
