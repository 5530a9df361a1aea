"""The subtasks of a job run in one process (:mod:`strom.testing.local`): the cluster's own
:class:`~strom.runtime.chain.OperatorChain` assembly, operators, keyed state, timers and
watermark valve, with in-memory edges instead of Kafka topics.

An edge routes a record as the cluster's record writer does: HASH by the key's key group
(:func:`~strom.state.keygroups.key_group_for`) to the subtask that owns it
(:func:`~strom.state.keygroups.operator_index_for`), FORWARD to the subtask of the same
index, REBALANCE round-robin starting at its own index. Events (watermarks, end of input)
go to every subtask of the edge's target, whose :class:`~strom.runtime.io.valve.StatusWatermarkValve`
takes the minimum over its channels, as on the cluster. A channel is ``(edge id, upstream
subtask)``; a subtask's input queue holds its items in arrival order:

- ``(RECORD, channel, input number, key group, timestamp ms | None, element)``
- ``(EVENT, channel, event)``: a :class:`~strom.runtime.io.events.Watermark` or WatermarkStatus
- ``(END, channel)``: that upstream subtask's end of input
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from strom.graph.job_graph import JobEdge, JobVertex
from strom.graph.stream_graph import FORWARD, HASH, SINK
from strom.runtime.chain import OperatorChain
from strom.runtime.deployment import TaskDeploymentDescriptor
from strom.runtime.io.events import Watermark, WatermarkStatus
from strom.runtime.io.valve import StatusWatermarkValve
from strom.runtime.operators import Broadcast, Output
from strom.runtime.sinks import SinkSerializer
from strom.runtime.timers import MAX_TIME, InternalTimerService
from strom.runtime.watermarks import WatermarkOutput
from strom.runtime.windows import RecordClock
from strom.state.backend import HeapKeyedStateBackend
from strom.state.keygroups import key_group_for, operator_index_for

RECORD, EVENT, END = "record", "event", "end"
MAX_RECORD_BYTES = 1 << 20  # what a KafkaSink's records are checked against (Kafka's default max.message.bytes)

Deliver = Callable[[str, int, tuple], None]  # (target vertex id, target subtask, queue item)


@dataclasses.dataclass(frozen=True)
class SubtaskInfo:
    """What the chain's RuntimeContext is told about its subtask (a deployment descriptor's part)."""

    subtask_index: int
    parallelism: int
    max_parallelism: int
    attempt: int = 0


class SinkRecord:
    """A record a KafkaSink would have written, shaped like confluent-kafka's ``Message``
    (``key()``, ``value()``, ``timestamp()``, ``topic()``), so helpers written for records read
    back from Kafka take it too. ``timestamp()`` is ``(1, ms)`` (create time), ``(0, -1)`` without."""

    __slots__ = ("_key", "_timestamp", "_topic", "_value")

    def __init__(self, topic: str, key: bytes | None, value: bytes, timestamp: int | None) -> None:
        self._topic, self._key, self._value, self._timestamp = topic, key, value, timestamp

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (0, -1) if self._timestamp is None else (1, self._timestamp)

    def __repr__(self) -> str:
        return f"SinkRecord({self._topic!r}, key={self._key!r}, value={self._value!r}, ts={self._timestamp})"


class LocalSinkWriter:
    """The end of a sink's chain: ``(element, timestamp ms)`` into ``outputs``; a KafkaSink's
    elements also serialized, as the cluster would (a record Kafka would refuse raises
    :class:`~strom.errors.SinkRecordError`), into ``records``."""

    def __init__(self, connector: Any, clock: RecordClock, outputs: list[tuple[Any, int | None]],
                 records: list[SinkRecord] | None) -> None:
        self.clock, self.outputs, self.records = clock, outputs, records
        schema = getattr(connector, "record_serializer", None)
        self.serializer = SinkSerializer(schema, MAX_RECORD_BYTES) if schema is not None else None
        self.topic = schema.topic if schema is not None else ""
        self.records_out, self.back_pressured_s = 0, 0.0

    def collect(self, element: Any) -> None:
        timestamp = self.clock.timestamp
        if self.serializer is not None and self.records is not None:
            key, value = self.serializer(element)
            self.records.append(SinkRecord(self.topic, key, value, timestamp))
        self.outputs.append((element, timestamp))
        self.records_out += 1


class LocalRecordWriter:
    """One output edge of one subtask, in memory (the cluster's RecordWriter routing, see the module)."""

    def __init__(self, edge: JobEdge, subtask_index: int, target_parallelism: int, max_parallelism: int,
                 clock: RecordClock, deliver: Deliver) -> None:
        self.edge, self.subtask_index, self.clock, self.deliver = edge, subtask_index, clock, deliver
        self.targets, self.max_parallelism = target_parallelism, max_parallelism
        self.channel = (edge.id, subtask_index)
        self._round_robin = itertools.count(subtask_index)
        self.records_out, self.back_pressured_s = 0, 0.0

    def collect(self, element: Any) -> None:
        edge = self.edge
        if edge.partitioner == HASH:
            if edge.key_selector is None:
                raise TypeError(f"a hash-partitioned edge needs a key selector (element {element!r})")
            key_group = key_group_for(edge.key_selector(element), self.max_parallelism)
            target = operator_index_for(key_group, self.max_parallelism, self.targets)
        else:  # the partition number: FORWARD its own index, REBALANCE round-robin
            target = key_group = (self.subtask_index if edge.partitioner == FORWARD
                                  else next(self._round_robin) % self.targets)
        self.records_out += 1
        self.deliver(edge.target_vertex, target,
                     (RECORD, self.channel, edge.type_number, key_group, self.clock.timestamp, element))

    def broadcast_event(self, event: Any) -> None:
        for target in range(self.targets):
            self.deliver(self.edge.target_vertex, target, (EVENT, self.channel, event))

    def end(self) -> None:
        for target in range(self.targets):
            self.deliver(self.edge.target_vertex, target, (END, self.channel))


class LocalOperatorChain(OperatorChain):
    """:class:`~strom.runtime.chain.OperatorChain` with in-memory writers: the same chain assembly
    (``_chain``), watermark output, timers and end-of-input handling; no producer, no Kafka."""

    def __init__(self, vertex: JobVertex, info: SubtaskInfo, writers: list[LocalRecordWriter],
                 sink_writer: LocalSinkWriter | None, clock: RecordClock) -> None:
        self.vertex, self.clock = vertex, clock
        keyed = any(edge.partitioner == HASH for edge in vertex.inputs)  # as the JobManager deploys it
        self.backend = HeapKeyedStateBackend() if keyed else None
        self.timers = InternalTimerService(self.backend) if self.backend is not None else None
        self.timed_operator: Any = None
        self.record_writers = writers  # type: ignore[assignment]
        self.sink_writer = sink_writer  # type: ignore[assignment]
        operators = vertex.operators[1:] if vertex.is_source else vertex.operators
        if operators and operators[-1].kind == SINK:
            if sink_writer is None:
                raise ValueError(f"{vertex.name} ends in a sink but has no sink writer")
            out: Output = sink_writer
            operators = operators[:-1]
        else:
            main = [w for w, e in zip(writers, vertex.outputs, strict=True) if e.side_output is None]
            out = main[0] if len(main) == 1 else Broadcast(main)
        self.head = self._chain(operators, out, cast(TaskDeploymentDescriptor, info))
        self.watermarks = WatermarkOutput(writers, self.timed_operator)

    def end_of_input(self) -> None:
        """As a task at the end of its input: every event-time timer fires, then every
        processing-time one, and downstream is told."""
        self.watermarks.emit_watermark(MAX_TIME)
        self.advance_processing_time(MAX_TIME)
        for writer in self.record_writers:
            cast(LocalRecordWriter, writer).end()


class LocalInput:
    """A non-source subtask's input: its queue, watermark valve and the head's entries per input."""

    def __init__(self, vertex: JobVertex, upstream_parallelism: dict[str, int], chain: LocalOperatorChain) -> None:
        self.chain, self.queue = chain, deque[tuple]()
        channels = [(edge.id, u) for edge in vertex.inputs for u in range(upstream_parallelism[edge.source_vertex])]
        self.valve = StatusWatermarkValve(channels)
        self.open = set(channels)
        head: Any = chain.head
        self.inputs = {0: head.collect, 1: head.collect,
                       2: head.collect2 if any(e.type_number == 2 for e in vertex.inputs) else head.collect}

    def handle(self, item: tuple) -> None:
        """One queue item (see the module); raises what the chain raises on a record."""
        chain, kind = self.chain, item[0]
        if kind == RECORD:
            _kind, _channel, number, key_group, timestamp, element = item
            if chain.backend is not None:
                chain.backend.current_key_group = key_group
            chain.clock.timestamp = timestamp
            self.inputs[number](element)
        elif kind == EVENT:
            event = item[2]
            if isinstance(event, Watermark):
                chain.watermarks.emit_input_watermark(self.valve.on_watermark(item[1], event.timestamp))
            elif isinstance(event, WatermarkStatus):
                chain.watermarks.emit_input_watermark(self.valve.on_status(item[1], event))
        else:
            chain.watermarks.emit_input_watermark(self.valve.on_end_of_partition(item[1]))
            self.open.discard(item[1])
            if not self.open:
                chain.end_of_input()
