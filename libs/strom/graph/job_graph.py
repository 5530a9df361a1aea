"""StreamGraph -> JobGraph: operators chained into JobVertices, other edges become Kafka topics.

Chaining rule (Flink's ``StreamingJobGraphGenerator.isChainable``, narrowed to
linear chains): the edge is FORWARD, both ends have the same parallelism,
the target has this single input, the source this single output, and
chaining is enabled for the job and both operators (and the target does not
``start_new_chain``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strom.checkpoint.config import CheckpointConfig, RestartStrategyConfiguration
from strom.errors import InvalidJobGraphError
from strom.graph.stream_graph import (
    HASH,
    SINK,
    SOURCE,
    ErrorPolicy,
    StreamEdge,
    StreamGraph,
    StreamNode,
)
from strom.naming import edge_topic


@dataclass
class JobEdge:
    """A non-chained edge: carried by a Kafka topic with ``partitions`` partitions.

    HASH edges have ``max_parallelism`` partitions = key groups; FORWARD and
    REBALANCE edges one partition per target subtask.
    """

    id: str
    source_vertex: str
    target_vertex: str
    partitioner: str
    partitions: int
    key_selector: Callable[[Any], Any] | None = None
    side_output: str | None = None
    source_node: int = 0  # the StreamNode (operator) whose output or side output this edge carries
    type_number: int = 0  # which input of a two-input target vertex (1 or 2); 0 = one input

    def topic(self, cluster_id: str, job_id: str) -> str:
        return edge_topic(cluster_id, job_id, self.id)


@dataclass
class JobVertex:
    """A chain of operators run by one task per subtask; ``operators[0]`` is the head."""

    id: str
    operators: list[StreamNode]
    parallelism: int
    max_parallelism: int
    inputs: list[JobEdge] = field(default_factory=list)
    outputs: list[JobEdge] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " -> ".join(op.name for op in self.operators)

    @property
    def is_source(self) -> bool:
        return self.operators[0].kind == SOURCE

    def error_policy(self, job_default: ErrorPolicy) -> ErrorPolicy:
        """The policy of the chain: a record fails the chain as a whole, so an operator that asks
        for FAIL wins over one that asks for DEAD_LETTER; the job's default when none asks."""
        asked = {op.error_policy for op in self.operators if op.error_policy is not None}
        if not asked:
            return job_default
        return ErrorPolicy.FAIL if ErrorPolicy.FAIL in asked else ErrorPolicy.DEAD_LETTER


@dataclass
class JobGraph:
    """What a client submits: vertices in topological order, edges, job-level settings."""

    job_id: str
    job_name: str
    max_parallelism: int
    vertices: list[JobVertex]
    edges: list[JobEdge]
    dead_letter_topic: str
    checkpoint_config: CheckpointConfig = field(default_factory=CheckpointConfig)
    restart_strategy: RestartStrategyConfiguration = field(
        default_factory=lambda: RestartStrategyConfiguration("none"))
    savepoint: str | None = None  # savepoint id to restore from
    error_policy: ErrorPolicy = ErrorPolicy.FAIL  # the job's default; operators may set their own
    buffer_timeout_ms: int | None = None  # network buffers' timeout; None: the TaskManagers' setting

    def state_key(self, vertex: JobVertex) -> str:
        """How a savepoint finds this vertex's state: its operators' uids, else its id."""
        uids = [op.uid for op in vertex.operators if op.uid]
        return "uid:" + "/".join(uids) if len(uids) == len(vertex.operators) else "vertex:" + vertex.id

    def vertex(self, vertex_id: str) -> JobVertex:
        return next(v for v in self.vertices if v.id == vertex_id)

    def parallelisms(self) -> list[tuple[str, int]]:
        """(vertex id, parallelism) of every vertex: what names the keys of the job's snapshots."""
        return [(v.id, v.parallelism) for v in self.vertices]

    @property
    def slots_needed(self) -> int:
        """One slot per parallel pipeline: every vertex shares the default slot sharing group."""
        return max(v.parallelism for v in self.vertices)


