"""Network buffers of a RecordWriter: when they go out, where, and what they carry."""

import time

import pytest
from confluent_kafka import KafkaError, KafkaException

from strom.errors import DeliveryFailedError, EdgeRecordTooLargeError
from strom.graph.stream_graph import FORWARD, HASH, REBALANCE
from strom.runtime.deployment import OutputEdge
from strom.runtime.io.events import CheckpointBarrier, decode_buffer, decode_event, encode_buffer
from strom.runtime.io.record_writer import MAX_BUFFER_BYTES, OutputFlusher, RecordWriter
from strom.runtime.windows import RecordClock
from strom.state.keygroups import key_group_for


class Producer:
    """Kafka records as produced: (partition, decoded buffer or None, event or None)."""

    def __init__(self):
        self.sent, self.sequences = [], []

    def produce(self, topic, value=None, partition=-1, headers=None):
        buffer, event = value and decode_buffer(value, b"", "edge"), headers and decode_event(headers)
        self.sent.append((partition, buffer, event and event[0]))
        self.sequences.append((partition, buffer[2] if buffer else event[3]))

    def buffers(self):
        return [(partition, buffer) for partition, buffer, _ in self.sent if buffer is not None]


def writer(partitioner=HASH, partitions=8, timeout_ms=100, segment_size=32 * 1024, subtask=0):
    producer = Producer()
    return RecordWriter(producer, OutputEdge("edge", partitioner, partitions), subtask, 3,
                        (lambda word: word) if partitioner == HASH else None, RecordClock(),
                        timeout_ms, segment_size), producer


def test_hash_puts_each_key_in_the_partition_of_its_key_group_with_its_timestamp():
    out, producer = writer()
    words = [f"w{i}" for i in range(200)]
    for i, word in enumerate(words):
        out.clock.timestamp = i
        out.collect(word)
    out.flush()
    seen = {}
    for partition, (attempt, subtask, _sequence, timestamps, elements) in producer.buffers():
        assert (attempt, subtask) == (3, 0)
        for timestamp, word in zip(timestamps, elements, strict=True):
            assert partition == key_group_for(word, 8) and timestamp == int(word[1:])
            seen[word] = partition
    assert sorted(seen) == sorted(words) and out.records_out == 200


def test_forward_and_rebalance_partitions():
    forward, fp = writer(FORWARD, partitions=4, subtask=2)
    rebalance, rp = writer(REBALANCE, partitions=4, subtask=2)
    for i in range(8):
        forward.collect(i)
        rebalance.collect(i)
    forward.flush()
    rebalance.flush()
    assert [p for p, _ in fp.buffers()] == [2]
    assert {p: b[4] for p, b in rp.buffers()} == {2: [0, 4], 3: [1, 5], 0: [2, 6], 1: [3, 7]}


def test_a_buffer_goes_out_when_it_holds_about_a_segment_and_the_size_adapts():
    out, producer = writer(FORWARD, partitions=1, segment_size=4096)
    for i in range(5000):
        out.collect(f"{i:0100d}")  # ~105 bytes pickled: ~39 per 4 KiB buffer once estimated
    sizes = [len(b[4]) for _, b in producer.buffers()]
    assert sizes[0] == 64  # the first guess, before anything was measured
    assert all(30 <= n <= 45 for n in sizes[1:]), sizes
    assert sum(sizes) + len(out._elements[0]) == 5000


def test_open_buffers_go_out_before_an_event_which_goes_to_every_partition():
    out, producer = writer(REBALANCE, partitions=2)
    out.collect("a")
    out.collect("b")
    out.broadcast_event(CheckpointBarrier(9))
    assert producer.sent == [(0, (3, 0, 0, None, ["a"]), None), (1, (3, 0, 0, None, ["b"]), None),
                             (0, None, CheckpointBarrier(9)), (1, None, CheckpointBarrier(9))]
    out.collect("c")
    out.broadcast_event(CheckpointBarrier(10))
    # Every Kafka record to a partition takes its next sequence number, buffers and events alike.
    assert producer.sequences == [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (0, 3), (1, 2)]


def test_a_buffer_that_is_not_full_goes_out_after_the_buffer_timeout():
    out, producer = writer(FORWARD, partitions=1, timeout_ms=50)
    flusher = OutputFlusher([out])
    assert flusher.input_wait_s(0.1) == 0.1  # nothing buffered: wait the whole limit
    out.collect("a")
    flusher.flush_due()
    assert producer.sent == [] and 0 < flusher.input_wait_s(0.1) <= 0.05
    time.sleep(0.06)
    assert flusher.input_wait_s(0.1) == 0
    flusher.flush_due()
    assert producer.buffers() == [(0, (3, 0, 0, None, ["a"]))] and out.due_at is None


def test_buffers_go_out_at_the_ticks_of_the_timeout_period_as_flinks_output_flusher():
    out, producer = writer(FORWARD, partitions=1, timeout_ms=100)
    flusher = OutputFlusher([out])
    time.sleep(0.07)
    out.collect("late in the first period")
    assert 0 < flusher.input_wait_s(1.0) <= 0.031  # the first tick, not 100 ms after the element
    time.sleep(flusher.input_wait_s(1.0))
    flusher.flush_due()
    out.collect("early in the second")
    assert 0.05 < flusher.input_wait_s(1.0) <= 0.1  # the next tick
    assert [b[4] for _, b in producer.buffers()] == [["late in the first period"]]


def test_buffer_timeout_zero_sends_a_buffer_per_element():
    out, producer = writer(FORWARD, partitions=1, timeout_ms=0)
    for word in ("a", "b", "c"):
        out.collect(word)
    assert [b[4] for _, b in producer.buffers()] == [["a"], ["b"], ["c"]]



def test_a_buffer_over_the_record_limit_goes_out_in_halves_in_order_and_numbered():
    """The first buffers are sized by a guess (64 elements): 64 elements of 20 KB are over the
    1 MB a Kafka record may hold, so the buffer is split, each half numbered in turn."""
    out, producer = writer(FORWARD, partitions=1)
    elements = [f"{i:05d}" + "x" * 20_000 for i in range(64)]
    for element in elements:
        out.collect(element)
    sent = producer.buffers()
    assert len(sent) > 1 and [e for _, b in sent for e in b[4]] == elements
    assert [b[2] for _, b in sent] == list(range(len(sent)))
    assert all(len(encode_buffer(b, b"")) <= MAX_BUFFER_BYTES for _, b in sent)


def test_one_element_over_the_record_limit_fails_clearly_and_takes_no_sequence_number():
    out, producer = writer(FORWARD, partitions=1, timeout_ms=0)
    with pytest.raises(EdgeRecordTooLargeError, match=r"an element of \d+ bytes pickled is over the 999000 bytes"):
        out.collect("x" * 1_000_000)
    out.collect("fits")
    assert producer.buffers() == [(0, (3, 0, 0, None, ["fits"]))]


def test_a_buffer_librdkafka_refuses_fails_the_task_and_leaves_no_gap():
    out, producer = writer(FORWARD, partitions=1, timeout_ms=0)
    refused = KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION))
    producer.produce = lambda *args, **kwargs: (_ for _ in ()).throw(refused)
    with pytest.raises(DeliveryFailedError, match=r"edge edge\[0\]: librdkafka refused a buffer of 1 elements"):
        out.collect("a")
    assert out._sequences == [0]
