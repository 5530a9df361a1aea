"""The subtasks of one local run and the order they run in (:func:`strom.testing.local.run_locally`).

One source element at a time, round-robin over the source subtasks in vertex order; after each,
every queued item of every other subtask is handled, in topological order (so one pass
empties the queues). A snapshot taken then is each subtask's
:class:`~strom.checkpoint.snapshot.SubtaskSnapshot`, the cluster's own encoding: a source's
offset (``KafkaPartition(source name, subtask)`` -> elements read), the watermark and the
keyed state per key group.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from strom.checkpoint.snapshot import SubtaskSnapshot
from strom.graph.job_graph import JobGraph, JobVertex
from strom.graph.stream_graph import SINK, ErrorPolicy, StreamNode
from strom.io.kafka import KafkaPartition
from strom.runtime.timers import MIN_TIME
from strom.runtime.windows import RecordClock
from strom.state.keygroups import key_group_range
from strom.testing.local_chain import (
    RECORD,
    LocalInput,
    LocalOperatorChain,
    LocalRecordWriter,
    LocalSinkWriter,
    SinkRecord,
    SubtaskInfo,
)
from strom.testing.local_source import DeadLetter, LocalSource


@dataclasses.dataclass(frozen=True)
class LocalSnapshot:
    """A checkpoint of a local run: ``states[state key]`` (uids or vertex id, as
    :meth:`~strom.graph.job_graph.JobGraph.state_key`) -> each subtask's encoded
    :class:`~strom.checkpoint.snapshot.SubtaskSnapshot` fields; ``elements``: source elements read."""

    states: dict[str, list[dict[bytes, bytes]]]
    elements: int


class LocalJob:
    """Every subtask of ``job_graph``; ``values``: source node id -> its elements; ``outputs``,
    ``kafka_records`` and ``dead_letters``: where sinks and sources put what they produce
    (see :class:`~strom.testing.local.LocalResults`); ``sink_name(node)``: a sink's key there."""

    def __init__(self, job_graph: JobGraph, values: dict[int, list[Any]],
                 outputs: dict[str, list[tuple[Any, int | None]]], kafka_records: dict[str, list[SinkRecord]],
                 dead_letters: list[DeadLetter], sink_name: Callable[[StreamNode], str]) -> None:
        self.job_graph = job_graph
        self.parallelism = {v.id: v.parallelism for v in job_graph.vertices}
        self.chains: dict[tuple[str, int], LocalOperatorChain] = {}
        self.inputs: dict[tuple[str, int], LocalInput] = {}
        self.sources: list[tuple[str, int, LocalSource]] = []
        self.elements, self.dead_letters = 0, dead_letters
        self.dead_lettering = {v.id for v in job_graph.vertices
                               if v.error_policy(job_graph.error_policy) == ErrorPolicy.DEAD_LETTER}
        for shared in job_graph.vertices:
            for index in range(shared.parallelism):
                # Each subtask its own copy of the user's functions, as each task unpickles its own
                # (connectors shared: a collection's elements are not copied per subtask).
                vertex = copy.deepcopy(shared, {id(op.connector): op.connector for op in shared.operators})
                chain = self._chain(vertex, index, outputs, kafka_records, sink_name)
                self.chains[vertex.id, index] = chain
                if vertex.is_source:
                    node = vertex.operators[0]
                    source = LocalSource(node, values[node.id], index, vertex.parallelism, chain, 0, dead_letters,
                                         vertex.id in self.dead_lettering)
                    self.sources.append((vertex.id, index, source))
                else:
                    self.inputs[vertex.id, index] = LocalInput(vertex, self.parallelism, chain)

    def _chain(self, vertex: JobVertex, index: int, outputs: dict[str, list[tuple[Any, int | None]]],
               kafka_records: dict[str, list[SinkRecord]], sink_name: Callable[[StreamNode], str]
               ) -> LocalOperatorChain:
        clock = RecordClock()
        writers = [LocalRecordWriter(edge, index, self.parallelism[edge.target_vertex], self.job_graph.max_parallelism,
                                     clock, self._deliver) for edge in vertex.outputs]
        tail = vertex.operators[-1]
        sink = None
        if tail.kind == SINK:
            name = sink_name(tail)
            sink = LocalSinkWriter(tail.connector, clock, outputs[name], kafka_records.get(name))
        info = SubtaskInfo(index, vertex.parallelism, self.job_graph.max_parallelism)
        return LocalOperatorChain(vertex, info, writers, sink, clock)

    def _deliver(self, vertex_id: str, index: int, item: tuple) -> None:
        self.inputs[vertex_id, index].queue.append(item)

    # -- running --------------------------------------------------------------------------
    def run(self, stop_after: int | None) -> LocalSnapshot | None:
        """Read every source to its end, or stop after ``stop_after`` elements and return a snapshot."""
        if stop_after is not None and self.elements >= stop_after:
            return self.snapshot()
        pending = [(vid, i, s) for vid, i, s in self.sources]
        while pending:
            for entry in list(pending):
                source = entry[2]
                if not source.pending:
                    pending.remove(entry)
                    source.chain.end_of_input()
                    self.drain()
                    continue
                source.emit_next()
                self.elements += 1
                self.drain()
                if stop_after is not None and self.elements >= stop_after:
                    return self.snapshot()
        return None

    def drain(self) -> None:
        """Handle every queued item, upstream vertices first."""
        busy = True
        while busy:
            busy = False
            for (vertex_id, index), local in self.inputs.items():
                queue = local.queue
                while queue:
                    busy = True
                    item = queue.popleft()
                    try:
                        local.handle(item)
                    except Exception as exc:
                        if item[0] == RECORD and vertex_id in self.dead_lettering:  # the task goes on
                            self.dead_letters.append(DeadLetter(local.chain.vertex.name, item[-1],
                                                                f"{type(exc).__name__}: {exc}", item[-1]))
                            continue
                        exc.add_note(f"in {local.chain.vertex.name!r} (subtask {index} of {vertex_id}) "
                                     f"on {item[0]} {item[-1]!r}")
                        raise

    # -- checkpoints ----------------------------------------------------------------------
    def snapshot(self) -> LocalSnapshot:
        """Every subtask's state now (the queues are empty: nothing is in flight)."""
        states: dict[str, list[dict[bytes, bytes]]] = {}
        positions = {(vid, i): s.position for vid, i, s in self.sources}
        for vertex in self.job_graph.vertices:
            fields = []
            for index in range(vertex.parallelism):
                chain = self.chains[vertex.id, index]
                offsets = ({KafkaPartition(vertex.operators[0].name, index): positions[vertex.id, index]}
                           if vertex.is_source else {})
                snapshot = SubtaskSnapshot(offsets, chain.watermarks.watermark,
                                           chain.backend.snapshot() if chain.backend is not None else {})
                fields.append({name.encode(): data for name, data in snapshot.encode().items()})
            states[self.job_graph.state_key(vertex)] = fields
        return LocalSnapshot(states, self.elements)

    def restore(self, snapshot: LocalSnapshot) -> None:
        """Load ``snapshot`` into these fresh subtasks. Raises ValueError for state of no vertex of
        this job, or a source whose parallelism changed."""
        keys = {self.job_graph.state_key(v): v for v in self.job_graph.vertices}
        unknown = set(snapshot.states) - set(keys)
        if unknown:
            raise ValueError(f"the snapshot has state of {sorted(unknown)}, which this job does not have "
                             f"(its vertices: {sorted(keys)}); give operators the same uid() in both")
        for key, fields in snapshot.states.items():
            vertex = keys[key]
            if vertex.is_source and len(fields) != vertex.parallelism:
                raise ValueError(f"source {vertex.name!r} ran with parallelism {len(fields)} in the snapshot, "
                                 f"{vertex.parallelism} now: a source cannot change it")
            self._restore_vertex(vertex, [SubtaskSnapshot.decode(f) for f in fields])
        self.elements = snapshot.elements

    def _restore_vertex(self, vertex: JobVertex, snapshots: list[SubtaskSnapshot]) -> None:
        """As the cluster restores a subtask: the lowest watermark of the snapshots, the key groups it owns."""
        watermark = min(s.watermark if s.watermark is not None else MIN_TIME for s in snapshots)
        sources = {(vid, i): s for vid, i, s in self.sources}
        for index in range(vertex.parallelism):
            chain = self.chains[vertex.id, index]
            chain.watermarks.watermark = watermark
            if chain.backend is not None and chain.timers is not None:
                owned = key_group_range(self.job_graph.max_parallelism, vertex.parallelism, index)
                chain.backend.restore((kg, data) for s in snapshots for kg, data in s.key_groups.items()
                                      if kg in owned)
                chain.timers.restore()
                chain.timers.watermark = watermark
            if vertex.is_source:
                offset = KafkaPartition(vertex.operators[0].name, index)
                sources[vertex.id, index].position = snapshots[index].offsets.get(offset, 0)
