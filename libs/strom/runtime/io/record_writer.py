"""Writing a subtask's output to one Kafka edge in network buffers (Flink's RecordWriter and
BufferBuilder), and sending buffers that waited long enough (Flink's OutputFlusher)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import count
from typing import Any

from confluent_kafka import KafkaException, Producer

from strom.errors import DeliveryFailedError, EdgeRecordTooLargeError
from strom.graph.stream_graph import FORWARD, HASH
from strom.io.kafka import PRODUCER_MAX_MESSAGE_BYTES, produce
from strom.runtime.deployment import OutputEdge
from strom.runtime.io.events import Event, encode_buffer, encode_event
from strom.runtime.windows import RecordClock
from strom.state.keygroups import key_group_for

#: Elements of one buffer at most, whatever their size (a bound on a buffer's list, not a tunable).
MAX_BUFFER_ELEMENTS = 65_536
#: Bytes of one buffer's record value at most: librdkafka's message.max.bytes less a record
#: batch's framing (:data:`~strom.io.kafka.PRODUCER_MAX_MESSAGE_BYTES`).
MAX_BUFFER_BYTES = PRODUCER_MAX_MESSAGE_BYTES - 1_000


def _no_key_selector(element: Any) -> Any:
    raise TypeError(f"a hash-partitioned edge needs a key selector (element {element!r})")


class RecordWriter:
    """Writes elements to an edge topic in buffers (:mod:`strom.runtime.io.events`), one per
    target partition.

    HASH: partition = :func:`~strom.state.keygroups.key_group_for` (key, partitions), so
    partition = key group. FORWARD: partition = own subtask index. REBALANCE: round-robin from it.

    A buffer goes out as one Kafka record when it holds about ``segment_size`` bytes (the
    element count that fills it is re-estimated from each buffer sent: elements are pickled once,
    with their buffer), at the next tick of a ``buffer_timeout_ms`` period (:meth:`flush_due`; as
    Flink's OutputFlusher flushes every buffer once a period, an element waits half the timeout
    on average and the whole at most), and before any event (barrier, watermark, end of
    partition), which goes to every partition after the buffers, so in-band order holds.
    ``buffer_timeout_ms=0``: a buffer per element.
    ``secret``: the cluster secret buffers are sealed with. Each Kafka record to a partition gets
    that partition's next sequence number (:mod:`~strom.runtime.io.events`) once librdkafka took
    it; a buffer over :data:`MAX_BUFFER_BYTES` goes out in halves.

    ``records_out`` (elements sent) and ``back_pressured_s`` (blocked on a full producer queue)
    are the task's metrics.

    >>> from strom.runtime.deployment import OutputEdge
    >>> sent = []
    >>> class Collecting:
    ...     def produce(self, topic, value=None, partition=-1, headers=None, **kw):
    ...         sent.append((partition, value and decode_buffer(value, b"", "?"), headers and headers[0][1]))
    >>> from strom.runtime.io.events import decode_buffer, Watermark
    >>> writer = RecordWriter(Collecting(), OutputEdge("t", FORWARD, 2), 1, 0, None, RecordClock())
    >>> writer.collect("a"); writer.collect("b"); sent
    []
    >>> writer.broadcast_event(Watermark(5)); sent
    [(1, (0, 1, 0, None, ['a', 'b']), None), (0, None, b'watermark:5'), (1, None, b'watermark:5')]
    """

    def __init__(self, producer: Producer, edge: OutputEdge, subtask_index: int, attempt: int,
                 key_selector: Callable[[Any], Any] | None, clock: RecordClock,
                 buffer_timeout_ms: int = 100, segment_size: int = 32 * 1024, secret: bytes = b"") -> None:
        self.producer, self.topic, self.partitions, self.clock = producer, edge.topic, edge.partitions, clock
        self.partitioner = edge.partitioner
        self.key_selector: Callable[[Any], Any] = key_selector or _no_key_selector
        self.subtask_index, self.attempt = subtask_index, attempt
        self._round_robin = count(subtask_index)
        self.records_out, self.back_pressured_s = 0, 0.0
        self.segment_size, self.timeout_s = segment_size, buffer_timeout_ms / 1000
        self.secret = secret  # seals every buffer (the cluster secret)
        # Per partition: the open buffer's elements and their timestamps (ms or None).
        self._elements: list[list[Any]] = [[] for _ in range(edge.partitions)]
        self._timestamps: list[list[int | None]] = [[] for _ in range(edge.partitions)]
        self._sequences = [0] * edge.partitions  # per partition: the next Kafka record's sequence number
        self.capacity = 1 if buffer_timeout_ms == 0 else 64  # elements that fill a buffer; re-estimated
        self._adaptive = buffer_timeout_ms > 0
        self._ticks_from = time.monotonic()  # the flush period's phase
        self.due_at: float | None = None  # monotonic s at which the open buffers go out (None: none open)

    def collect(self, element: Any) -> None:
        if self.partitioner == HASH:
            partition = key_group_for(self.key_selector(element), self.partitions)
        elif self.partitioner == FORWARD:
            partition = self.subtask_index
        else:
            partition = next(self._round_robin) % self.partitions
        if self.due_at is None:
            self.due_at = self._next_tick()
        elements = self._elements[partition]
        elements.append(element)
        self._timestamps[partition].append(self.clock.timestamp)
        if len(elements) >= self.capacity:
            self._send(partition)

    def _next_tick(self) -> float:
        now = time.monotonic()
        return now + self.timeout_s - (now - self._ticks_from) % self.timeout_s if self.timeout_s else now

    def _send(self, partition: int) -> None:
        elements, timestamps = self._elements[partition], self._timestamps[partition]
        self._elements[partition], self._timestamps[partition] = [], []
        self._produce(partition, elements, timestamps)

    def _produce(self, partition: int, elements: list[Any], timestamps: list[int | None]) -> None:
        """One buffer as one Kafka record, or, over :data:`MAX_BUFFER_BYTES` (the first buffers are
        sized by a guess), as two halves, each split again if need be. Raises
        :class:`~strom.errors.EdgeRecordTooLargeError` for one element over it,
        :class:`~strom.errors.DeliveryFailedError` when librdkafka refuses the record."""
        sequence = self._sequences[partition]
        # No event time: one None for the buffer, not one per element.
        value = encode_buffer((self.attempt, self.subtask_index, sequence,
                               None if timestamps.count(None) == len(timestamps) else timestamps, elements),
                              self.secret)
        if len(value) > MAX_BUFFER_BYTES:
            if len(elements) == 1:
                raise EdgeRecordTooLargeError(
                    f"an element of {len(value)} bytes pickled is over the {MAX_BUFFER_BYTES} bytes a record "
                    f"on edge {self.topic} may hold (the producer's message.max.bytes): "
                    f"{repr(elements[0])[:200]}")
            half = len(elements) // 2
            self._produce(partition, elements[:half], timestamps[:half])
            self._produce(partition, elements[half:], timestamps[half:])
            return
        if self._adaptive:
            self.capacity = max(1, min(MAX_BUFFER_ELEMENTS, self.segment_size * len(elements) // len(value)))
        try:
            blocked = produce(self.producer, self.topic, value, partition=partition)
        except KafkaException as exc:  # not the element's fault: fails the task, which restarts
            raise DeliveryFailedError(f"edge {self.topic}[{partition}]: librdkafka refused a buffer of "
                                      f"{len(elements)} elements ({len(value)} bytes): {exc}") from exc
        self._sequences[partition] = sequence + 1
        self.records_out += len(elements)
        if blocked:
            self.back_pressured_s += blocked

    def flush(self) -> None:
        """Send every open buffer."""
        for partition, elements in enumerate(self._elements):
            if elements:
                self._send(partition)
        self.due_at = None

    def flush_due(self, now_s: float) -> None:
        """Send every open buffer if their period's tick is past by ``now_s`` (monotonic s)."""
        if self.due_at is not None and now_s >= self.due_at:
            self.flush()

    def broadcast_event(self, event: Event) -> None:
        """Open buffers, then ``event`` into every partition of the edge."""
        self.flush()
        for partition in range(self.partitions):
            headers = encode_event(event, self.subtask_index, self.attempt, self._sequences[partition])
            produce(self.producer, self.topic, None, partition=partition, headers=headers)
            self._sequences[partition] += 1


class OutputFlusher:
    """Sends the buffers of a subtask's writers that waited ``execution.buffer-timeout`` (Flink's
    OutputFlusher, which is a thread; here the task's input loop calls it once per batch of
    input, and waits for input at most until the next buffer is due). ``flush_sink``: hands what
    an at-least-once sink collected to its producer, at every call."""

    def __init__(self, writers: Sequence[RecordWriter], flush_sink: Callable[[], None] | None = None) -> None:
        self.writers = list(writers)
        self.flush_sink = flush_sink

    def flush_due(self) -> None:
        """Send what is due now."""
        now = time.monotonic()
        for writer in self.writers:
            writer.flush_due(now)
        if self.flush_sink is not None:
            self.flush_sink()

    def input_wait_s(self, limit_s: float) -> float:
        """How long the input loop may wait for input: ``limit_s``, or less when a buffer falls
        due sooner (0 when one is due)."""
        waits = [writer.due_at - time.monotonic() for writer in self.writers if writer.due_at is not None]
        return max(0.0, min([limit_s, *waits]))
