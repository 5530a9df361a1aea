"""strom.io.kafka against the real broker."""

import uuid

import pytest
from confluent_kafka.admin import AdminClient

from strom.config import Configuration, KafkaOptions
from strom.errors import KafkaUnavailableError
from strom.io.kafka import KafkaPartition, TopicSpec, ensure_topics, latest_offsets


def test_ensure_topics_takes_a_topic_named_twice_once(stack):
    """Two sinks writing one topic name it twice; Kafka refuses a CreateTopics request that does."""
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    name = f"twice-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(name, 3), TopicSpec(name, 3)])
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(name, timeout=10).topics
    assert len(topics[name].partitions) == 3
    with pytest.raises(ValueError, match="wanted with 3 and 4 partitions"):
        ensure_topics(bootstrap, [TopicSpec(name, 3), TopicSpec(name, 4)])


def test_ensure_topics_leaves_existing_topics_alone_and_names_an_unreachable_broker(stack):
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    old, new = (f"ensure-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("old", "new"))
    ensure_topics(bootstrap, [TopicSpec(old, 2)])
    ensure_topics(bootstrap, [TopicSpec(old, 5), TopicSpec(new, 4)])  # "already exists" is no error
    topics = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    assert (len(topics[old].partitions), len(topics[new].partitions)) == (2, 4)
    with pytest.raises(KafkaUnavailableError, match=r"Kafka at 127\.0\.0\.1:1 did not answer in 2 s"):
        ensure_topics("127.0.0.1:1", [TopicSpec(new, 4)], timeout_s=2)


def test_ensure_topics_returns_once_the_broker_serves_every_partition(stack):
    """The metadata names a new partition's leader before the broker has created its log (about
    0.5 s for 128 partitions here). An idempotent producer's first request in that window is
    refused and one sent after it can be appended first, which loses the first without an error
    (KAFKA-15591): Strom lost the first network buffers of new intermediate partitions so. Once
    ensure_topics returns, a ListOffsets of every partition answers at once (not retried here)."""
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    name = f"served-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(name, 128)])
    ends = latest_offsets(AdminClient({"bootstrap.servers": bootstrap}), [(name, p) for p in range(128)])
    assert ends == {KafkaPartition(name, p): 0 for p in range(128)}


def test_the_stack_keeps_records_with_historical_timestamps(stack):
    """Tests and examples replay 2013 and 2023 event time as Kafka timestamps; time-based retention
    deleted whole output topics at its next check (every 5 min), so ops/stack turns it off."""
    from confluent_kafka.admin import ConfigResource
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    broker = next(iter(admin.list_topics(timeout=10).brokers))
    resource = ConfigResource(ConfigResource.Type.BROKER, str(broker))
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    assert config["log.retention.ms"].value == "-1"
