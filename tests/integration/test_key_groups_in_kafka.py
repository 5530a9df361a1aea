"""A keyed edge in real Kafka: the writer puts each key in partition = its key group, in buffers
a reader decodes whole."""

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from strom.config import Configuration, KafkaOptions
from strom.graph.stream_graph import HASH
from strom.io.kafka import TopicSpec, ensure_topics
from strom.runtime.deployment import OutputEdge
from strom.runtime.io.events import END_OF_PARTITION, decode_buffer
from strom.runtime.io.record_writer import RecordWriter
from strom.runtime.windows import RecordClock
from strom.state.keygroups import key_group_for


def test_each_key_lands_in_the_partition_of_its_key_group(stack):
    bootstrap = Configuration().get(KafkaOptions.BOOTSTRAP)
    topic = f"keygroups-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, [TopicSpec(topic, 128)])
    producer = Producer({"bootstrap.servers": bootstrap})
    writer = RecordWriter(producer, OutputEdge(topic, HASH, 128), 0, 1, lambda element: element[0],
                          RecordClock())
    keys = [f"word-{i}" for i in range(300)] + ["ünïcödé", 12345, ("tuple", 1), 7.0, True]
    for i, key in enumerate(keys):
        writer.collect((key, i))
    writer.broadcast_event(END_OF_PARTITION)  # sends the open buffers first
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "enable.partition.eof": True})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(128)])
    placed, ended = {}, 0
    while ended < 128:
        for message in consumer.consume(1000, timeout=5):
            if message.error() is not None:
                continue  # end of a partition
            if message.headers():
                ended += 1
                continue
            _attempt, _subtask, _sequence, _timestamps, elements = decode_buffer(message.value(), b"", "edge")
            placed.update({repr(key): message.partition() for key, _ in elements})
    consumer.close()
    assert placed == {repr(k): key_group_for(k, 128) for k in keys}
    assert len(set(placed.values())) > 100  # spread over the key groups
    assert placed[repr(7.0)] == key_group_for(7, 128) and placed[repr(True)] == key_group_for(1, 128)
