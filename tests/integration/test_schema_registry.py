"""Schema Registry formats against the real registry ops/stack runs (Apicurio Registry, its
Confluent-compatible API): Avro produced with confluent-kafka's AvroSerializer is read and
counted by a Strom job, values with an unknown schema id or not in the wire format land in the
dead-letter topic with the reason; JSON Schema and Protobuf round-trip through the registry."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from strom.api.schema_registry import (
    RegistryDeserializationError,
    RegistryJsonDeserializationSchema,
    RegistryJsonSerializationSchema,
    RegistryProtobufDeserializationSchema,
    RegistryProtobufSerializationSchema,
)
from strom.config import Configuration, KafkaOptions
from strom.io.kafka import TopicSpec, ensure_topics, read_to_end
from strom.stack.components import StackSettings

from ..unit.protobuf_messages import click_message_type
from .conftest import TestCluster

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "registry_clicks.py")
UNKNOWN_ID = 2_000_000_123


@pytest.fixture(scope="module")
def registry_url(stack) -> str:
    return StackSettings.from_config(Configuration()).registry_url


@pytest.fixture
def topics(cluster: TestCluster):
    """Input, output and dead-letter topic of one run, deleted after it."""
    run = uuid.uuid4().hex[:8]
    names = (f"sr-clicks-{run}", f"sr-counts-{run}", f"sr-dlq-{run}")
    yield names
    admin = AdminClient({"bootstrap.servers": cluster.config.get(KafkaOptions.BOOTSTRAP)})
    existing = set(admin.list_topics(timeout=10).topics)
    for future in admin.delete_topics([t for t in names if t in existing]).values():
        future.result(timeout=30)


def test_avro_from_a_confluent_producer_is_counted_and_unreadable_values_are_dead_lettered(
        cluster: TestCluster, registry_url: str, topics: tuple[str, str, str]):
    from examples.registry_clicks import CLICK_SCHEMA  # the job's own schema, as producers would share it
    cluster.start_standard(task_managers=2, slots=2)
    bootstrap = cluster.config.get(KafkaOptions.BOOTSTRAP)
    source, sink, dlq = topics
    ensure_topics(bootstrap, [TopicSpec(source, 2)])

    # A producer as any Confluent shop has it: confluent-kafka's AvroSerializer, subject <topic>-value.
    client = SchemaRegistryClient({"url": registry_url})
    serialize = AvroSerializer(client, CLICK_SCHEMA)
    ctx = SerializationContext(source, MessageField.VALUE)
    rng = random.Random(7)
    clicks = [{"user": f"user-{rng.randrange(12)}", "url": f"/p/{rng.randrange(50)}", "ts": 1_700_000_000_000 + i}
              for i in range(400)]
    values = [serialize(click, ctx) for click in clicks]
    schema_id = int.from_bytes(values[0][1:5], "big")
    unknown = b"\x00" + UNKNOWN_ID.to_bytes(4, "big") + values[0][5:]  # valid payload, id never registered
    plain = b"not the wire format"
    truncated = values[1][:7]  # the registered id, a payload cut short
    producer = Producer({"bootstrap.servers": bootstrap})
    for value in values[:150]:
        producer.produce(source, value, partition=0)
    for value in (unknown, plain, truncated):
        producer.produce(source, value, partition=1)
    for value in values[150:]:
        producer.produce(source, value, partition=1)
    assert producer.flush(30) == 0

    result = cluster.strom("run", "-p", "2", EXAMPLE, "--", "--input", source, "--output", sink,
                           "--dead-letter-topic", dlq, "--registry", registry_url)
    assert result.returncode == 0, result.stdout + result.stderr + cluster.logs()
    assert "FINISHED" in result.stdout

    # Output: Avro in the wire format, its schema registered by the job as <sink>-value.
    deserialize = AvroDeserializer(client)
    out_ctx = SerializationContext(sink, MessageField.VALUE)
    counts: dict[str, int] = {}
    records = read_to_end(bootstrap, sink, timeout_s=60)
    for record in records:
        count = deserialize(record.value(), out_ctx)
        assert record.key().decode() == count["user"]
        counts[count["user"]] = count["clicks"]  # running counts: the last one per user is final
    expected = Counter(click["user"] for click in clicks)
    assert counts == dict(expected) and len(records) == len(clicks)
    assert f"{sink}-value" in client.get_subjects()

    dead = {record.value(): dict(record.headers()) for record in read_to_end(bootstrap, dlq, timeout_s=60)}
    assert set(dead) == {unknown, plain, truncated}
    errors = {value: headers["strom.error"].decode() for value, headers in dead.items()}
    assert errors[unknown].startswith(f"RegistryDeserializationError: Avro value with schema id {UNKNOWN_ID}: "
                                      "not found in the registry at "), errors[unknown]
    assert errors[plain] == ("RegistryDeserializationError: Avro value with no schema id: not in the Confluent "
                             "wire format (starts with byte 0x6e, expected magic byte 0x00)")
    assert errors[truncated].startswith(f"RegistryDeserializationError: Avro value with schema id {schema_id}: "
                                        "payload does not decode with the writer schema: "), errors[truncated]
    assert dead[unknown]["strom.source"] == f"{source}/1/0".encode()


def test_json_schema_and_protobuf_round_trip_through_the_registry(registry_url: str):
    topic = f"sr-formats-{uuid.uuid4().hex[:8]}"
    schema = json.dumps({"title": "Reading", "type": "object", "required": ["sensor", "value"],
                         "properties": {"sensor": {"type": "string"}, "value": {"type": "number"}}})
    data = RegistryJsonSerializationSchema(registry_url, schema, topic=topic).serialize({"sensor": "s1", "value": 2.5})
    assert RegistryJsonDeserializationSchema(registry_url).deserialize(data) == {"sensor": "s1", "value": 2.5}
    with pytest.raises(RegistryDeserializationError, match=rf"JSON value with schema id {UNKNOWN_ID}: not found"):
        RegistryJsonDeserializationSchema(registry_url).deserialize(b"\x00" + UNKNOWN_ID.to_bytes(4, "big") + b"{}")

    click = click_message_type()
    data = RegistryProtobufSerializationSchema(registry_url, click, topic=f"{topic}-pb").serialize(click(user="a", n=3))
    # Apicurio 3.3 cannot return confluent-kafka's base64 descriptors (?format=serialized): decode by type only
    decoded = RegistryProtobufDeserializationSchema(registry_url, click, lookup_writer_schema=False).deserialize(data)
    assert (decoded.user, decoded.n) == ("a", 3)
    assert f"{topic}-value" in SchemaRegistryClient({"url": registry_url}).get_subjects()
