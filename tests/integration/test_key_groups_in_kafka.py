"""Keyed edges rely on librdkafka's murmur2 partitioner putting a key in partition = key group."""

import uuid

from confluent_kafka import Producer

from strom.config import Configuration, KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics
from strom.state.keygroups import key_bytes, key_group_for


def test_librdkafka_partition_equals_python_key_group(stack):
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    topic = f"keygroups-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 128)])
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random"})
    keys = [f"word-{i}" for i in range(300)] + ["ünïcödé", 12345, ("tuple", 1)]
    placed = {}
    for key in keys:
        producer.produce(topic, b"x", key=key_bytes(key),
                         on_delivery=lambda err, msg, key=key: placed.__setitem__(repr(key), msg.partition()))
    assert producer.flush(30) == 0
    assert placed == {repr(k): key_group_for(k, 128) for k in keys}
    assert len(set(placed.values())) > 100  # spread over the key groups
