"""A JobGraph as text, for ``strom run --dry-run`` (Flink's ``flink info``): what would run, where
its data flows, without submitting anything.

>>> from strom.graph.job_graph import JobEdge, JobGraph, JobVertex
>>> from strom.graph.stream_graph import StreamNode
>>> graph = JobGraph("j1", "demo", 128, [JobVertex("v1", [StreamNode(1, "map", "upper", 2)], 2, 128),
...                                     JobVertex("v2", [StreamNode(2, "map", "lower", 1)], 1, 128)],
...                  [JobEdge("v1-v2-1", "v1", "v2", "rebalance", 1)], "dlq")
>>> print(explain(graph, "default"))  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
job demo (j1): 2 vertices, max parallelism 128, checkpointing off, restart strategy none, errors fail, ...
  v1 upper  parallelism 2
  v2 lower  parallelism 1
     <- v1 rebalance over 1 partition: topic strom.default.job.j1.v1-v2-1
"""

from __future__ import annotations

from typing import Any

from strom.graph.job_graph import JobGraph, JobVertex


def _connector(node: Any) -> str:
    """Where a source reads or a sink writes, if the operator is one."""
    connector = node.connector
    if connector is None:
        return ""
    topics = getattr(connector, "topics", None)
    if topics:
        bounded = " (bounded)" if getattr(connector, "bounded", None) is not None else ""
        return f" reads {', '.join(topics)}{bounded}"
    serializer = getattr(connector, "record_serializer", None)
    if serializer is not None:
        guarantee = getattr(connector, "delivery_guarantee", None)
        return f" writes {serializer.topic}" + (f" ({guarantee.value})" if guarantee is not None else "")
    return ""


def _vertex(vertex: JobVertex) -> str:
    operators = " -> ".join(f"{node.name}{_connector(node)}" for node in vertex.operators)
    return f"  {vertex.id} {operators}  parallelism {vertex.parallelism}"


def explain(job_graph: JobGraph, cluster_id: str) -> str:
    """One line for the job, one per vertex (its chained operators, their topics, parallelism) and
    one per input edge under its vertex (partitioner, partitions, intermediate topic)."""
    checkpoints = job_graph.checkpoint_config
    checkpointing = (f"checkpoints every {checkpoints.interval_ms} ms ({checkpoints.mode.value})"
                     if checkpoints.enabled else "checkpointing off")
    lines = [f"job {job_graph.job_name} ({job_graph.job_id}): {len(job_graph.vertices)} vertices, max parallelism "
             f"{job_graph.max_parallelism}, {checkpointing}, restart strategy {job_graph.restart_strategy.kind}, "
             f"errors {job_graph.error_policy.value}, dead letters to {job_graph.dead_letter_topic}"]
    for vertex in job_graph.vertices:
        lines.append(_vertex(vertex))
        for edge in (e for e in job_graph.edges if e.target_vertex == vertex.id):
            plural = "s" if edge.partitions != 1 else ""
            side = f" (side output {edge.side_output})" if edge.side_output else ""
            lines.append(f"     <- {edge.source_vertex} {edge.partitioner}{side} over {edge.partitions} "
                         f"partition{plural}: topic {edge.topic(cluster_id, job_graph.job_id)}")
    return "\n".join(lines)
