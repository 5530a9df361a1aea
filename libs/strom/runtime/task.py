"""A running subtask: consume its inputs, run its operator chain, produce its outputs, checkpoint.

Records are consumed and produced in batches (``consume(500)``, librdkafka's
own producer batching; one ``poll(0)`` per batch, never a flush per record).

Checkpoints (barriers in-band, DESIGN.md): a source subtask starting
checkpoint n (on its own schedule, strom.checkpoint.scheduler, or told by the
JobManager for a savepoint or the final checkpoint) records its next offsets,
writes barrier n into every partition of its output edges, stores its
snapshot in Redis and acks, in Redis (the last ack completes the checkpoint)
and to the JobManager. A
downstream subtask reads channels = (input partition, upstream subtask);
after barrier n arrives on a channel, later records of that channel are held
back (alignment) until every channel delivered barrier n or ended; then it
snapshots keyed state (timers included) + input offsets just past the
barriers + its watermark, forwards the barrier, acks and replays what it
held back. An exactly-once sink commits an epoch once Redis shows its
checkpoint completed, whether or not a JobManager said so.

Generation fencing: every record carries the producing attempt's
generation; after a restore at generation g, records of generations < g are
dropped (un-checkpointed output of the failed run, or of a zombie).

A bounded source stops at the end offsets the JobMaster read when the job
started; a task whose inputs all ended writes end-of-input into every output
partition. Without checkpointing it then reports FINISHED. With
checkpointing it reports END_OF_DATA and stays, taking part in checkpoints,
until the JobMaster's final checkpoint (taken once every subtask reached the
end of its data, as Flink's FLIP-147) completes; exactly-once sinks commit
their last epoch then, and the task reports FINISHED.
"""

from __future__ import annotations

import json
import pickle
import queue
import threading
import time
import traceback
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import redis
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from strom.checkpoint.scheduler import START, CheckpointScheduler
from strom.checkpoint.store import CheckpointStore
from strom.errors import CheckpointCorruptedError, StaleAttemptError, TaskFailureCause
from strom.fault_points import inject
from strom.graph.execution_graph import CANCELED, END_OF_DATA, FAILED, FINISHED, RUNNING
from strom.graph.job_graph import JobVertex
from strom.graph.stream_graph import CO_PROCESS, PROCESS, SINK, WINDOW
from strom.io.kafka import log_kafka_errors
from strom.logs import get_logger
from strom.runtime.operators import (
    END_OF_INPUT,
    GENERATION,
    IDLE,
    MARKER,
    SUBTASK,
    Broadcast,
    EdgeWriter,
    Output,
    chain_operator,
    produce,
)
from strom.runtime.sinks import ExactlyOnceSinkWriter, KafkaSinkWriter
from strom.runtime.timers import (
    PROCESSING_TIME,
    InternalTimerService,
    processing_time_ms,
)
from strom.runtime.watermarks import SourceWatermarks
from strom.runtime.windows import MAX_WATERMARK, MIN_WATERMARK, RecordClock
from strom.state.api import RuntimeContext
from strom.state.backend import HeapKeyedStateBackend

log = get_logger(__name__)

POLL_CHECKPOINTS_S = 0.05  # how often a source or an exactly-once sink reads checkpoint progress


