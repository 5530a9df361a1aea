"""Input of a source subtask (Flink's SourceReader): the consume loop over its Kafka splits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from strom.errors import ServiceUnavailableError
from strom.io.kafka import KafkaPartition, consume_ready, produce
from strom.runtime.deployment import SourceSplit
from strom.runtime.io.flow_control import EdgeBacklog
from strom.runtime.io.record_writer import OutputFlusher
from strom.runtime.timers import MIN_TIME
from strom.runtime.watermarks import SourceWatermarks, WatermarkOutput
from strom.runtime.windows import RecordClock

if TYPE_CHECKING:
    from strom.runtime.checkpointing import SubtaskCheckpointCoordinator

Offsets = dict[KafkaPartition, int]


class DeadLetterWriter:
    """Records a source cannot deserialize, and under the DEAD_LETTER error policy records a user
    function raised on, go to the job's dead-letter topic: value and key unchanged, in headers the
    reason (``strom.error``), their topic/partition/offset (``strom.source``), the job, the operator
    chain and, when known, ``repr`` of the decoded element (``strom.element``, at most
    :attr:`SHOWN_CHARS` characters). ``written``: records written so far."""

    SHOWN_CHARS = 1000

    def __init__(self, producer: Producer, topic: str, job_id: str, operator_name: str) -> None:
        self.producer, self.topic = producer, topic
        self.job, self.operator = job_id.encode(), operator_name.encode()
        self.written = 0

    def write(self, record: Any, reason: str, element: Any = None) -> None:
        where = f"{record.topic()}/{record.partition()}/{record.offset()}"
        headers = [("strom.error", reason.encode()), ("strom.source", where.encode()),
                   ("strom.job", self.job), ("strom.operator", self.operator)]
        if element is not None:
            headers.append(("strom.element", repr(element)[:self.SHOWN_CHARS].encode()))
        produce(self.producer, self.topic, record.value(), key=record.key(), headers=headers)
        self.written += 1


class RateLimiter:
    """Paces a reader to ``per_second`` records/s: each record read pushes the time the next one
    is free by 1/``per_second`` s; credit for time spent not reading lasts at most one second, so
    a reader that waited (for input, or back-pressured) catches up by one second's records at most.

    >>> limiter = RateLimiter(1000.0, now_s=0.0)
    >>> limiter.delay_s(500, now_s=0.0)    # 500 records at t=0: the next is free at 0.5 s
    0.5
    >>> limiter.delay_s(0, now_s=10.0)     # long idle: back to no delay (the credit is not kept)
    0.0
    """

    def __init__(self, per_second: float, now_s: float) -> None:
        self.interval_s, self.next_free_s = 1.0 / per_second, now_s

    def delay_s(self, records: int, now_s: float) -> float:
        """Seconds to wait at ``now_s`` (monotonic s) after ``records`` more were read."""
        self.next_free_s = max(self.next_free_s, now_s - 1.0) + records * self.interval_s
        return max(0.0, self.next_free_s - now_s)


class SourceReader:
    """Reads ``splits`` from ``restored`` offsets (else their start), bounded by their end offsets.

    ``producers``: the task's, polled once per batch; ``source``: the source StreamNode
    (deserializer, watermark strategy);
    ``collect``: the chain's head; ``auto_watermark_interval_ms``: how often
    watermarks (or idleness) go out; ``on_error(exc, record, element)``: called when
    the chain raised ``exc`` on ``record`` (deserialized: ``element``); raises to fail the task or
    returns after dead-lettering the record (the task's ErrorPolicy). ``flusher``: sends the
    output buffers that waited ``execution.buffer-timeout``, once per batch of input.
    ``parallelism``: the source's, which shares out its ``rate_limit``.
    """

    def __init__(self, consumer: Consumer, producers: Sequence[Producer], source: Any, collect: Callable[[Any], None],
                 splits: tuple[SourceSplit, ...], restored: Offsets, checkpoints: SubtaskCheckpointCoordinator,
                 watermarks: WatermarkOutput, clock: RecordClock, canceled: threading.Event,
                 dead_letters: DeadLetterWriter, auto_watermark_interval_ms: int,
                 on_error: Callable[[Exception, Any, Any], None], backlog: EdgeBacklog | None = None,
                 flusher: OutputFlusher | None = None, parallelism: int = 1) -> None:
        self.consumer, self.producers, self.collect, self.checkpoints = consumer, producers, collect, checkpoints
        self.output, self.clock, self.canceled, self.dead_letters = watermarks, clock, canceled, dead_letters
        self.on_error, self.watermark_interval_s = on_error, auto_watermark_interval_ms / 1000
        self.backlog = backlog  # flow control: no input while an output edge holds too much unread
        self.flusher = flusher or OutputFlusher(())  # network buffers that waited long enough go out
        self.deserialize = source.connector.value_deserializer.deserialize
        rate_limit = getattr(source.connector, "rate_limit", None)
        self.limiter = RateLimiter(rate_limit / parallelism, time.monotonic()) if rate_limit else None
        strategy = source.watermark_strategy
        self.assign_timestamp = strategy.timestamp_assigner if strategy else None
        self.next_watermark_at = 0.0
        self.records_in, self.idle_s = 0, 0.0  # metrics: records read (not end-of-partition events), s waiting
        self.ends: dict[tuple[str, int], int | None] = {s.key: s.end_offset for s in splits}
        self.position: dict[tuple[str, int], int] = {s.key: restored.get(s.key, s.start_offset) for s in splits}
        self.pending = {tp for tp, start in self.position.items()
                        if (end := self.ends[tp]) is None or start < 0 or start < end}
        self.watermarks = (SourceWatermarks(self.pending, strategy.max_out_of_orderness_ms,
                                            strategy.idle_timeout_ms, time.monotonic() * 1000)
                           if strategy and strategy.max_out_of_orderness_ms is not None else None)
        consumer.assign([TopicPartition(t, p, self.position[(t, p)]) for t, p in self.pending])

    def offsets(self) -> Offsets:
        """Next offset per split."""
        return {KafkaPartition(*tp): offset for tp, offset in self.position.items()}

    def run(self) -> bool:
        """Read until every split reached its end (True) or the task is canceled (False)."""
        checkpoints, pending = self.checkpoints, self.pending
        while pending:
            checkpoints.handle_events(self.offsets)
            checkpoints.poll(self.offsets)
            if self.canceled.is_set():
                return False
            if self.backlog is not None and self.backlog.blocked():
                self.backlog.wait(self.producers)
                self._emit_watermark()
                continue
            waited = time.perf_counter()
            records = consume_ready(self.consumer, 500, self.flusher.input_wait_s(0.1))
            self.idle_s += time.perf_counter() - waited
            for record in records:
                self._read(record)
            if self.limiter is not None:  # in short steps: checkpoints and a cancel are not held up
                delay = self.limiter.delay_s(len(records), time.monotonic())
                while delay > 0 and not self.canceled.is_set():
                    time.sleep(min(delay, 0.05))
                    delay -= 0.05
                    checkpoints.handle_events(self.offsets)
                    checkpoints.poll(self.offsets)
            self._emit_watermark()
            self.flusher.flush_due()
            for producer in self.producers:  # delivery reports (failures) and librdkafka's queue
                producer.poll(0)
        return True

    def _read(self, record: Any) -> None:
        tp = (record.topic(), record.partition())  # a plain tuple: equal to the KafkaPartition keys, cheaper
        ends, position = self.ends, self.position
        error = record.error()
        if error is not None:
            if error.code() != KafkaError._PARTITION_EOF:
                raise RuntimeError(f"Kafka error on {tp[0]}/{tp[1]}: {error}")
            # The consumer's next offset: past transaction markers (never delivered as records),
            # and a real offset where the position was still a start sentinel (OFFSET_BEGINNING).
            end = ends[tp]
            position[tp] = max(position[tp], record.offset() if end is None else min(record.offset(), end))
            if end is not None and record.offset() >= end:
                self._end(tp)
            return
        end = ends[tp]
        if end is not None and record.offset() >= end:
            self._end(tp)
            return  # past the end of a bounded source: not ours
        try:
            element = self.deserialize(record.value())
            kafka_ts = record.timestamp()[1]
            timestamp = (self.assign_timestamp(element, kafka_ts) if self.assign_timestamp
                         else kafka_ts if kafka_ts >= 0 else None)
        except ServiceUnavailableError:
            raise  # not the record's: fail, restart from the checkpoint, read it again
        except Exception as exc:
            self.dead_letters.write(record, f"{type(exc).__name__}: {exc}")
        else:
            self.records_in += 1
            self.clock.timestamp = timestamp
            if self.watermarks is not None:
                self.watermarks.on_record(tp, timestamp)
            try:
                self.collect(element)
            except Exception as exc:
                self.on_error(exc, record, element)
        position[tp] = record.offset() + 1
        if end is not None and position[tp] >= end:
            self._end(tp)
            self.consumer.pause([TopicPartition(*tp)])

    def _end(self, tp: tuple[str, int]) -> None:
        self.pending.discard(tp)
        if self.watermarks is not None:
            self.watermarks.end(tp)

    def _emit_watermark(self) -> None:
        """Periodic watermark (every auto-watermark interval), or idleness."""
        if self.watermarks is None or time.monotonic() < self.next_watermark_at:
            return
        self.next_watermark_at = time.monotonic() + self.watermark_interval_s
        watermark = self.watermarks.current(time.monotonic() * 1000)
        if watermark is None:
            self.output.mark_idle()
        elif watermark > MIN_TIME or self.output.idle:
            self.output.emit_watermark(watermark)

    def await_final_checkpoint(self) -> bool:
        """After the end of data: answer checkpoint triggers until the final one completes (True)
        or the task is canceled (False)."""
        return self.checkpoints.await_final_checkpoint(self.offsets, self.canceled)
