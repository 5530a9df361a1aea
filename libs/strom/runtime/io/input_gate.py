"""Input of a non-source subtask (Flink's CheckpointedInputGate): the consume loop over its channels.

A channel is ``((topic, partition), upstream subtask)``. Each Kafka record is
a network buffer of stream records or an event (:mod:`strom.runtime.io.events`),
decoded once; a buffer is held back, replayed and fenced as one. Buffers and
events of an older attempt are dropped (attempt fencing: the un-checkpointed
output of a failed run, or of a zombie); one of a newer attempt means this
task was replaced (:class:`~strom.runtime.errors.ReplacedAttemptError`).
Barriers go to the barrier handler, watermarks and idleness through the
watermark valve to the task's :class:`~strom.runtime.watermarks.WatermarkOutput`.
Each channel's records of this attempt must come with sequence numbers 0, 1, 2, ...; a gap
raises :class:`~strom.errors.LostRecordsError`.
"""

from __future__ import annotations

import functools
import pickle
import threading
import time
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any, NamedTuple

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from strom.errors import LostRecordsError
from strom.io.kafka import KafkaPartition, consume_ready
from strom.runtime.deployment import InputPartition
from strom.runtime.errors import ReplacedAttemptError
from strom.runtime.io.barriers import CheckpointBarrierTracker, SingleCheckpointBarrierHandler
from strom.runtime.io.events import EndOfPartition, Watermark, WatermarkStatus, decode_buffer, decode_event
from strom.runtime.io.flow_control import EdgeBacklog, InputPositions
from strom.runtime.io.spill import SpillingBuffer
from strom.runtime.io.valve import StatusWatermarkValve
from strom.runtime.timers import processing_time_ms
from strom.runtime.windows import RecordClock

# Kafka records (buffers or events) taken per consume: between batches the gate sees a cancel,
# fires processing-time timers and flushes. A buffer holds up to a segment of elements, so a
# batch of 500 could hold minutes of work for a slow operator.
INPUT_BATCH_RECORDS = 64

if TYPE_CHECKING:
    from strom.runtime.chain import OperatorChain
    from strom.runtime.checkpointing import SubtaskCheckpointCoordinator

Offsets = dict[KafkaPartition, int]


class BufferedElement(NamedTuple):
    """One element of a buffer, as errors and the dead-letter topic name it: the buffer's
    topic/partition/offset, and as value the element's own pickle (not the whole buffer's)."""

    buffer: Any  # the Kafka message of the buffer
    element: Any

    def topic(self) -> str:
        return self.buffer.topic()

    def partition(self) -> int:
        return self.buffer.partition()

    def offset(self) -> int:
        return self.buffer.offset()

    def key(self) -> bytes | None:
        return None

    def value(self) -> bytes:
        return pickle.dumps(self.element, protocol=5)