@dataclass
class TaskDeploymentDescriptor:
    """Everything a TaskManager needs to run one subtask, besides the job artifact.

    ``source_partitions``: ``[topic, partition, start_offset, end_offset | None]``.
    ``input_partitions``: ``[topic, partition, upstream_parallelism]``.
    ``outputs``: one ``{"topic", "partitioner", "partitions"}`` per output JobEdge.
    ``restore``: ``{"job_id", "checkpoint_id", "vertex_id", "parallelism"}`` to
    restore from, or None. ``sink``: ``{"guarantee", "transactional_id",
    "marker_topic", "marker_group"}`` when the chain ends in a KafkaSink.
    ``checkpoint_*_ms``: the job's CheckpointConfig, for sources that trigger
    checkpoints; ``job_tasks``: subtasks in the job, the acks that complete one.
    ``skip_before``: input offsets below which every record is an older attempt's
    (read by the JobManager before deploying this attempt): start there.
    """

    job_id: str
    cluster_id: str
    vertex_id: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    attempt: int
    generation: int
    dead_letter_topic: str
    source_partitions: list[list] = field(default_factory=list)
    input_partitions: list[list] = field(default_factory=list)
    outputs: list[dict] = field(default_factory=list)
    key_groups: list[int] | None = None  # [start, stop) of a keyed head operator
    aligned: bool = True
    checkpointing: bool = False
    restore: dict[str, Any] | None = None
    sink: dict[str, str] | None = None
    checkpoint_interval_ms: int = 0
    checkpoint_min_pause_ms: int = 0
    checkpoint_timeout_ms: int = 60_000
    job_tasks: int = 1
    skip_before: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> offset

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


class ReplacedAttemptError(RuntimeError):
    """The job runs a newer attempt than this task's: the task stops without touching anything.
    Reported as FAILED: the JobManager ignores it for an old attempt and restarts the job if it
    is the current one (Redis lost the generation it wrote)."""


@dataclass
class TaskCallbacks:
    """How a task talks back to its TaskManager (which sends control messages)."""

    report: Callable[[str, str | None, TaskFailureCause | None], None]  # (execution state, error, its cause)
    acknowledge: Callable[[int, int, bool], None]        # (checkpoint id, state size bytes, completed it)
    decline: Callable[[int, str], None]                  # (checkpoint id, reason)


def _marker(headers: list[tuple[str, bytes]]) -> tuple[bytes, int, int]:
    values = dict(headers)
    return values[MARKER], int(values[SUBTASK]), int(values[GENERATION])


