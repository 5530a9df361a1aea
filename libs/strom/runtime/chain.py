"""Assembly of a subtask's operator chain (Flink's OperatorChain): head operator to writers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from strom.graph.job_graph import JobVertex
from strom.graph.stream_graph import CO_PROCESS, PROCESS, SINK, WINDOW
from strom.io.kafka import await_partitions
from strom.runtime.deployment import TaskDeploymentDescriptor
from strom.runtime.io.events import END_OF_PARTITION
from strom.runtime.io.record_writer import OutputFlusher, RecordWriter
from strom.runtime.operators import Broadcast, Output, chain_operator
from strom.runtime.settings import TaskSettings
from strom.runtime.sinks import ExactlyOnceSinkWriter, KafkaSinkWriter, batch_size_config
from strom.runtime.timers import MAX_TIME, PROCESSING_TIME, InternalTimerService
from strom.runtime.watermarks import WatermarkOutput
from strom.runtime.windows import RecordClock
from strom.state.api import RuntimeContext
from strom.state.backend import HeapKeyedStateBackend


class OperatorChain:
    """The chained operators of one subtask in front of its record writers or its sink writer.

    ``head``: where input elements go (``collect``, and ``collect2`` for input 2
    of a two-input operator). ``make_producer(bootstrap, overrides)``: a producer of its own for a
    sink (on another Kafka cluster, or taking smaller batches). ``settings``: the task's tunables
    (a transactional sink's linger.ms and buffer bound).
    """

    def __init__(self, vertex: JobVertex, descriptor: TaskDeploymentDescriptor, producer: Producer,
                 bootstrap: str, make_producer: Callable[[str, dict[str, Any]], Producer], clock: RecordClock,
                 settings: TaskSettings) -> None:
        self.vertex, self.clock = vertex, clock
        buffer_timeout_ms = settings.buffer_timeout_of(descriptor.buffer_timeout_ms)
        self.backend = HeapKeyedStateBackend() if descriptor.key_groups is not None else None
        self.timers = InternalTimerService(self.backend) if self.backend is not None else None
        self.timed_operator: Any = None  # the keyed head operator with timers (window, process)
        self.sink_writer: KafkaSinkWriter | ExactlyOnceSinkWriter | None = None
        self.record_writers = [RecordWriter(producer, out, descriptor.subtask_index, descriptor.attempt,
                                            edge.key_selector, clock, buffer_timeout_ms, settings.segment_size_bytes,
                                            settings.cluster_secret)
                               for out, edge in zip(descriptor.outputs, vertex.outputs, strict=True)]
        for edge_out in descriptor.outputs:  # buffers go to explicit partitions: the producer must know them
            await_partitions(producer, edge_out.topic, edge_out.partitions)
        operators = vertex.operators[1:] if vertex.is_source else vertex.operators
        if operators and operators[-1].kind == SINK:
            self.sink_writer = self._sink_writer(operators[-1].connector, descriptor, producer, bootstrap,
                                                 make_producer, settings)
            out: Output = self.sink_writer
            operators = operators[:-1]
        else:
            main = [w for w, e in zip(self.record_writers, vertex.outputs, strict=True) if e.side_output is None]
            out = main[0] if len(main) == 1 else Broadcast(main)
        self.head = self._chain(operators, out, descriptor)
        self.watermarks = WatermarkOutput(self.record_writers, self.timed_operator)
        self.flusher = OutputFlusher(self.record_writers, self.sink_writer.flush
                                     if isinstance(self.sink_writer, KafkaSinkWriter) else None)

    def _sink_writer(self, sink: Any, descriptor: TaskDeploymentDescriptor, producer: Producer, bootstrap: str,
                     make_producer: Callable[[str, dict[str, Any]], Producer],
                     settings: TaskSettings) -> KafkaSinkWriter | ExactlyOnceSinkWriter:
        spec = descriptor.sink
        if spec is None:
            raise ValueError(f"{descriptor.execution_id} ends in a sink but was deployed without a SinkSpec")
        if spec.guarantee == "exactly-once":
            return ExactlyOnceSinkWriter(bootstrap, sink, spec.transactional_id, spec.marker_topic,
                                         spec.marker_group, self.clock, settings.producer_linger_ms,
                                         spec.max_record_bytes, settings.sink_max_buffered_bytes,
                                         settings.kafka_security)
        batching = batch_size_config(spec.max_record_bytes)
        properties = getattr(sink, "properties", None) or {}  # KafkaSink.set_property: they win
        # Its own producer for another cluster, for a topic that takes smaller batches than the
        # edges', or with the sink's own client properties.
        target = (make_producer(sink.bootstrap_servers or bootstrap, {**batching, **properties})
                  if sink.bootstrap_servers or batching or properties else producer)
        return KafkaSinkWriter(target, sink, self.clock, spec.max_record_bytes)

    def _chain(self, operators: list[Any], out: Output, descriptor: TaskDeploymentDescriptor) -> Output:
        ctx = RuntimeContext(self.backend, self.vertex.name, descriptor.subtask_index, descriptor.parallelism,
                             descriptor.max_parallelism, descriptor.attempt)
        # Per operator and tag: a side output may be read by several edges, and another operator
        # of the chain may use the same tag name for output nobody reads (Flink drops that).
        side_writers: dict[int, dict[str, list[RecordWriter]]] = {}
        for writer, edge in zip(self.record_writers, self.vertex.outputs, strict=True):
            if edge.side_output is not None:
                side_writers.setdefault(edge.source_node, {}).setdefault(edge.side_output, []).append(writer)
        for node in reversed(operators):
            sides: dict[str, Output] = {tag: writers[0] if len(writers) == 1 else Broadcast(list(writers))
                                        for tag, writers in side_writers.get(node.id, {}).items()}
            out = chain_operator(node, out, self.backend, self.timers, ctx, self.clock, sides)
            if node.kind in (WINDOW, PROCESS, CO_PROCESS) and node.key_selector is not None:
                self.timed_operator = out
        return out

    # -- metrics (read from the TaskManager's metrics threads) ----------------------------------
    def _writers(self) -> list[Any]:
        return [*self.record_writers, *([self.sink_writer] if self.sink_writer is not None else [])]

    def records_out(self) -> int:
        """Elements written to edges and the sink so far."""
        return sum(writer.records_out for writer in self._writers())

    def back_pressured_s(self) -> float:
        """Seconds blocked on full producer queues so far."""
        return sum(writer.back_pressured_s for writer in self._writers())

    def late_records_dropped(self) -> int:
        """Late elements of the (keyed head) window operator, Flink's numLateRecordsDropped."""
        return getattr(self.timed_operator, "late_dropped", 0)

    def advance_processing_time(self, now: int) -> None:
        """Fire processing-time timers due at ``now`` (ms since the epoch)."""
        if self.timed_operator is not None and self.timers is not None and self.timers.has_timers(PROCESSING_TIME):
            self.timed_operator.on_processing_time(now)

    def end_input(self) -> None:
        """The input ended: every event-time timer fires, and (as batch would) every
        processing-time one; then an end of partition into every output edge, and an at-least-once
        sink's last records into its producer."""
        self.watermarks.emit_watermark(MAX_TIME)
        self.advance_processing_time(MAX_TIME)
        for writer in self.record_writers:
            writer.broadcast_event(END_OF_PARTITION)
        if isinstance(self.sink_writer, KafkaSinkWriter):
            self.sink_writer.flush()

    def close(self) -> None:
        if isinstance(self.sink_writer, ExactlyOnceSinkWriter):
            self.sink_writer.close()