class CheckpointedInputGate:
    """Reads ``partitions`` from ``restored`` offsets (or their ``skip_before``, if later).

    ``producers``: the task's, polled once per batch of records.
    ``inputs``: topic -> the head operator's entry for that input (``collect``,
    or ``collect2`` for input 2 of a two-input operator). ``aligned``:
    exactly-once barrier alignment, else at-least-once. ``on_error(exc, record, element)``:
    called when the chain raised ``exc`` on ``record`` (decoded: ``element``); raises to fail the
    task or returns after dead-lettering the record (the task's ErrorPolicy).
    ``alignment_buffer_bytes``: records held back during alignment kept in memory; more spill
    to disk (:mod:`strom.runtime.io.spill`). ``secret``: the cluster secret buffers are sealed
    with; a buffer whose seal does not match fails the task with
    :class:`~strom.errors.TamperedDataError` naming its topic/partition/offset, unread.
    """

    def __init__(self, consumer: Consumer, producers: Sequence[Producer], partitions: tuple[InputPartition, ...],
                 inputs: dict[str, Callable[[Any], None]], restored: Offsets, attempt: int, aligned: bool,
                 checkpoints: SubtaskCheckpointCoordinator, chain: OperatorChain, clock: RecordClock,
                 canceled: threading.Event, execution_id: str,
                 on_error: Callable[[Exception, Any, Any], None], alignment_buffer_bytes: int = 64 << 20,
                 backlog: EdgeBacklog | None = None, secret: bytes = b"") -> None:
        self.consumer, self.producers, self.inputs, self.attempt = consumer, producers, inputs, attempt
        self.execution_id, self.secret = execution_id, secret
        self.checkpoints, self.chain, self.clock, self.canceled, self.on_error = (
            checkpoints, chain, clock, canceled, on_error)
        self.backend, self.watermarks, self.flusher = chain.backend, chain.watermarks, chain.flusher
        channels = [(p.key, upstream) for p in partitions for upstream in range(p.upstream_parallelism)]
        handler = SingleCheckpointBarrierHandler if aligned else CheckpointBarrierTracker
        self.barriers = handler(channels, self._trigger, functools.partial(self.handle, replayed=True),
                                functools.partial(SpillingBuffer, alignment_buffer_bytes))
        self._sequences: dict[Any, int] = {}  # channel -> the sequence number its next record must have
        self._blocking = self.barriers.blocking  # keeps its identity: checked per record
        # One upstream subtask per (input topic, subtask index), over every partition read here.
        self.valve = StatusWatermarkValve(channels, upstream_of=lambda channel: (channel[0][0], channel[1]))
        self.position: Offsets = {p.key: max(restored.get(p.key, 0), p.skip_before) for p in partitions}
        # Metrics: stream records handed to the chain (Flink's numRecordsIn; not events, not records
        # of other attempts; a held record once, when replayed), s waiting for input.
        self.records_in, self.idle_s = 0, 0.0
        consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in self.position.items()])
        # Flow control: where this task reads, for the tasks writing its inputs; and its own outputs.
        self.input_positions, self.backlog = InputPositions(consumer), backlog

    def offsets(self) -> Offsets:
        """Next offset per partition: just past the last barrier taken in (the restored one before)."""
        return dict(self.position)

    def run(self, await_final_checkpoint: bool = False) -> bool:
        """Process input until every channel ended (True) or the task is canceled (False).

        ``await_final_checkpoint``: after the end, keep reading barriers and handling
        checkpoint events until the final checkpoint completed.
        """
        checkpoints = self.checkpoints
        while await_final_checkpoint or not self.barriers.all_ended():
            if checkpoints.handle_events(None) and await_final_checkpoint:
                return True
            checkpoints.poll(None)
            if self.canceled.is_set():
                return False
            self.input_positions.maybe_commit(time.monotonic())
            if self.backlog is not None and not await_final_checkpoint and self.backlog.blocked():
                self.backlog.wait(self.producers)
                continue
            waited = time.perf_counter()
            records = consume_ready(self.consumer, INPUT_BATCH_RECORDS, self.flusher.input_wait_s(0.1))
            self.idle_s += time.perf_counter() - waited
            for record in records:
                self.input_positions.maybe_commit(time.monotonic())
                error = record.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"Kafka error on {record.topic()}/{record.partition()}: {error}")
                    continue
                self.handle(record)
            if not await_final_checkpoint:  # after the end of input every timer fired; nothing may follow
                self.chain.advance_processing_time(processing_time_ms())
            self.flusher.flush_due()
            for producer in self.producers:  # delivery reports (failures) and librdkafka's queue
                producer.poll(0)
        return True

    def handle(self, record: Any, replayed: bool = False) -> None:
        """One Kafka record: a buffer's elements into the chain, or an event; ``replayed``: one held
        back during alignment (its sequence number was checked when it was read)."""
        headers = record.headers()
        if headers:
            self._handle_event(record, headers, replayed)
            return
        attempt, upstream, sequence, timestamps, elements = decode_buffer(
            record.value(), self.secret, f"buffer {record.topic()}/{record.partition()}/{record.offset()}")
        if attempt != self.attempt:
            self._other_attempt(attempt)
            return
        tp = (record.topic(), record.partition())
        if not replayed:
            self._check_sequence((tp, upstream), sequence, record)
        if self._blocking and (tp, upstream) in self._blocking:
            self.barriers.hold(record)
            return
        if self.backend is not None:
            self.backend.current_key_group = tp[1]  # partition = key group, for the whole buffer
        collect, clock = self.inputs[tp[0]], self.clock
        self.records_in += len(elements)
        for timestamp, element in zip(repeat(None) if timestamps is None else timestamps, elements, strict=False):
            clock.timestamp = timestamp
            try:
                collect(element)
            except Exception as exc:
                self.on_error(exc, BufferedElement(record, element), element)

    def _handle_event(self, record: Any, headers: list[tuple[str, bytes]], replayed: bool) -> None:
        event, upstream, attempt, sequence = decode_event(headers)
        if attempt != self.attempt:
            self._other_attempt(attempt)
            return
        tp = KafkaPartition(record.topic(), record.partition())
        channel = (tp, upstream)
        if not replayed:
            self._check_sequence(channel, sequence, record)
        if self._blocking and channel in self._blocking:
            # Past this channel's barrier: a watermark or end of partition must not overtake
            # the records held back with it (they would fire windows without those records).
            self.barriers.hold(record)
            return
        if isinstance(event, Watermark):
            self.watermarks.emit_input_watermark(self.valve.on_watermark(channel, event.timestamp))
        elif isinstance(event, WatermarkStatus):
            self.watermarks.emit_input_watermark(self.valve.on_status(channel, event))
        elif isinstance(event, EndOfPartition):
            self.watermarks.emit_input_watermark(self.valve.on_end_of_partition(channel))
            self.barriers.on_end_of_partition(channel)
        elif self.barriers.on_barrier(channel, event.checkpoint_id):
            self.position[tp] = record.offset() + 1
            self.barriers.maybe_trigger()

    def _check_sequence(self, channel: Any, sequence: int, record: Any) -> None:
        """Raise LostRecordsError unless ``sequence`` is the next of ``channel`` (from 0: every record
        of this attempt lies past where this task started reading)."""
        expected = self._sequences.get(channel, 0)
        if sequence != expected:
            raise LostRecordsError(
                f"{self.execution_id}: record {record.topic()}/{record.partition()}/{record.offset()} of upstream "
                f"subtask {channel[1]} (attempt {self.attempt}) has sequence number {sequence}, expected {expected}: "
                f"{'records before it are missing' if sequence > expected else 'records came out of order'} "
                f"in Kafka; restarting from the last checkpoint writes them again")
        self._sequences[channel] = sequence + 1

    def _other_attempt(self, attempt: int) -> None:
        """Records of an older attempt are dropped; one of a newer attempt means this task was
        replaced and must not snapshot or emit anything more."""
        if attempt > self.attempt:
            raise ReplacedAttemptError(f"{self.execution_id} read records of attempt {attempt}")

    def _trigger(self, checkpoint_id: int) -> None:
        self.checkpoints.checkpoint(checkpoint_id, self.offsets())
