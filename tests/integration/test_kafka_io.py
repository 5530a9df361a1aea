"""strom.io.kafka against the real broker."""

import uuid

import pytest
from confluent_kafka.admin import AdminClient

from strom.config import Configuration, KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics


def test_ensure_topics_takes_a_topic_named_twice_once(stack):
    """Two sinks writing one topic name it twice; Kafka refuses a CreateTopics request that does."""
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    name = f"twice-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(name, 3), TopicSpec(name, 3)])
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    assert len(topics[name].partitions) == 3
    with pytest.raises(ValueError, match="wanted with 3 and 4 partitions"):
        ensure_topics(bootstrap, [TopicSpec(name, 3), TopicSpec(name, 4)])
