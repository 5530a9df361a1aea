"""A running subtask: consume its input partitions, run its operator chain, produce its outputs.

Records are consumed and produced in batches (``consume(500)``, librdkafka's
own producer batching; one ``poll(0)`` per batch, never a flush per record).
A bounded source stops at the end offsets the JobMaster read when the job
started; when every input is exhausted the task flushes, writes an
end-of-input marker into every partition of each output edge and finishes.
A downstream task is exhausted when each of its input partitions carried
one marker per upstream subtask.
"""

from __future__ import annotations

import json
import pickle
import threading
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from strom.graph.execution_graph import CANCELED, FAILED, FINISHED, RUNNING
from strom.graph.job_graph import JobVertex
from strom.graph.stream_graph import SINK
from strom.runtime.operators import Broadcast, EdgeWriter, KafkaSinkWriter, Output, chain_operator, produce


@dataclass
class TaskDeploymentDescriptor:
    """Everything a TaskManager needs to run one subtask, besides the job artifact.

    ``source_partitions``: ``[topic, partition, start_offset, end_offset | None]``
    (``None`` = unbounded). ``input_partitions``: ``[topic, partition,
    upstream_parallelism]``. ``outputs``: one ``{"topic", "partitioner",
    "partitions"}`` per output JobEdge, in the vertex's order.
    """

    job_id: str
    vertex_id: str
    subtask_index: int
    parallelism: int
    attempt: int
    dead_letter_topic: str
    source_partitions: list[list] = field(default_factory=list)
    input_partitions: list[list] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)

    @property
    def execution_id(self) -> str:
        return f"{self.vertex_id}[{self.subtask_index}]#{self.attempt}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "TaskDeploymentDescriptor":
        return cls(**json.loads(text))


class TaskFailure(RuntimeError):
    """A user function raised; the message names the operator chain and the record position."""


ReportFn = Callable[[str, str | None], None]  # (execution state, error text)