class Task(threading.Thread):
    """One subtask in a thread of a TaskManager."""

    def __init__(self, descriptor: TaskDeploymentDescriptor, vertex: JobVertex, bootstrap: str,
                 redis_client: redis.Redis, callbacks: TaskCallbacks) -> None:
        super().__init__(name=f"task-{descriptor.execution_id}", daemon=True)
        self.d, self.vertex, self.bootstrap, self.cb = descriptor, vertex, bootstrap, callbacks
        self.store = CheckpointStore(redis_client, descriptor.cluster_id, descriptor.job_id)
        self.redis = redis_client
        self.state = "DEPLOYING"  # last state reported
        self.end_of_data = False
        self._canceled = threading.Event()
        self._events: queue.SimpleQueue[tuple[str, int, bool]] = queue.SimpleQueue()
        self._producers: list[Producer] = []
        self.records_in = 0
        self.backend = HeapKeyedStateBackend() if descriptor.key_groups is not None else None
        self.sink_writer: KafkaSinkWriter | ExactlyOnceSinkWriter | None = None
        self.edge_writers: list[EdgeWriter] = []
        self.clock = RecordClock()
        self.watermark = MIN_WATERMARK
        self.idle = False  # told downstream that all its inputs are idle
        self.timers = InternalTimerService(self.backend) if self.backend is not None else None
        self.timed_operator: Any = None  # the keyed head operator with timers (window, process)
        d = descriptor
        self.scheduler = (CheckpointScheduler(d.checkpoint_interval_ms, d.checkpoint_min_pause_ms,
                                              d.checkpoint_timeout_ms)
                          if vertex.is_source and d.checkpointing else None)
        self._next_poll = 0.0

    def report(self, state: str, error: str | None, cause: TaskFailureCause | None = None) -> None:
        if state == END_OF_DATA:
            self.end_of_data = True
        else:
            self.state = state
        self.cb.report(state, error, cause)

    # -- control, from the TaskManager's thread ---------------------------------------
    def cancel(self) -> None:
        self._canceled.set()

    def trigger_checkpoint(self, checkpoint_id: int) -> None:
        self._events.put(("trigger", checkpoint_id, False))

    def notify_checkpoint_complete(self, checkpoint_id: int, final: bool) -> None:
        """``final``: the job's last checkpoint; the task finishes after handling it."""
        self._events.put(("complete", checkpoint_id, final))

    # -- setup ----------------------------------------------------------------------------
    def _producer(self, bootstrap: str | None = None) -> Producer:
        producer = Producer({
            "bootstrap.servers": bootstrap or self.bootstrap,
            "partitioner": "murmur2_random",  # Java-compatible: partition = key group
            "linger.ms": 20,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 500000,
            "enable.idempotence": True,
            "client.id": f"strom-{self.d.execution_id}",
            "error_cb": log_kafka_errors(f"task {self.d.execution_id} producer"),
        })
        self._producers.append(producer)
        return producer

    def _consumer(self) -> Consumer:
        source = self.vertex.operators[0].connector if self.vertex.is_source else None
        return Consumer({
            "bootstrap.servers": (source and source.bootstrap_servers) or self.bootstrap,
            "group.id": f"strom-{self.d.job_id}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": self.vertex.is_source,
            "fetch.wait.max.ms": 50,
            # librdkafka's 1 MiB default makes reading small records ~10x slower (bench/wordcount.py).
            "max.partition.fetch.bytes": 10 * 1024 * 1024,
            "client.id": f"strom-{self.d.execution_id}",
            "error_cb": log_kafka_errors(f"task {self.d.execution_id} consumer"),
            **(source.properties if source else {}),
        })

    def _build_chain(self, producer: Producer) -> Output:
        d = self.d
        ctx = RuntimeContext(self.backend, self.vertex.name, d.subtask_index, d.parallelism,
                             d.max_parallelism, d.attempt)
        operators = self.vertex.operators[1:] if self.vertex.is_source else self.vertex.operators
        self.edge_writers = [EdgeWriter(producer, out["topic"], out["partitioner"], out["partitions"],
                                        d.subtask_index, d.generation, edge.key_selector, self.clock)
                             for out, edge in zip(d.outputs, self.vertex.outputs)]
        main_writers = [w for w, e in zip(self.edge_writers, self.vertex.outputs) if e.side_output is None]
        # Per operator and tag: a side output may be read by several edges, and another operator
        # of the chain may use the same tag name for output nobody reads (Flink drops that).
        side_writers: dict[int, dict[str, list[EdgeWriter]]] = {}
        for writer, edge in zip(self.edge_writers, self.vertex.outputs):
            if edge.side_output is not None:
                side_writers.setdefault(edge.source_node, {}).setdefault(edge.side_output, []).append(writer)
        if operators and operators[-1].kind == SINK:
            sink = operators[-1].connector
            if d.sink["guarantee"] == "exactly-once":
                self.sink_writer = ExactlyOnceSinkWriter(self.bootstrap, sink, d.sink["transactional_id"],
                                                         d.sink["marker_topic"], d.sink["marker_group"],
                                                         self.clock)
            else:
                target = self._producer(sink.bootstrap_servers) if sink.bootstrap_servers else producer
                self.sink_writer = KafkaSinkWriter(target, sink, d.sink["guarantee"] == "at-least-once",
                                                   self.clock)
            out: Output = self.sink_writer
            operators = operators[:-1]
        else:
            out = main_writers[0] if len(main_writers) == 1 else Broadcast(main_writers)
        for node in reversed(operators):
            sides = {tag: writers[0] if len(writers) == 1 else Broadcast(writers)
                     for tag, writers in side_writers.get(node.id, {}).items()}
            out = chain_operator(node, out, self.backend, self.timers, ctx, self.clock, sides)
            if node.kind in (WINDOW, PROCESS, CO_PROCESS) and node.key_selector is not None:
                self.timed_operator = out
        return out

    def advance_watermark(self, watermark: int) -> None:
        """The task's event time moved to ``watermark``: fire timers, then tell downstream.

        An idle task becomes active again: it re-announces its watermark even if unchanged.
        """
        if watermark <= self.watermark and not self.idle:
            return
        self.idle = False
        if watermark > self.watermark:
            self.watermark = watermark
            if self.timed_operator is not None:
                self.timed_operator.on_watermark(watermark)
        for writer in self.edge_writers:
            writer.watermark(self.watermark)

    def mark_idle(self) -> None:
        """Every input of this task is idle: downstream leaves its channels out of their watermark."""
        if not self.idle:
            self.idle = True
            for writer in self.edge_writers:
                writer.idle()

    def _restore(self) -> dict[tuple[str, int], int]:
        """Load state from the restore checkpoint; returns restored input offsets per partition."""
        r = self.d.restore
        if r is None:
            return {}
        store = CheckpointStore(self.redis, self.d.cluster_id, r["job_id"])
        snapshots = store.read_vertex(r["checkpoint_id"], r["vertex_id"], r["parallelism"])
        try:
            offsets: dict[tuple[str, int], int] = {}
            for snapshot in snapshots:
                for name, offset in json.loads(snapshot.get(b"offsets", b"{}")).items():
                    topic, _, partition = name.rpartition(":")
                    offsets[(topic, int(partition))] = offset
            # The event time the checkpoint was taken at: replayed elements are judged late or not
            # against it, as they were before the failure (the lowest one if subtasks are merged).
            self.watermark = min(int(s.get(b"watermark", MIN_WATERMARK)) for s in snapshots)
            if self.timers is not None:
                self.timers.watermark = self.watermark
            if self.backend is not None:
                start, stop = self.d.key_groups
                self.backend.restore((int(k[3:]), v) for s in snapshots for k, v in
                                     ((key.decode(), value) for key, value in s.items())
                                     if k.startswith("kg:") and start <= int(k[3:]) < stop)
        except Exception as exc:
            raise CheckpointCorruptedError(
                f"checkpoint {r['checkpoint_id']}: state of task {r['vertex_id']} does not load: "
                f"{type(exc).__name__}: {exc}") from exc
        if self.sink_writer is not None:
            i = self.d.subtask_index
            own = snapshots[i] if i < len(snapshots) else {}
            if isinstance(self.sink_writer, ExactlyOnceSinkWriter):
                origin = f"strom-{r['job_id']}-{r['vertex_id']}-{i}" if r["job_id"] != self.d.job_id else None
                self.sink_writer.restore(own.get(b"sink"), origin)
        return offsets

    # -- run ------------------------------------------------------------------------------
    def run(self) -> None:
        consumer = None
        try:
            started = time.monotonic()
            if self.d.checkpointing and self.store.progress()[2] != self.d.generation:
                # Deployed, then replaced before it ran (a restart during its setup): an
                # exactly-once sink of this attempt would fence the new attempt's transactions.
                raise ReplacedAttemptError(f"attempt {self.d.generation} of the job was replaced before "
                                           f"{self.d.execution_id} started")
            producer, consumer = self._producer(), self._consumer()
            chain = self._build_chain(producer)
            restored = self._restore()
            if self.timers is not None:
                self.timers.restore()
            self.report(RUNNING, None)
            if self.scheduler is not None:
                self.scheduler.start_ms = time.monotonic() * 1000
            skipped = 0  # records of older attempts this task will not read (skip_before)
            for name, floor in self.d.skip_before.items():
                topic, _, partition = name.rpartition(":")
                skipped += max(0, floor - restored.get((topic, int(partition)), 0))
            log.info("task running", execution_id=self.d.execution_id, job_id=self.d.job_id,
                     restored_checkpoint=(self.d.restore or {}).get("checkpoint_id"),
                     setup_ms=round((time.monotonic() - started) * 1000),
                     skipped_older_attempts_records=skipped)
            if self.vertex.is_source:
                source = SourceReader(self, consumer, producer, chain, restored)
                finished = source.run()
                linger = source.linger
            else:
                gate = InputGate(self, consumer, producer, chain, restored)
                finished = gate.run()
                linger = gate.linger
            if finished:
                # End of input: every event-time timer fires, and (as batch would) every processing-time one.
                self.advance_watermark(MAX_WATERMARK)
                self.advance_processing_time(MAX_WATERMARK)
                for writer in self.edge_writers:
                    writer.end_of_input()
                self._flush()
                if self.d.checkpointing:
                    self.report(END_OF_DATA, None)
                    finished = linger()
            self._flush()
            self.report(FINISHED if finished else CANCELED, None)
        except (TaskFailure, ReplacedAttemptError) as exc:
            self.report(FAILED, str(exc), TaskFailureCause.of(exc))
        except Exception as exc:
            self.report(FAILED, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}",
                        TaskFailureCause.of(exc))
        finally:
            if consumer is not None:
                consumer.close()
            if isinstance(self.sink_writer, ExactlyOnceSinkWriter):
                self.sink_writer.close()

    def _flush(self) -> None:
        for each in self._producers:
            remaining = each.flush(30)
            if remaining:
                raise RuntimeError(f"{remaining} records not delivered to Kafka within 30 s")

    def handle_events(self, snapshot_offsets: Callable[[], dict[str, int]] | None,
                      wait_s: float = 0.0) -> bool:
        """Run queued trigger/complete events (sources pass how to read their offsets).

        Waits up to ``wait_s`` for the first one. Returns True once the final
        checkpoint's completion was handled.
        """
        while True:
            try:
                kind, checkpoint_id, final = (self._events.get(timeout=wait_s) if wait_s
                                              else self._events.get_nowait())
            except queue.Empty:
                return False
            wait_s = 0.0
            if kind == "trigger" and snapshot_offsets is not None:
                if self.scheduler is None or checkpoint_id > self.scheduler.last_id:
                    self._start_checkpoint(checkpoint_id, snapshot_offsets)
            elif kind == "complete":
                if self.sink_writer is not None:
                    self.sink_writer.notify_complete(checkpoint_id)
                if final:
                    return True

    def poll_checkpoints(self, snapshot_offsets: Callable[[], dict[str, int]] | None) -> None:
        """Every POLL_CHECKPOINTS_S: read the job's checkpoint progress from Redis; an exactly-once
        sink commits the epochs of completed checkpoints (during a JobManager failover nobody
        else tells it), a source (``snapshot_offsets`` given) starts or joins the next checkpoint
        when its CheckpointScheduler says so."""
        sink = self.sink_writer if isinstance(self.sink_writer, ExactlyOnceSinkWriter) else None
        if sink is not None and not sink.pending:
            sink = None
        if (sink is None and (self.scheduler is None or snapshot_offsets is None)
                or time.monotonic() < self._next_poll):
            return
        self._next_poll = time.monotonic() + POLL_CHECKPOINTS_S
        started, completed, generation = self.store.progress()
        if generation != self.d.generation:
            # The JobManager restarted the job without us (a zombie after a pause or a partition):
            # stop before committing or checkpointing anything for an attempt that is over.
            raise ReplacedAttemptError(f"the job runs attempt {generation}; {self.d.execution_id} of "
                                       f"attempt {self.d.generation} stops")
        if sink is not None and completed >= min(sink.pending):
            sink.notify_complete(completed)
        due = (self.scheduler.due(time.monotonic() * 1000, started, completed, self.records_in > 0)
               if self.scheduler is not None and snapshot_offsets is not None else None)
        if due is None:
            return
        try:
            checkpoint_id = self.store.claim(self.d.generation, self.scheduler.last_id, int(time.time() * 1000),
                                             self.d.checkpoint_timeout_ms, start=due == START)
        except StaleAttemptError as exc:  # replaced between reading progress and claiming
            raise ReplacedAttemptError(str(exc)) from exc
        if checkpoint_id is None:
            self.scheduler.cannot_join(started)
        else:
            self._start_checkpoint(checkpoint_id, snapshot_offsets)

    def _start_checkpoint(self, checkpoint_id: int, snapshot_offsets: Callable[[], dict[str, int]]) -> None:
        if self.scheduler is not None:
            self.scheduler.started(checkpoint_id, time.monotonic() * 1000)
        self.checkpoint(checkpoint_id, snapshot_offsets())

    def checkpoint(self, checkpoint_id: int, offsets: dict[str, int]) -> None:
        """Forward barrier n, store this subtask's snapshot, ack in Redis (the last ack completes
        the checkpoint) and to the JobManager; a decline on error."""
        try:
            for writer in self.edge_writers:
                writer.barrier(checkpoint_id)
            inject("after-barrier")
            fields: dict[str, bytes] = {"offsets": json.dumps(offsets).encode(),
                                        "watermark": b"%d" % self.watermark}
            if self.backend is not None:
                fields.update({f"kg:{kg}": data for kg, data in self.backend.snapshot().items()})
            if self.sink_writer is not None:
                sink_state = self.sink_writer.snapshot(checkpoint_id)
                if sink_state is not None:
                    fields["sink"] = sink_state
            size = self.store.write_snapshot(checkpoint_id, self.d.vertex_id, self.d.subtask_index, fields)
            inject("after-snapshot")
            completed = self.store.acknowledge(self.d.generation, checkpoint_id, self.d.execution_id, size,
                                               self.d.job_tasks, int(time.time() * 1000))
        except Exception as exc:
            self.cb.decline(checkpoint_id, f"{type(exc).__name__}: {exc}")
            return
        self.cb.acknowledge(checkpoint_id, size, completed)
        inject("after-ack")

    def advance_processing_time(self, now: int) -> None:
        """Fire processing-time timers due at ``now`` (ms since the epoch)."""
        if self.timed_operator is not None and self.timers.has_timers(PROCESSING_TIME):
            self.timed_operator.on_processing_time(now)

    def apply(self, collect: Callable[[Any], None], element: Any, record: Any) -> None:
        try:
            collect(element)
        except Exception as exc:
            raise TaskFailure(
                f"{type(exc).__name__}: {exc} in '{self.vertex.name}' "
                f"({self.d.execution_id}) on the record at {record.topic()}/"
                f"{record.partition()}/{record.offset()}\n{traceback.format_exc(limit=6)}") from exc

    def dead_letter(self, producer: Producer, record: Any, reason: str) -> None:
        where = f"{record.topic()}/{record.partition()}/{record.offset()}"
        produce(producer, self.d.dead_letter_topic, record.value(), key=record.key(),
                headers=[("strom.error", reason.encode()), ("strom.source", where.encode()),
                         ("strom.job", self.d.job_id.encode()),
                         ("strom.operator", self.vertex.operators[0].name.encode())])


