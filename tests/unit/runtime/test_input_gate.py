"""The input gate's handling of Kafka messages: attempt fencing, alignment, offsets, watermarks.

Messages are built with the real codec; the consumer and the task around the
gate are stand-ins (this is the logic between them, without Kafka).
"""

import pickle
import threading
from collections import defaultdict

import pytest
from confluent_kafka import Message as KafkaMessage

from strom.errors import LostRecordsError, TamperedDataError
from strom.io.kafka import KafkaPartition
from strom.runtime.deployment import InputPartition
from strom.runtime.errors import ReplacedAttemptError
from strom.runtime.io.events import END_OF_PARTITION, CheckpointBarrier, Watermark, encode_buffer, encode_event
from strom.runtime.io.input_gate import CheckpointedInputGate
from strom.runtime.io.record_writer import OutputFlusher
from strom.runtime.watermarks import WatermarkOutput
from strom.runtime.windows import RecordClock

TOPIC = "edge"
SECRET = b"cluster secret"


def message(partition, offset, value=None, headers=None):
    return KafkaMessage(topic=TOPIC, partition=partition, offset=offset, value=value, headers=headers)


class Input:
    """Messages of one partition, offsets counted, and sequence numbers per writer (upstream, attempt)
    as a RecordWriter gives them."""

    def __init__(self, partition):
        self.partition, self.offset = partition, 0
        self.sequences = defaultdict(int)

    def _next(self, **kwargs):
        record = message(self.partition, self.offset, **kwargs)
        self.offset += 1
        return record

    def _sequence(self, upstream, attempt):
        sequence = self.sequences[upstream, attempt]
        self.sequences[upstream, attempt] += 1
        return sequence

    def record(self, element, upstream=0, attempt=1, timestamp=None):
        """A buffer of one element."""
        return self.buffer([element], upstream, attempt, None if timestamp is None else [timestamp])

    def buffer(self, elements, upstream=0, attempt=1, timestamps=None):
        sequence = self._sequence(upstream, attempt)
        return self._next(value=encode_buffer((attempt, upstream, sequence, timestamps, elements), SECRET))

    def event(self, event, upstream=0, attempt=1):
        return self._next(headers=encode_event(event, upstream, attempt, self._sequence(upstream, attempt)))


class Task:
    """The consumer, checkpoints, chain and writers around the gate."""

    def __init__(self):
        self.assigned, self.checkpoints_taken, self.elements, self.events = [], [], [], []
        self.backend = None
        self.watermarks = WatermarkOutput([self], None)
        self.flusher = OutputFlusher([])

    def assign(self, partitions):
        self.assigned = [(tp.topic, tp.partition, tp.offset) for tp in partitions]

    def checkpoint(self, checkpoint_id, offsets):
        self.checkpoints_taken.append((checkpoint_id, offsets))

    def broadcast_event(self, event):
        self.events.append(event)


def gate(partitions, restored=None, aligned=True, collect=None, on_error=None, buffer_bytes=64 << 20):
    task = Task()
    result = CheckpointedInputGate(
        task, [], tuple(partitions), {TOPIC: collect or task.elements.append}, restored or {}, 1, aligned,
        task, task, RecordClock(), threading.Event(), "v[0]#1", on_error or (lambda exc, record, element: None),
        buffer_bytes, secret=SECRET)
    return result, task


def test_reading_starts_at_the_restored_offset_or_past_older_attempts_output():
    _gate, task = gate([InputPartition(TOPIC, 0, 1, skip_before=40), InputPartition(TOPIC, 1, 1, skip_before=5)],
                       restored={KafkaPartition(TOPIC, 0): 12, KafkaPartition(TOPIC, 1): 9})
    assert task.assigned == [(TOPIC, 0, 40), (TOPIC, 1, 9)]


def test_records_of_an_older_attempt_are_dropped_and_a_newer_attempt_means_replaced():
    input_gate, task = gate([InputPartition(TOPIC, 0, 1)])
    p0 = Input(0)
    input_gate.handle(p0.record("old", attempt=0))
    input_gate.handle(p0.event(Watermark(99), attempt=0))
    input_gate.handle(p0.record("current"))
    assert task.elements == ["current"] and task.events == []
    with pytest.raises(ReplacedAttemptError, match="v\\[0\\]#1 read records of attempt 2"):
        input_gate.handle(p0.record("newer", attempt=2))


def test_a_record_missing_from_a_channel_fails_the_task_instead_of_being_skipped():
    """Kafka lost a buffer (KAFKA-15591 lost the first ones of new partitions): the next record's
    sequence number shows the gap; held and replayed records are not checked twice."""
    input_gate, task = gate([InputPartition(TOPIC, 0, 2)])
    p0 = Input(0)
    input_gate.handle(p0.record("old", attempt=0))  # an older attempt's: dropped, sequence unchecked
    input_gate.handle(p0.event(CheckpointBarrier(1), upstream=0))
    input_gate.handle(p0.record("held", upstream=0))
    input_gate.handle(p0.record("first of upstream 1", upstream=1))
    input_gate.handle(p0.event(CheckpointBarrier(1), upstream=1))  # aligned: "held" replayed
    assert task.elements == ["first of upstream 1", "held"]
    p0.record("lost", upstream=1)  # its sequence number is taken, Kafka never delivers it
    with pytest.raises(LostRecordsError, match=r"record edge/0/6 of upstream subtask 1 \(attempt 1\) has "
                                               r"sequence number 3, expected 2: records before it are missing"):
        input_gate.handle(p0.record("after the lost one", upstream=1))
    assert "after the lost one" not in task.elements