class Task(threading.Thread):
    """One subtask in a thread of a TaskManager. ``report(state, error)`` is called on changes."""

    def __init__(self, descriptor: TaskDeploymentDescriptor, vertex: JobVertex, bootstrap: str,
                 report: ReportFn) -> None:
        super().__init__(name=f"task-{descriptor.execution_id}", daemon=True)
        self.descriptor, self.vertex, self.bootstrap, self.report = descriptor, vertex, bootstrap, report
        self._canceled = threading.Event()
        self._producers: list[Producer] = []
        self.records_in = 0

    def cancel(self) -> None:
        self._canceled.set()

    # -- setup ----------------------------------------------------------------------------
    def _producer(self, bootstrap: str | None = None) -> Producer:
        producer = Producer({
            "bootstrap.servers": bootstrap or self.bootstrap,
            "partitioner": "murmur2_random",  # Java-compatible: partition = key group
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 500000,
            "enable.idempotence": True,
            "client.id": f"strom-{self.descriptor.execution_id}",
        })
        self._producers.append(producer)
        return producer

    def _consumer(self) -> Consumer:
        source = self.vertex.operators[0].connector if self.vertex.is_source else None
        return Consumer({
            "bootstrap.servers": (source and source.bootstrap_servers) or self.bootstrap,
            "group.id": f"strom-{self.descriptor.job_id}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": self.vertex.is_source,
            "fetch.wait.max.ms": 50,
            # librdkafka's 1 MiB default makes reading small records ~10x slower (bench/wordcount.py).
            "max.partition.fetch.bytes": 10 * 1024 * 1024,
            "client.id": f"strom-{self.descriptor.execution_id}",
            **(source.properties if source else {}),
        })

    def _build_chain(self, producer: Producer) -> tuple[Output, list[EdgeWriter]]:
        d = self.descriptor
        operators = self.vertex.operators[1:] if self.vertex.is_source else self.vertex.operators
        tail = operators[-1]
        edge_writers = [EdgeWriter(producer, out["topic"], out["partitioner"], out["partitions"],
                                   d.subtask_index, edge.key_selector)
                        for out, edge in zip(d.outputs, self.vertex.outputs)]
        if tail.kind == SINK:
            sink_bootstrap = tail.connector.bootstrap_servers
            out: Output = KafkaSinkWriter(self._producer(sink_bootstrap) if sink_bootstrap else producer,
                                          tail.connector)
            operators = operators[:-1]
        else:
            out = edge_writers[0] if len(edge_writers) == 1 else Broadcast(edge_writers)
        for node in reversed(operators):
            out = chain_operator(node, out)
        return out, edge_writers

    # -- run ------------------------------------------------------------------------------
    def run(self) -> None:
        producer = consumer = None
        try:
            producer, consumer = self._producer(), self._consumer()
            chain, edge_writers = self._build_chain(producer)
            self.report(RUNNING, None)
            finished = self._process(consumer, producer, chain)
            if finished:
                for writer in edge_writers:
                    writer.end_of_input()
            for each in self._producers:
                remaining = each.flush(30)
                if remaining:
                    raise RuntimeError(f"{remaining} records not delivered to Kafka within 30 s")
            self.report(FINISHED if finished else CANCELED, None)
        except TaskFailure as exc:
            self.report(FAILED, str(exc))
        except Exception as exc:
            self.report(FAILED, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
        finally:
            if consumer is not None:
                consumer.close()

    def _process(self, consumer: Consumer, producer: Producer, chain: Output) -> bool:
        """Run until inputs are exhausted (True) or the task is canceled (False)."""
        d = self.descriptor
        is_source = self.vertex.is_source
        if is_source:
            deserialize = self.vertex.operators[0].connector.value_deserializer.deserialize
            ends = {(t, p): end for t, p, _start, end in d.source_partitions}
            pending = {(t, p) for t, p, start, end in d.source_partitions if end is None or start < end}
            consumer.assign([TopicPartition(t, p, start) for t, p, start, end in d.source_partitions
                             if (t, p) in pending])
        else:
            markers_needed = {(t, p): upstream for t, p, upstream in d.input_partitions}
            pending = set(markers_needed)
            consumer.assign([TopicPartition(t, p, 0) for t, p, _u in d.input_partitions])
        while pending:
            if self._canceled.is_set():
                return False
            records = consumer.consume(500, timeout=0.1)
            for record in records:
                if record.error():
                    if record.error().code() == KafkaError._PARTITION_EOF:
                        # The last offsets may be transaction markers, never delivered as records.
                        tp = (record.topic(), record.partition())
                        if is_source and ends[tp] is not None and record.offset() >= ends[tp]:
                            pending.discard(tp)
                        continue
                    raise RuntimeError(f"Kafka error on {record.topic()}/{record.partition()}: "
                                       f"{record.error()}")
                tp = (record.topic(), record.partition())
                if is_source:
                    end = ends[tp]
                    if end is not None and record.offset() >= end:
                        continue  # past the end of a bounded source: not ours
                    try:
                        element = deserialize(record.value())
                    except Exception as exc:
                        self._dead_letter(producer, record, f"{type(exc).__name__}: {exc}")
                    else:
                        self._apply(chain, element, record)
                    if end is not None and record.offset() + 1 >= end:
                        pending.discard(tp)
                        consumer.pause([TopicPartition(*tp)])
                elif record.headers():
                    markers_needed[tp] -= 1
                    if markers_needed[tp] == 0:
                        pending.discard(tp)
                else:
                    self._apply(chain, pickle.loads(record.value()), record)
            self.records_in += len(records)
            producer.poll(0)
        return True

    def _apply(self, chain: Output, element: Any, record: Any) -> None:
        try:
            chain.collect(element)
        except Exception as exc:
            raise TaskFailure(
                f"{type(exc).__name__}: {exc} in '{self.vertex.name}' "
                f"({self.descriptor.execution_id}) on the record at {record.topic()}/"
                f"{record.partition()}/{record.offset()}\n{traceback.format_exc(limit=6)}") from exc

    def _dead_letter(self, producer: Producer, record: Any, reason: str) -> None:
        position = f"{record.topic()}/{record.partition()}/{record.offset()}"
        produce(producer, self.descriptor.dead_letter_topic, record.value(), key=record.key(),
                headers=[("strom.error", reason.encode()), ("strom.source", position.encode()),
                         ("strom.job", self.descriptor.job_id.encode()),
                         ("strom.operator", self.vertex.operators[0].name.encode())])