class SourceReader:
    """Input of a source subtask: its Kafka partitions, bounded by the job-start end offsets."""

    def __init__(self, task: Task, consumer: Consumer, producer: Producer, chain: Output,
                 restored: dict[tuple[str, int], int]) -> None:
        self.task, self.consumer, self.producer, self.chain = task, consumer, producer, chain
        d = task.d
        self.deserialize = task.vertex.operators[0].connector.value_deserializer.deserialize
        strategy = task.vertex.operators[0].watermark_strategy
        self.assign_timestamp = strategy.timestamp_assigner if strategy else None
        self.next_watermark_at = 0.0
        self.ends = {(t, p): end for t, p, _start, end in d.source_partitions}
        self.position = {(t, p): restored.get((t, p), start) for t, p, start, _end in d.source_partitions}
        self.pending = {tp for tp, start in self.position.items()
                        if self.ends[tp] is None or start < 0 or start < self.ends[tp]}
        self.watermarks = (SourceWatermarks(self.pending, strategy.max_out_of_orderness_ms,
                                            strategy.idle_timeout_ms, time.monotonic() * 1000)
                           if strategy and strategy.max_out_of_orderness_ms is not None else None)
        consumer.assign([TopicPartition(t, p, self.position[(t, p)]) for t, p in self.pending])

    def offsets(self) -> dict[str, int]:
        return {f"{t}:{p}": offset for (t, p), offset in self.position.items()}

    def run(self) -> bool:
        """Read until every partition reached its end (True) or the task is canceled (False)."""
        task, ends, position, pending = self.task, self.ends, self.position, self.pending
        while pending:
            task.handle_events(self.offsets)
            task.poll_checkpoints(self.offsets)
            if task._canceled.is_set():
                return False
            records = self.consumer.consume(500, timeout=0.1)
            watermarks, now_ms = self.watermarks, time.monotonic() * 1000
            for record in records:
                tp = (record.topic(), record.partition())
                if record.error():
                    # The last offsets may be transaction markers, never delivered as records.
                    if (record.error().code() == KafkaError._PARTITION_EOF and ends[tp] is not None
                            and record.offset() >= ends[tp]):
                        position[tp] = max(position[tp], ends[tp])
                        self._end(tp)
                    elif record.error().code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"Kafka error on {tp[0]}/{tp[1]}: {record.error()}")
                    continue
                end = ends[tp]
                if end is not None and record.offset() >= end:
                    self._end(tp)
                    continue  # past the end of a bounded source: not ours
                try:
                    element = self.deserialize(record.value())
                    kafka_ts = record.timestamp()[1]
                    timestamp = (self.assign_timestamp(element, kafka_ts) if self.assign_timestamp
                                 else kafka_ts if kafka_ts >= 0 else None)
                except Exception as exc:
                    task.dead_letter(self.producer, record, f"{type(exc).__name__}: {exc}")
                else:
                    task.clock.timestamp = timestamp
                    if watermarks is not None:
                        watermarks.on_record(tp, timestamp, now_ms)
                    task.apply(self.chain.collect, element, record)
                position[tp] = record.offset() + 1
                if end is not None and position[tp] >= end:
                    self._end(tp)
                    self.consumer.pause([TopicPartition(*tp)])
            task.records_in += len(records)
            self._emit_watermark()
            self.producer.poll(0)
        return True

    def _end(self, tp: tuple[str, int]) -> None:
        self.pending.discard(tp)
        if self.watermarks is not None:
            self.watermarks.end(tp)

    def _emit_watermark(self) -> None:
        """Periodic watermark (every 200 ms, Flink's auto-watermark interval), or idleness."""
        if self.watermarks is None or time.monotonic() < self.next_watermark_at:
            return
        self.next_watermark_at = time.monotonic() + 0.2
        watermark = self.watermarks.current(time.monotonic() * 1000)
        if watermark is None:
            self.task.mark_idle()
        elif watermark > MIN_WATERMARK or self.task.idle:
            self.task.advance_watermark(watermark)

    def linger(self) -> bool:
        """After the end of data: answer checkpoint triggers until the final one completes."""
        while not self.task._canceled.is_set():
            if self.task.handle_events(self.offsets, wait_s=POLL_CHECKPOINTS_S):
                return True
            self.task.poll_checkpoints(self.offsets)
        return False


