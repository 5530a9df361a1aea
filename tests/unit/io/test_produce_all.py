"""produce_all: batches of records without a timestamp, in order, never more than the queue holds."""

import pytest
from confluent_kafka import KafkaError, KafkaException

from strom.io.kafka import produce_all


class Producer:
    """Records as librdkafka would queue them: (key, value, timestamp or None), and each call."""

    def __init__(self, queue_records: int = 100, refuse: bool = False) -> None:
        self.queued: list[tuple] = []
        self.calls: list[str] = []
        self.in_queue, self.queue_records, self.refuse = 0, queue_records, refuse

    def __len__(self) -> int:
        return self.in_queue

    def poll(self, timeout: float) -> int:
        self.in_queue = max(0, self.in_queue - 10)  # deliveries make room
        return 0

    def produce(self, topic, value, key=None, timestamp=0):
        self.calls.append("produce")
        self.queued.append((key, value, timestamp))
        self.in_queue += 1

    def produce_batch(self, topic, messages):
        assert self.in_queue + len(messages) <= self.queue_records, "a batch the queue has no room for"
        self.calls.append(f"batch of {len(messages)}")
        for message in messages:
            if self.refuse:
                message["_error"] = KafkaError(KafkaError.MSG_SIZE_TOO_LARGE)
                continue
            self.queued.append((message.get("key"), message["value"], None))
        self.in_queue += len(messages)
        return sum("_error" not in m for m in messages)


def test_records_without_a_timestamp_go_in_batches_and_keep_their_order():
    records = [(b"a", b"1", 0), (None, b"2", 0), (b"b", b"3", 1700000000000), (b"c", b"4", 0)]
    producer = Producer()
    produce_all(producer, "out", records)
    assert producer.queued == [(b"a", b"1", None), (None, b"2", None), (b"b", b"3", 1700000000000),
                               (b"c", b"4", None)]
    assert producer.calls == ["batch of 2", "produce", "batch of 1"]


def test_a_batch_waits_for_room_in_the_queue():
    producer = Producer(queue_records=50)
    producer.in_queue = 45
    produce_all(producer, "out", [(None, b"%d" % i, 0) for i in range(20)], queue_records=50)
    assert [value for _key, value, _ts in producer.queued] == [b"%d" % i for i in range(20)]
    assert producer.in_queue <= 50


def test_a_record_librdkafka_refuses_raises():
    with pytest.raises(KafkaException):
        produce_all(Producer(refuse=True), "out", [(None, b"x", 0)])
