"""What a sink checks when an element is collected (nothing Kafka would refuse enters a checkpoint),
and when an at-least-once sink hands its records to the producer."""

import pytest

from strom.api import KafkaRecordSerializationSchema
from strom.api.connectors import KafkaSink
from strom.errors import SinkRecordError
from strom.runtime.sinks import RECORD_OVERHEAD_BYTES, KafkaSinkWriter, SinkSerializer, batch_size_config
from strom.runtime.windows import RecordClock


def serializer(limit=1_000_000, value=lambda e: e, key=None):
    builder = KafkaRecordSerializationSchema.builder().set_topic("out").set_value_serialization_schema(value)
    if key is not None:
        builder = builder.set_key_serialization_schema(key)
    return SinkSerializer(builder.build(), limit)


def test_bytes_under_the_limit_pass_as_key_and_value():
    assert serializer(key=lambda e: e[:1])(b"word") == (b"w", b"word")
    assert serializer(limit=RECORD_OVERHEAD_BYTES + 4)(b"word") == (None, b"word")


def test_a_value_that_is_not_bytes_is_refused_naming_the_topic_and_the_type():
    with pytest.raises(SinkRecordError, match="sink to out: the value serializer returned str, not bytes"):
        serializer()("word")
    with pytest.raises(SinkRecordError, match="the key serializer returned int, not bytes"):
        serializer(key=len)(b"word")


def test_a_record_over_the_topics_limit_is_refused_with_its_size():
    with pytest.raises(SinkRecordError, match=r"a record of 400 bytes \(value 300, with framing\) is over the 200"):
        serializer(limit=200)(b"y" * 300)


def test_batches_are_capped_only_for_topics_smaller_than_the_producers_requests():
    assert batch_size_config(200) == {"batch.size": 200}
    assert batch_size_config(1_000_000) == {}


class QueueingProducer:
    """What an at-least-once sink hands librdkafka: (key, value, timestamp or None) in order."""

    def __init__(self):
        self.queued = []

    def __len__(self):
        return len(self.queued)

    def produce(self, topic, value, key=None, timestamp=0):
        self.queued.append((key, value, timestamp))

    def produce_batch(self, topic, messages):
        self.queued += [(m.get("key"), m["value"], None) for m in messages]
        return len(messages)


def test_an_at_least_once_sink_produces_in_batches_when_flushed_and_before_its_snapshot():
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic("out").set_value_serialization_schema(lambda e: e)
        .build()).build()
    producer, clock = QueueingProducer(), RecordClock()
    writer = KafkaSinkWriter(producer, sink, clock, 1_000_000)
    writer.collect(b"a")
    clock.timestamp = 1700000000000
    writer.collect(b"b")
    clock.timestamp = None
    writer.collect(b"c")
    assert producer.queued == []  # collected, not produced yet
    writer.flush()
    assert producer.queued == [(None, b"a", None), (None, b"b", 1700000000000), (None, b"c", None)]
    writer.collect(b"d")
    assert writer.snapshot(1) is None and producer.queued[-1] == (None, b"d", None)
