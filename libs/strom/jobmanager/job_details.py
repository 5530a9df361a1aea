"""The ``GET /jobs/:jobid`` body of a running job (Flink's shape, a subset), built from the live
JobMaster. What recovery needs is the :class:`~strom.jobmanager.job_store.JobRecord`, not this."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strom.graph.job_graph import JobGraph
from strom.jobmanager.job_attempt import JobAttempt

if TYPE_CHECKING:
    from strom.jobmanager.job_master import JobMaster


def job_details(job_master: JobMaster) -> dict[str, Any]:
    """The REST body: jid, name, state, times (ms; end-time -1 while running), error, vertices with
    per-state task counts and subtasks, restarts, restored checkpoint, recent failures, checkpoint
    statistics (None without checkpointing), source partitions and savepoint requests."""
    end_time, attempt, coordinator = job_master.end_time, job_master.attempt, job_master.checkpointing.coordinator
    duration = (end_time or job_master.clock.wall_ms()) - job_master.start_time
    job_graph = job_master.job_graph
    return {"jid": job_master.job_id, "name": job_graph.job_name, "state": job_master.state,
            "start-time": job_master.start_time, "end-time": end_time or -1,
            "duration": duration, "error": job_master.error,
            "dead-letter-topic": job_graph.dead_letter_topic, "vertices": _vertices(attempt),
            "restarts": attempt.generation, "restored-checkpoint": attempt.restored_from,
            "failures": job_master.failover.recent_failures(),
            "checkpoints": coordinator.stats() if job_graph.checkpoint_config.enabled else None,
            "source-partitions": attempt.source_partitions,
            "savepoints": coordinator.savepoints, "plan": job_plan(job_graph),
            "execution-config": execution_config(job_graph)}


def job_plan(job_graph: JobGraph) -> dict[str, Any]:
    """Flink's ``GET /jobs/:id/plan`` body: nodes with parallelism and their inputs (the edges)."""
    return {"jid": job_graph.job_id, "name": job_graph.job_name, "type": "STREAMING",
            "nodes": [{"id": v.id, "parallelism": v.parallelism, "operator": "", "description": v.name,
                       "inputs": [{"num": i, "id": e.source_vertex, "ship_strategy": e.partitioner.upper(),
                                   "exchange": "pipelined_bounded"} for i, e in enumerate(v.inputs)]}
                      for v in job_graph.vertices]}


def execution_config(job_graph: JobGraph) -> dict[str, Any]:
    """Flink's ``GET /jobs/:id/config`` ``execution-config``, and the checkpoint settings (ms)."""
    checkpoints, restart = job_graph.checkpoint_config, job_graph.restart_strategy
    return {"execution-mode": "PIPELINED", "job-parallelism": max(v.parallelism for v in job_graph.vertices),
            "restart-strategy": restart.kind, "error-policy": str(job_graph.error_policy.value),
            "checkpoints": {"mode": checkpoints.mode.value.replace("-", "_"), "interval": checkpoints.interval_ms,
                            "timeout": checkpoints.timeout_ms, "min_pause": checkpoints.min_pause_ms,
                            "max_concurrent": checkpoints.max_concurrent,
                            "tolerable_failed_checkpoints": checkpoints.tolerable_failures,
                            "num_retained": checkpoints.num_retained, "enabled": checkpoints.enabled}}


def _vertices(attempt: JobAttempt) -> list[dict[str, Any]]:
    vertices = []
    for execution_vertex in attempt.graph.job_vertices:
        counts: dict[str, int] = {}
        for subtask in execution_vertex.subtasks:
            counts[subtask.state] = counts.get(subtask.state, 0) + 1
        vertex = execution_vertex.job_vertex
        # Flink's vertex status: the state all subtasks share, else the least advanced running one.
        status = next(iter(counts)) if len(counts) == 1 else next(
            (state for state in ("FAILED", "DEPLOYING", "CREATED", "RUNNING") if state in counts), "RUNNING")
        vertices.append({
            "id": vertex.id, "name": vertex.name, "parallelism": vertex.parallelism, "status": status,
            "tasks": counts,
            "subtasks": [{"subtask": s.subtask_index, "attempt": s.attempt, "status": s.state,
                          "end-of-data": s.end_of_data,
                          "taskmanager-id": attempt.locations.get(s.execution_id), "error": s.error}
                         for s in execution_vertex.subtasks]})
    return vertices
