"""What a sink checks when an element is collected: nothing Kafka would refuse enters a checkpoint."""

import pytest

from strom.api import KafkaRecordSerializationSchema
from strom.errors import SinkRecordError
from strom.runtime.sinks import RECORD_OVERHEAD_BYTES, SinkSerializer, batch_size_config


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