class InputGate:
    """Input of a non-source subtask: channels, barrier alignment, end of input, generations."""

    def __init__(self, task: Task, consumer: Consumer, producer: Producer, chain: Output,
                 restored: dict[tuple[str, int], int]) -> None:
        self.task, self.consumer, self.producer = task, consumer, producer
        d = task.d
        # Topic -> the head operator's entry for that input (collect2: input 2 of a two-input operator).
        self.inputs = {edge.topic(d.cluster_id, d.job_id): chain.collect2 if edge.type_number == 2 else chain.collect
                       for edge in task.vertex.inputs}
        self.generation = d.generation
        self.channels = {((t, p), u) for t, p, upstream in d.input_partitions for u in range(upstream)}
        self.ended: set = set()
        self.aligning: int | None = None
        self.last_checkpoint = -1
        self.blocked: set = set()
        self.held: deque = deque()
        self.channel_watermarks: dict = {}
        self.idle_channels: set = set()
        self.position = {(t, p): max(restored.get((t, p), 0), d.skip_before.get(f"{t}:{p}", 0))
                         for t, p, _u in d.input_partitions}
        consumer.assign([TopicPartition(t, p, self.position[(t, p)]) for t, p, _u in d.input_partitions])

    def offsets(self) -> dict[str, int]:
        return {f"{t}:{p}": offset for (t, p), offset in self.position.items()}

    def run(self, linger: bool = False) -> bool:
        """Process input until every channel ended (True) or the task is canceled (False).

        ``linger``: after the end, keep reading barriers and handling checkpoint
        events until the final checkpoint completed.
        """
        task = self.task
        while linger or self.ended != self.channels:
            if task.handle_events(None) and linger:
                return True
            task.poll_checkpoints(None)
            if task._canceled.is_set():
                return False
            records = self.consumer.consume(500, timeout=0.1)
            for record in records:
                if record.error():
                    if record.error().code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"Kafka error on {record.topic()}/{record.partition()}: "
                                           f"{record.error()}")
                    continue
                self.handle(record)
            task.records_in += len(records)
            if not linger:  # after the end of input every timer fired; nothing may follow end-of-input
                task.advance_processing_time(processing_time_ms())
            self.producer.poll(0)
        return True

    def linger(self) -> bool:
        return self.run(linger=True)

    def handle(self, record: Any) -> None:
        tp = (record.topic(), record.partition())
        headers = record.headers()
        if headers:
            kind, upstream, generation = _marker(headers)
            if generation != self.generation:
                self._other_attempt(generation)
                return
            channel = (tp, upstream)
            if self.aligning is not None and channel in self.blocked and self.task.d.aligned:
                # Past this channel's barrier: a watermark or end of input must not overtake
                # the records held back with it (they would fire windows without those records).
                self.held.append(record)
                return
            if kind.startswith(b"wm:"):
                self.channel_watermarks[channel] = int(kind[3:])
                self.idle_channels.discard(channel)
                self._advance_watermark()
                return
            if kind == IDLE:
                self.idle_channels.add(channel)
                self._advance_watermark()
                return
            if kind == END_OF_INPUT:
                self.ended.add(channel)
                self._advance_watermark()
            else:
                checkpoint_id = int(kind.split(b":")[1])
                if checkpoint_id <= self.last_checkpoint or (
                        self.aligning is not None and checkpoint_id < self.aligning):
                    return  # a checkpoint already taken (its other barriers), or superseded
                if self.aligning != checkpoint_id:
                    self._release()  # a newer checkpoint supersedes one never completed
                    self.aligning = checkpoint_id
                self.blocked.add(channel)
                self.position[tp] = record.offset() + 1
            self._maybe_checkpoint()
            return
        generation, upstream, timestamp, element = pickle.loads(record.value())
        if generation != self.generation:
            self._other_attempt(generation)
            return
        if self.aligning is not None and (tp, upstream) in self.blocked and self.task.d.aligned:
            self.held.append(record)
            return
        if self.task.backend is not None:
            self.task.backend.current_key_group = tp[1]
        self.task.clock.timestamp = timestamp
        self.task.apply(self.inputs[tp[0]], element, record)

    def _other_attempt(self, generation: int) -> None:
        """Records of an older attempt are dropped (generation fencing); one of a newer attempt
        means this task was replaced and must not snapshot or emit anything more."""
        if generation > self.generation:
            raise ReplacedAttemptError(f"{self.task.d.execution_id} read records of attempt {generation}")

    def _advance_watermark(self) -> None:
        """Task watermark = the minimum over channels that have not ended and are not idle.
        With every open channel idle the task is idle, after advancing to the maximum of their
        watermarks (Flink's StatusWatermarkValve: no active channel can hold it back)."""
        open_channels = self.channels - self.ended
        if not open_channels:
            return
        active = open_channels - self.idle_channels
        if not active:
            highest = max(self.channel_watermarks.get(c, MIN_WATERMARK) for c in open_channels)
            if highest > self.task.watermark:
                self.task.advance_watermark(highest)
            self.task.mark_idle()
        else:
            self.task.advance_watermark(min(self.channel_watermarks.get(c, MIN_WATERMARK) for c in active))

    def _maybe_checkpoint(self) -> None:
        if self.aligning is None or not (self.blocked | self.ended) >= self.channels:
            return
        checkpoint_id, self.aligning, self.blocked = self.aligning, None, set()
        self.last_checkpoint = checkpoint_id
        self.task.checkpoint(checkpoint_id, self.offsets())
        self._release()

    def _release(self) -> None:
        held, self.held = self.held, deque()
        self.aligning, self.blocked = None, set()
        for record in held:
            self.handle(record)
