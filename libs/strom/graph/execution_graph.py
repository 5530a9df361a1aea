"""The ExecutionGraph: one ExecutionVertex per subtask of each JobVertex, with attempts.

Slot sharing as Flink's default group: subtask ``i`` of every vertex runs in
slot ``i`` of the job, so a job needs ``max(parallelism)`` slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strom.graph.job_graph import JobGraph, JobVertex
from strom.states import ExecutionState

# The states runtime/task.py and the TaskManager import from here under their old names, until
# their owners import ExecutionState from strom.states (issue 10, items 1 and 3).
DEPLOYING, RUNNING, FINISHED, CANCELED, FAILED, END_OF_DATA = (
    ExecutionState.DEPLOYING, ExecutionState.RUNNING, ExecutionState.FINISHED,
    ExecutionState.CANCELED, ExecutionState.FAILED, ExecutionState.END_OF_DATA)


@dataclass
class ExecutionVertex:
    """One subtask. ``execution_id`` names the current attempt, e.g. ``v2[1]#0``."""

    vertex_id: str
    subtask_index: int
    parallelism: int
    attempt: int = 0
    state: ExecutionState = ExecutionState.CREATED
    slot_index: int = 0  # the job's slot it runs in (slot sharing: its subtask index)
    error: str | None = None
    end_of_data: bool = False

    @property
    def execution_id(self) -> str:
        return f"{self.vertex_id}[{self.subtask_index}]#{self.attempt}"


@dataclass
class ExecutionJobVertex:
    job_vertex: JobVertex
    subtasks: list[ExecutionVertex] = field(default_factory=list)


@dataclass
class ExecutionGraph:
    job_graph: JobGraph
    job_vertices: list[ExecutionJobVertex]

    @classmethod
    def from_job_graph(cls, job_graph: JobGraph, attempt: int = 0) -> ExecutionGraph:
        """Every subtask of ``job_graph`` in state CREATED, as attempt ``attempt`` (the job's restart count)."""
        return cls(job_graph, [
            ExecutionJobVertex(v, [ExecutionVertex(v.id, i, v.parallelism, attempt=attempt, slot_index=i)
                                   for i in range(v.parallelism)])
            for v in job_graph.vertices])

    def subtasks(self) -> list[ExecutionVertex]:
        return [s for jv in self.job_vertices for s in jv.subtasks]

    def find(self, execution_id: str) -> ExecutionVertex | None:
        return next((s for s in self.subtasks() if s.execution_id == execution_id), None)
