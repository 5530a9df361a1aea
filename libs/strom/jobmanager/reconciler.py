"""Re-attaching a job after a JobManager failover.

A new leader builds a JobMaster from the job's record (state RECONCILING),
asks every TaskManager which tasks it runs, and re-attaches when every
subtask of the current attempt runs (or finished) where a report says and
the old leader had the job RUNNING: attempts stay unchanged, tasks never
stopped checkpointing. Otherwise it restarts the job from its latest
checkpoint, or ends it the way the old leader was ending it (CANCELING ->
CANCELED, FAILING -> FAILED), saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from strom.graph.execution_graph import ExecutionGraph
from strom.states import ExecutionState, JobStatus

# A task report (TaskReports message, one per task of a TaskManager): job_id, execution_id, tm_id,
# allocation_id, slot_index, state (an ExecutionState), end_of_data.
TaskReport = dict[str, Any]


@dataclass(frozen=True)
class Reconciliation:
    """What the reports allow: ``status`` is where the job goes (RUNNING or FINISHED when re-attached;
    RESTARTING, CANCELED or FAILED when not); ``reason`` why it could not re-attach (None when it did);
    ``reports``: the reports of this job; ``slots``: (slot of the job, report) of every reported
    subtask of the current attempt."""

    status: JobStatus
    reason: str | None
    reports: list[TaskReport]
    slots: list[tuple[int, TaskReport]]


class Reconciler:
    """Decides over the TaskManagers' reports for one job; ``recovered`` is the status the
    previous leader left in the job record."""

    def __init__(self, job_id: str, recovered: JobStatus) -> None:
        self.job_id = job_id
        self.recovered = recovered

    def reported_all(self, graph: ExecutionGraph, reports: list[TaskReport]) -> bool:
        """True once ``reports`` name every subtask of the current attempt: waiting longer
        cannot change what :meth:`reconcile` decides, so the new leader re-attaches now."""
        reported = {r["execution_id"] for r in reports if r["job_id"] == self.job_id}
        return all(s.execution_id in reported for s in graph.subtasks())

    def reconcile(self, graph: ExecutionGraph, locations: dict[str, str],
                  reports: list[TaskReport]) -> Reconciliation:
        """Take the reported states of the current attempt's subtasks into ``graph`` and where they
        run into ``locations`` (execution id -> TaskManager id), then decide; ``locations`` is
        emptied again when the job cannot be re-attached (its tasks are stopped)."""
        mine = [r for r in reports if r["job_id"] == self.job_id]
        current = {s.execution_id: s for s in graph.subtasks()}
        for report in mine:
            subtask = current.get(report["execution_id"])
            if subtask is not None:
                subtask.state, subtask.end_of_data = ExecutionState(report["state"]), report["end_of_data"]
                locations[subtask.execution_id] = report["tm_id"]
        missing = sorted(e for e in current if e not in locations)
        broken = sorted(e for e, s in current.items()
                        if s.state not in (ExecutionState.RUNNING, ExecutionState.FINISHED))
        slots = [(current[r["execution_id"]].slot_index, r) for r in mine if r["execution_id"] in current]
        if not missing and not broken and self.recovered == JobStatus.RUNNING:
            finished = all(s.state == ExecutionState.FINISHED for s in current.values())
            return Reconciliation(JobStatus.FINISHED if finished else JobStatus.RUNNING, None, mine, slots)
        locations.clear()
        reason = f"cannot re-attach: job was {self.recovered}; missing {missing}; not running {broken}"
        ending = {JobStatus.CANCELING: JobStatus.CANCELED, JobStatus.FAILING: JobStatus.FAILED}
        return Reconciliation(ending.get(self.recovered, JobStatus.RESTARTING), reason, mine, slots)