def _chainable(graph: StreamGraph, edge: StreamEdge) -> bool:
    source, target = graph.nodes[edge.source_id], graph.nodes[edge.target_id]
    return (edge.side_output is None and graph.chaining and source.chaining and target.chaining
            and not target.start_new_chain
            and edge.partitioner == "forward" and source.parallelism == target.parallelism
            and len(graph.inputs(target.id)) == 1 and len(graph.outputs(source.id)) == 1)


def _topological(graph: StreamGraph) -> list[StreamNode]:
    order, seen = [], set()

    def visit(node_id: int) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for edge in graph.inputs(node_id):
            visit(edge.source_id)
        order.append(graph.nodes[node_id])

    for node_id in sorted(graph.nodes):
        visit(node_id)
    return order


def validate(graph: StreamGraph) -> None:
    """Raise :class:`InvalidJobGraphError` for a topology that cannot run."""
    kinds = [n.kind for n in graph.nodes.values()]
    if SOURCE not in kinds:
        raise InvalidJobGraphError("the job has no source: use env.from_source(...)")
    if SINK not in kinds:
        raise InvalidJobGraphError("the job has no sink: no operators defined in streaming topology "
                                   "reach a sink_to(...)")
    for node in graph.nodes.values():
        if not 1 <= node.parallelism <= graph.max_parallelism:
            raise InvalidJobGraphError(f"operator {node.name!r}: parallelism {node.parallelism} "
                                       f"not in 1..max_parallelism {graph.max_parallelism}")
        if node.kind != SOURCE and not graph.inputs(node.id):
            raise InvalidJobGraphError(f"operator {node.name!r} has no input")
        if node.kind != SINK and not graph.outputs(node.id):
            raise InvalidJobGraphError(f"operator {node.name!r} leads to no sink")
    uids = [n.uid for n in graph.nodes.values() if n.uid]
    if len(uids) != len(set(uids)):
        raise InvalidJobGraphError(f"operator uids must be unique: {sorted(uids)}")


def _dead_letter_topic(job_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", job_name).strip("-").lower() + "-dlq"


def build_job_graph(graph: StreamGraph, job_id: str | None = None,
                    dead_letter_topic: str | None = None,
                    checkpoint_config: CheckpointConfig | None = None,
                    restart_strategy: RestartStrategyConfiguration | None = None,
                    savepoint: str | None = None, error_policy: ErrorPolicy = ErrorPolicy.FAIL,
                    buffer_timeout_ms: int | None = None) -> JobGraph:
    """Chain operators and name the Kafka edges. Raises :class:`InvalidJobGraphError`."""
    checkpoint_config = checkpoint_config or CheckpointConfig()
    validate(graph)
    vertex_of: dict[int, JobVertex] = {}
    vertices: list[JobVertex] = []
    for node in _topological(graph):
        inputs = graph.inputs(node.id)
        if len(inputs) == 1 and _chainable(graph, inputs[0]):
            vertex = vertex_of[inputs[0].source_id]
            vertex.operators.append(node)
        else:
            vertex = JobVertex(f"v{len(vertices) + 1}", [node], node.parallelism, graph.max_parallelism)
            vertices.append(vertex)
        vertex_of[node.id] = vertex
    edges: list[JobEdge] = []
    for edge in graph.edges:
        source, target = vertex_of[edge.source_id], vertex_of[edge.target_id]
        if source is target:
            continue
        job_edge = JobEdge(
            id=f"{source.id}-{target.id}-{len(edges) + 1}", source_vertex=source.id,
            target_vertex=target.id, partitioner=edge.partitioner,
            partitions=graph.max_parallelism if edge.partitioner == HASH else target.parallelism,
            key_selector=edge.key_selector, side_output=edge.side_output, source_node=edge.source_id,
            type_number=edge.type_number)
        source.outputs.append(job_edge)
        target.inputs.append(job_edge)
        edges.append(job_edge)
    return JobGraph(job_id or uuid.uuid4().hex, graph.job_name, graph.max_parallelism, vertices,
                    edges, dead_letter_topic or _dead_letter_topic(graph.job_name), checkpoint_config,
                    restart_strategy or RestartStrategyConfiguration("none"), savepoint, error_policy,
                    buffer_timeout_ms)
