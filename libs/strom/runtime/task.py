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

Attempt fencing: every record carries the producing attempt's number;
after a restore at attempt a, records of attempts < a are dropped
(un-checkpointed output of the failed run, or of a zombie).

A bounded source stops at the end offsets the JobMaster read when the job
started; a task whose inputs all ended writes end of partition into every output
partition (EndOfPartition). Without checkpointing it then reports FINISHED. With
checkpointing it reports END_OF_DATA and stays, taking part in checkpoints,
until the JobMaster's final checkpoint (taken once every subtask reached the
end of its data, as Flink's FLIP-147) completes; exactly-once sinks commit
their last epoch then, and the task reports FINISHED.

Where each part lives (Flink's names): the descriptor in
:mod:`strom.runtime.deployment`, the operator chain in :mod:`strom.runtime.chain`,
checkpoints of the subtask in :mod:`strom.runtime.checkpointing`, the consume
loops in :mod:`strom.runtime.io.source_reader` and
:mod:`strom.runtime.io.input_gate`; this module keeps the thread's life cycle.
"""

from __future__ import annotations

import functools
import threading
import time
import traceback
import uuid
from typing import Any

import redis
from confluent_kafka import Consumer, Producer

from strom.checkpoint.scheduler import CheckpointScheduler
from strom.checkpoint.store import RedisCheckpointStore
from strom.errors import DeliveryFailedError, EdgeRecordTooLargeError, SinkBufferFullError, TaskFailureCause
from strom.graph.execution_graph import CANCELED, END_OF_DATA, FAILED, FINISHED, RUNNING
from strom.graph.job_graph import JobVertex
from strom.graph.stream_graph import ErrorPolicy
from strom.io.kafka import DeliveryReports
from strom.logs import get_logger
from strom.metrics.task import TaskMetrics
from strom.naming import flow_control_group
from strom.runtime.chain import OperatorChain
from strom.runtime.checkpointing import CheckpointEvents, Offsets, SubtaskCheckpointCoordinator, TaskCallbacks
from strom.runtime.deployment import TaskDeploymentDescriptor
from strom.runtime.errors import ReplacedAttemptError, TaskFailure
from strom.runtime.io.flow_control import EdgeBacklog
from strom.runtime.io.input_gate import CheckpointedInputGate
from strom.runtime.io.source_reader import DeadLetterWriter, SourceReader
from strom.runtime.settings import TaskSettings
from strom.runtime.sinks import KafkaSinkWriter
from strom.runtime.timers import MIN_TIME
from strom.runtime.windows import RecordClock

log = get_logger(__name__)

DEAD_LETTER_LOG_EVERY = 1000  # records: the first dead-lettered record is logged, then every this many

class Task(threading.Thread):
    """One subtask in a thread of a TaskManager: set up, read its input to the end, finish.

    ``bootstrap``: the cluster's Kafka; ``settings``: the TaskManager's task tunables.
    Reports DEPLOYING -> RUNNING -> (END_OF_DATA) -> FINISHED | CANCELED | FAILED
    through ``callbacks.report``.
    """

    def __init__(self, descriptor: TaskDeploymentDescriptor, vertex: JobVertex, bootstrap: str,
                 redis_client: redis.Redis, callbacks: TaskCallbacks, settings: TaskSettings,
                 job_name: str = "") -> None:
        super().__init__(name=f"task-{descriptor.execution_id}", daemon=True)
        self.descriptor, self.vertex, self.bootstrap, self.callbacks = descriptor, vertex, bootstrap, callbacks
        self.settings = settings
        self.redis = redis_client
        self.store_of = functools.partial(RedisCheckpointStore, redis_client, descriptor.cluster_id,
                                          secret=settings.cluster_secret)  # job id -> that job's store
        self.store = self.store_of(descriptor.job_id)
        self.state = "DEPLOYING"  # last state reported
        self.end_of_data = False
        self.clock = RecordClock()
        self._canceled = threading.Event()
        self._events = CheckpointEvents()
        self._producers: list[Producer] = []
        self.deliveries = DeliveryReports()  # of every producer above
        self.dead_letters: DeadLetterWriter | None = None
        self._dead_letters_flushed = 0  # dead letters written when the producers were last flushed
        self._input: SourceReader | CheckpointedInputGate | None = None
        self.chain: OperatorChain | None = None
        self.backlog: EdgeBacklog | None = None  # flow control over the output edges
        self.job_name, self.metrics = job_name, TaskMetrics()

    @property
    def records_in(self) -> int:  # stream records read so far
        return self._input.records_in if self._input is not None else 0

    # -- metrics, read from the TaskManager's threads (plain numbers: no locks) ---------------
    @property
    def records_out(self) -> int:
        return self.chain.records_out() if self.chain is not None else 0

    @property
    def late_records_dropped(self) -> int:
        return self.chain.late_records_dropped() if self.chain is not None else 0

    @property
    def last_alignment_s(self) -> float:
        return self._input.barriers.last_alignment_s if isinstance(self._input, CheckpointedInputGate) else 0.0

    def sample_metrics(self) -> None:
        """About once a second: a sample of the counters for the rates (:class:`TaskMetrics`)."""
        self.metrics.sample(self.records_in, self.records_out, self._input.idle_s if self._input else 0.0,
                            (self.chain.back_pressured_s() if self.chain is not None else 0.0)
                            + (self.backlog.blocked_s if self.backlog is not None else 0.0))

    def watermarks(self) -> tuple[int | None, int | None]:
        """(input, output) watermark in ms; None where there is none yet (a source has no input one)."""
        output = self.chain.watermarks if self.chain is not None else None
        shown = [w if w != MIN_TIME else None for w in (output.input_watermark, output.watermark)] if output else []
        return (shown[0], shown[1]) if shown else (None, None)

    def source_positions(self) -> dict[tuple[str, int], int]:
        """A source subtask's next offset per partition (empty for other tasks)."""
        return dict(self._input.position) if isinstance(self._input, SourceReader) else {}

    def report(self, state: str, error: str | None, cause: TaskFailureCause | None = None) -> None:
        if state == END_OF_DATA:
            self.end_of_data = True
        else:
            self.state = state
        self.callbacks.report(state, error, cause)

    # -- control, from the TaskManager's thread ---------------------------------------
    def cancel(self) -> None:
        self._canceled.set()

    def trigger_checkpoint(self, checkpoint_id: int) -> None:
        self._events.trigger(checkpoint_id)

    def notify_checkpoint_complete(self, checkpoint_id: int, final: bool) -> None:
        """``final``: the job's last checkpoint; the task finishes after handling it."""
        self._events.notify_complete(checkpoint_id, final)

    # -- the task's thread ------------------------------------------------------------------
    def run(self) -> None:
        consumer, chain = None, None
        try:
            started = time.monotonic()
            self._check_current_attempt()
            producer, consumer = self._producer(), self._consumer()
            chain = self.chain = OperatorChain(self.vertex, self.descriptor, producer, self.bootstrap,
                                               self._producer, self.clock, self.settings)
            checkpoints = self._checkpoints(chain)
            restored = checkpoints.restore(self.store_of)
            if chain.timers is not None:
                chain.timers.restore()
            self.report(RUNNING, None)
            if checkpoints.scheduler is not None:
                checkpoints.scheduler.start_ms = time.monotonic() * 1000
            self._log_running(started, restored)
            finished = self._process_input(producer, consumer, chain, checkpoints, restored)
            self._flush()
            self.report(FINISHED if finished else CANCELED, None)
        except (TaskFailure, ReplacedAttemptError, DeliveryFailedError) as exc:
            self.report(FAILED, str(exc), TaskFailureCause.of(exc))
        except Exception as exc:
            self.report(FAILED, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}",
                        TaskFailureCause.of(exc))
        finally:
            if self.backlog is not None:
                self.backlog.close()
            if consumer is not None:
                consumer.close()
            if chain is not None:
                chain.close()

    def _check_current_attempt(self) -> None:
        """Deployed, then replaced before it ran (a restart during its setup): an exactly-once
        sink of this attempt would fence the new attempt's transactions."""
        descriptor = self.descriptor
        if descriptor.checkpoints.enabled and self.store.progress()[2] != descriptor.attempt:
            raise ReplacedAttemptError(f"attempt {descriptor.attempt} of the job was replaced before "
                                       f"{descriptor.execution_id} started")

    def _process_input(self, producer: Producer, consumer: Consumer, chain: OperatorChain,
                       checkpoints: SubtaskCheckpointCoordinator, restored: Offsets) -> bool:
        """Read the input to its end, then (with checkpointing) await the final checkpoint;
        False if canceled."""
        self.backlog = EdgeBacklog.of_outputs(self.bootstrap, self.descriptor.job_id, self.descriptor.outputs,
                                              self.settings.edge_max_backlog_buffers)
        if self.vertex.is_source:
            source = self._source_reader(producer, consumer, chain, checkpoints, restored)
            self._input = source
            finished = source.run()
            await_final_checkpoint = source.await_final_checkpoint
        else:
            gate = self._input_gate(producer, consumer, chain, checkpoints, restored)
            self._input = gate
            finished = gate.run()
            await_final_checkpoint = lambda: gate.run(await_final_checkpoint=True)
        if not finished:
            return False
        chain.end_input()
        self._flush()
        if not self.descriptor.checkpoints.enabled:
            return True
        self.report(END_OF_DATA, None)
        return await_final_checkpoint()

    # -- setup ----------------------------------------------------------------------------
    def _producer(self, bootstrap: str | None = None, overrides: dict[str, Any] | None = None) -> Producer:
        producer = Producer({**self.settings.producer_config(bootstrap or self.bootstrap, self.descriptor.execution_id,
                                                             self.deliveries, self.descriptor.buffer_timeout_ms),
                             "statistics.interval.ms": self.settings.kafka_statistics_interval_ms,
                             "stats_cb": self.metrics.on_producer_statistics, **(overrides or {})})
        self._producers.append(producer)
        return producer

    def _consumer(self) -> Consumer:
        source = self.vertex.operators[0].connector if self.vertex.is_source else None
        # An intermediate reader's group is where flow control reads its positions (flow_control).
        group = (f"strom-{self.descriptor.job_id}-{uuid.uuid4().hex[:8]}" if source is not None
                 else flow_control_group(self.descriptor.job_id, self.descriptor.vertex_id))
        return Consumer({**self.settings.consumer_config(
            (source and source.bootstrap_servers) or self.bootstrap, group, self.descriptor.execution_id,
            self.vertex.is_source, source.properties if source else {}),
            "statistics.interval.ms": self.settings.kafka_statistics_interval_ms,
            "stats_cb": self.metrics.on_consumer_statistics})

    def _checkpoints(self, chain: OperatorChain) -> SubtaskCheckpointCoordinator:
        settings, descriptor = self.descriptor.checkpoints, self.descriptor
        scheduler = (CheckpointScheduler(settings.interval_ms, settings.min_pause_ms, settings.timeout_ms,
                                         self.settings.idle_first_checkpoint_ms,
                                         restarted=descriptor.attempt > 0 or descriptor.restore is not None)
                     if self.vertex.is_source and settings.enabled else None)
        return SubtaskCheckpointCoordinator(self.descriptor, self.store, chain, self._events, self.callbacks,
                                            scheduler, self.settings.checkpoint_poll_interval_ms,
                                            lambda: self.records_in > 0, self.deliveries,
                                            lambda: self._flush_before_ack(chain))

    def _source_reader(self, producer: Producer, consumer: Consumer, chain: OperatorChain,
                       checkpoints: SubtaskCheckpointCoordinator, restored: Offsets) -> SourceReader:
        d, source = self.descriptor, self.vertex.operators[0]
        return SourceReader(
            consumer, self._producers, source, chain.head.collect, d.source_splits, restored, checkpoints,
            chain.watermarks, self.clock, self._canceled, self._dead_letters(producer),
            self.settings.auto_watermark_interval_ms, self._on_error, self.backlog, chain.flusher, d.parallelism)

    def _input_gate(self, producer: Producer, consumer: Consumer, chain: OperatorChain,
                    checkpoints: SubtaskCheckpointCoordinator, restored: Offsets) -> CheckpointedInputGate:
        descriptor = self.descriptor
        self._dead_letters(producer)
        # Topic -> the head operator's entry for that input (collect2: input 2 of a two-input operator).
        inputs = {edge.topic(descriptor.cluster_id, descriptor.job_id):
                  chain.head.collect2 if edge.type_number == 2 else chain.head.collect  # type: ignore[attr-defined]
                  for edge in self.vertex.inputs}
        return CheckpointedInputGate(
            consumer, self._producers, descriptor.input_partitions, inputs, restored, descriptor.attempt,
            descriptor.checkpoints.aligned, checkpoints, chain, self.clock, self._canceled, descriptor.execution_id,
            self._on_error, self.settings.alignment_buffer_bytes, self.backlog, self.settings.cluster_secret)

    def _dead_letters(self, producer: Producer) -> DeadLetterWriter:
        if self.dead_letters is None:
            self.dead_letters = DeadLetterWriter(producer, self.descriptor.dead_letter_topic, self.descriptor.job_id,
                                                 self.vertex.name)
        return self.dead_letters

    def _on_error(self, exc: Exception, record: Any, element: Any) -> None:
        """The chain raised ``exc`` on Kafka message ``record`` (decoded: ``element``): under
        DEAD_LETTER write it to the dead-letter topic and go on, else raise TaskFailure naming it."""
        if (self.descriptor.error_policy != ErrorPolicy.DEAD_LETTER or self.dead_letters is None
                or isinstance(exc, SinkBufferFullError | EdgeRecordTooLargeError | DeliveryFailedError)):
            # not the input record's fault, or not its element: dead-lettering it would not help
            raise TaskFailure.of(exc, self.vertex.name, self.descriptor.execution_id, record) from exc
        self.dead_letters.write(record, f"{type(exc).__name__}: {exc}", element)
        if self.dead_letters.written % DEAD_LETTER_LOG_EVERY == 1:
            log.warning("record dead-lettered", execution_id=self.descriptor.execution_id,
                        source=f"{record.topic()}/{record.partition()}/{record.offset()}",
                        error=f"{type(exc).__name__}: {exc}", dead_lettered=self.dead_letters.written)

    def _log_running(self, started: float, restored: Offsets) -> None:
        skipped = sum(max(0, p.skip_before - restored.get(p.key, 0))  # records of older attempts not read
                      for p in self.descriptor.input_partitions)
        log.info("task running", execution_id=self.descriptor.execution_id, job_id=self.descriptor.job_id,
                 restored_checkpoint=self.descriptor.restore.checkpoint_id if self.descriptor.restore else None,
                 setup_ms=round((time.monotonic() - started) * 1000), skipped_older_attempts_records=skipped)

    def _flush_before_ack(self, chain: OperatorChain) -> None:
        """Before a checkpoint ack, what no downstream task reads must be in Kafka: the output of an
        AT_LEAST_ONCE or NONE sink and dead letters, so those are flushed. Edge records need no wait
        (a flush there held the first checkpoint of a backlog for seconds): the producer is gapless
        (``enable.gapless.guarantee``), so a downstream task that read this barrier read every record
        before it, and a record that fails stops the producer, which fails the task."""
        dead_letters = self.dead_letters.written if self.dead_letters is not None else 0
        if isinstance(chain.sink_writer, KafkaSinkWriter) or dead_letters != self._dead_letters_flushed:
            self._flush()
            self._dead_letters_flushed = dead_letters
        else:
            self.deliveries.check()

    def _flush(self) -> None:
        """Wait until every record produced so far is in Kafka; raises DeliveryFailedError if
        Kafka refused one or did not take them within 30 s."""
        for each in self._producers:
            remaining = each.flush(30)
            if remaining:
                raise DeliveryFailedError(f"{remaining} records not delivered to Kafka within 30 s")
        self.deliveries.check()