def test_aligned_snapshot_has_the_offsets_past_the_barriers_and_held_records_follow_it():
    input_gate, task = gate([InputPartition(TOPIC, 0, 2), InputPartition(TOPIC, 1, 1)])
    p0, p1 = Input(0), Input(1)
    for message in [p0.event(CheckpointBarrier(3), upstream=0), p0.record("held", upstream=0),
                    p0.record("free", upstream=1), p0.event(CheckpointBarrier(3), upstream=1),
                    p1.record("p1"), p1.event(CheckpointBarrier(3))]:
        input_gate.handle(message)
    assert task.checkpoints_taken == [(3, {KafkaPartition(TOPIC, 0): 4, KafkaPartition(TOPIC, 1): 2})]
    assert task.elements == ["free", "p1", "held"]


def test_records_held_past_the_memory_bound_spill_and_replay_in_order():
    input_gate, task = gate([InputPartition(TOPIC, 0, 2)], buffer_bytes=600)  # room for two held records
    p0 = Input(0)
    input_gate.handle(p0.event(CheckpointBarrier(1), upstream=0))
    for i in range(5):
        input_gate.handle(p0.record(f"held-{i}", upstream=0))
    assert len(input_gate.barriers.held) == 5 and input_gate.barriers.held.spilled == 3
    input_gate.handle(p0.event(CheckpointBarrier(1), upstream=1))
    assert task.elements == [f"held-{i}" for i in range(5)] and not input_gate.barriers.held


def test_watermarks_go_through_the_valve_and_end_of_partition_ends_the_input():
    input_gate, task = gate([InputPartition(TOPIC, 0, 2)])
    p0 = Input(0)
    input_gate.handle(p0.event(Watermark(100), upstream=0))
    input_gate.handle(p0.event(Watermark(70), upstream=1))
    input_gate.handle(p0.event(END_OF_PARTITION, upstream=1))
    assert task.events == [Watermark(70), Watermark(100)]
    assert not input_gate.barriers.all_ended()
    input_gate.handle(p0.event(END_OF_PARTITION, upstream=0))
    assert input_gate.barriers.all_ended()


def test_a_buffer_is_decoded_once_its_elements_go_in_order_with_their_timestamps():
    seen = []
    input_gate, _task = gate([InputPartition(TOPIC, 0, 1)], collect=lambda e: seen.append((e, clock.timestamp)))
    clock = input_gate.clock
    p0 = Input(0)
    input_gate.handle(p0.buffer(["a", "b", "c"], timestamps=[5, 3, 9]))
    input_gate.handle(p0.buffer(["d", "e"]))
    assert seen == [("a", 5), ("b", 3), ("c", 9), ("d", None), ("e", None)]
    assert input_gate.records_in == 5


def test_an_element_that_raises_goes_to_the_error_policy_named_by_its_buffer_and_the_gate_goes_on():
    errors = []

    def collect(element):
        if element == "poison":
            raise ValueError("cannot digest poison")
        task.elements.append(element)
    input_gate, task = gate([InputPartition(TOPIC, 0, 1)], collect=collect,
                            on_error=lambda exc, record, element: errors.append(record))
    p0 = Input(0)
    input_gate.handle(p0.buffer(["fine"]))
    input_gate.handle(p0.buffer(["a", "poison", "b"]))
    assert task.elements == ["fine", "a", "b"]
    (record,) = errors
    assert (record.topic(), record.partition(), record.offset()) == (TOPIC, 0, 1)
    assert pickle.loads(record.value()) == "poison"  # the element, not its whole buffer


def test_a_buffer_behind_a_barrier_is_held_whole_and_replayed_after_alignment():
    input_gate, task = gate([InputPartition(TOPIC, 0, 2)])
    p0 = Input(0)
    input_gate.handle(p0.event(CheckpointBarrier(1), upstream=0))
    input_gate.handle(p0.buffer(["h1", "h2"], upstream=0))
    input_gate.handle(p0.buffer(["f1", "f2"], upstream=1))
    assert task.elements == ["f1", "f2"]
    input_gate.handle(p0.event(CheckpointBarrier(1), upstream=1))
    assert task.elements == ["f1", "f2", "h1", "h2"]
    assert task.checkpoints_taken == [(1, {KafkaPartition(TOPIC, 0): 4})]


def test_a_buffer_not_sealed_with_the_cluster_secret_is_refused_unread():
    input_gate, task = gate([InputPartition(TOPIC, 0, 1)])
    p0 = Input(0)
    input_gate.handle(p0.buffer(["sealed"]))
    forged = encode_buffer((1, 0, 0, None, ["forged"]), b"not the cluster secret")
    with pytest.raises(TamperedDataError, match=r"buffer edge/0/1 fails its HMAC"):
        input_gate.handle(p0._next(value=forged))
    flipped = bytearray(encode_buffer((1, 0, 0, None, ["x"]), SECRET))
    flipped[-3] ^= 1
    with pytest.raises(TamperedDataError, match=r"buffer edge/0/2 fails its HMAC"):
        input_gate.handle(p0._next(value=bytes(flipped)))
    assert task.elements == ["sealed"]
