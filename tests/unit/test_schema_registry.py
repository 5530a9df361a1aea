"""Schema Registry formats (strom.api.schema_registry) with confluent-kafka's in-memory mock
registry (``mock://`` urls): round trips, the errors that route a record to the dead-letter
topic, subject name strategies, pickling as a job ships them, secrets kept out of sight."""

from __future__ import annotations

import json
import pickle
import uuid

import cloudpickle
import pytest
from confluent_kafka.schema_registry import record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, SerializationError
from google.protobuf import wrappers_pb2
from protobuf_messages import click_message_type

from strom.api import KafkaRecordSerializationSchema, KafkaSource
from strom.api.schema_registry import (
    RegistryAvroDeserializationSchema,
    RegistryAvroSerializationSchema,
    RegistryDeserializationError,
    RegistryJsonDeserializationSchema,
    RegistryJsonSerializationSchema,
    RegistryProtobufDeserializationSchema,
    RegistryProtobufSerializationSchema,
    redacted_registry_config,
    registry_client,
    registry_config,
)
from strom.errors import ServiceUnavailableError

CLICK = json.dumps({"type": "record", "name": "Click", "namespace": "t",
                    "fields": [{"name": "user", "type": "string"}, {"name": "n", "type": "int"}]})
READING = json.dumps({"title": "Reading", "type": "object", "required": ["v"],
                      "properties": {"v": {"type": "integer"}}})


@pytest.fixture
def registry() -> dict[str, str]:
    """A registry of its own per test: the mock client of a ``mock://`` url, shared in-process."""
    return {"url": f"mock://{uuid.uuid4().hex}"}


def test_avro_round_trip_in_the_confluent_wire_format(registry):
    data = RegistryAvroSerializationSchema(registry, CLICK, topic="clicks").serialize({"user": "a", "n": 1})
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == registry_client(registry).get_latest_version(
        "clicks-value").schema_id
    assert RegistryAvroDeserializationSchema(registry).deserialize(data) == {"user": "a", "n": 1}


def test_avro_written_by_confluent_kafkas_serializer_is_read(registry):
    data = AvroSerializer(registry_client(registry), CLICK)({"user": "b", "n": 2},
                                                            SerializationContext("in", MessageField.VALUE))
    assert RegistryAvroDeserializationSchema(registry).deserialize(data) == {"user": "b", "n": 2}


def test_avro_reader_schema_resolves_the_writers(registry):
    data = RegistryAvroSerializationSchema(registry, CLICK, topic="clicks").serialize({"user": "a", "n": 1})
    reader = json.dumps({"type": "record", "name": "Click", "namespace": "t",
                         "fields": [{"name": "user", "type": "string"},
                                    {"name": "country", "type": "string", "default": "?"}]})
    assert RegistryAvroDeserializationSchema(registry, reader_schema=reader).deserialize(data) == {
        "user": "a", "country": "?"}


def test_json_schema_round_trip_and_validation(registry):
    serialize = RegistryJsonSerializationSchema(registry, READING, topic="readings").serialize
    assert RegistryJsonDeserializationSchema(registry).deserialize(serialize({"v": 3})) == {"v": 3}
    with pytest.raises(SerializationError, match="'three' is not of type 'integer'"):
        serialize({"v": "three"})  # the serializer validates against the schema


def test_protobuf_round_trip(registry):
    click = click_message_type()
    data = RegistryProtobufSerializationSchema(registry, click, topic="p").serialize(click(user="a", n=3))
    for lookup in (True, False):
        decoded = RegistryProtobufDeserializationSchema(registry, click, lookup_writer_schema=lookup).deserialize(data)
        assert (decoded.user, decoded.n) == ("a", 3)


def test_key_schemas_and_subject_name_strategies(registry):
    RegistryAvroSerializationSchema(registry, CLICK, topic="clicks", is_key=True).serialize({"user": "a", "n": 1})
    RegistryAvroSerializationSchema(registry, CLICK, topic="other", conf={
        "subject.name.strategy": record_subject_name_strategy}).serialize({"user": "a", "n": 1})
    assert sorted(registry_client(registry).get_subjects()) == ["clicks-key", "t.Click"]


def test_an_unknown_schema_id_names_the_id_and_the_registry(registry):
    data = b"\x00" + (4242).to_bytes(4, "big") + b"\x02a\x02"
    for schema in (RegistryAvroDeserializationSchema(registry), RegistryJsonDeserializationSchema(registry),
                   RegistryProtobufDeserializationSchema(registry, wrappers_pb2.StringValue)):
        with pytest.raises(RegistryDeserializationError) as caught:
            schema.deserialize(data)
        assert caught.value.schema_id == 4242
        assert str(caught.value).startswith(f"{schema.FORMAT} value with schema id 4242: not found in the "
                                            f"registry at {registry['url']} (HTTP 404")


def test_values_that_do_not_decode_say_why(registry):
    good = RegistryAvroSerializationSchema(registry, CLICK, topic="clicks").serialize({"user": "abc", "n": 1})
    schema = RegistryAvroDeserializationSchema(registry)
    cases = {b"": "Avro value with no schema id: not in the Confluent wire format (empty)",
             b"plain text": "Avro value with no schema id: not in the Confluent wire format (starts with byte "
                            "0x70, expected magic byte 0x00)",
             b"\x00\x00\x01": "Avro value with no schema id: not in the Confluent wire format (3 bytes, shorter "
                             "than its 5-byte header)",
             good[:7]: "Avro value with schema id 1: payload does not decode with the writer schema: EOFError"}
    for data, message in cases.items():
        with pytest.raises(RegistryDeserializationError) as caught:
            schema.deserialize(data)
        assert str(caught.value).startswith(message), caught.value
    # it is a ValueError, as the other formats' decoding errors: the source dead-letters it
    assert issubclass(RegistryDeserializationError, ValueError)


def test_schemas_pickle_without_their_client_and_work_after(registry):
    serializer = RegistryAvroSerializationSchema(registry, CLICK, topic="clicks")
    deserializer = RegistryAvroDeserializationSchema(registry)
    data = serializer.serialize({"user": "a", "n": 1})  # makes the client and the wrapped serializer
    assert serializer._client is not None and serializer._impl is not None
    for schema in (serializer, deserializer):
        shipped = pickle.loads(cloudpickle.dumps(schema))
        assert shipped._client is None and shipped._impl is None
    assert pickle.loads(cloudpickle.dumps(deserializer)).deserialize(data) == {"user": "a", "n": 1}
    # bound methods, as the sink holds them, pickle the same way
    assert pickle.loads(cloudpickle.dumps(serializer.serialize))({"user": "a", "n": 1}) == data


def test_no_client_is_made_before_first_use():
    schema = RegistryAvroDeserializationSchema({"url": "http://registry.invalid:8081"})
    assert schema._client is None and schema._impl is None


def test_usable_with_the_kafka_source_and_sink_builders(registry):
    deserializer = RegistryAvroDeserializationSchema(registry)
    source = KafkaSource.builder().set_topics("in").set_value_only_deserializer(deserializer).build()
    assert source.value_deserializer is deserializer
    serializer = RegistryAvroSerializationSchema(registry, CLICK, topic="out")
    record = (KafkaRecordSerializationSchema.builder().set_topic("out")
              .set_value_serialization_schema(serializer).build())
    assert deserializer.deserialize(record.value_serializer({"user": "z", "n": 9})) == {"user": "z", "n": 9}


def test_secrets_are_passed_through_but_never_shown():
    conf = {"url": "https://alice:pw@sr.example:8081", "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": "alice:pw", "bearer.auth.client.secret": "s3", "ssl.key.password": "k"}
    schema = RegistryAvroDeserializationSchema(conf)
    assert schema.registry == conf  # passed through unchanged to the SchemaRegistryClient
    shown = repr(schema)
    assert "pw" not in shown and "s3" not in shown and "'k'" not in shown and "alice:***@sr.example" in shown
    assert redacted_registry_config(conf)["url"] == "https://alice:***@sr.example:8081"


def test_registry_config_and_arguments_are_checked():
    assert registry_config("http://sr:8081") == {"url": "http://sr:8081"}
    with pytest.raises(ValueError, match="needs a 'url'"):
        registry_config({"basic.auth.user.info": "a:b"})
    with pytest.raises(ValueError, match="needs the topic"):
        RegistryAvroSerializationSchema("http://sr:8081", CLICK, topic="")


def test_a_registry_that_does_not_answer_is_not_the_records_fault():
    # Port 1 on loopback: connection refused at once. The task must fail and restart, not
    # dead-letter a good record (strom.runtime.io.source_reader re-raises this error).
    schema = RegistryAvroDeserializationSchema({"url": "http://127.0.0.1:1", "max.retries": 0})
    with pytest.raises(ServiceUnavailableError, match=r"schema registry at http://127\.0\.0\.1:1 did not answer"):
        schema.deserialize(b"\x00" + (7).to_bytes(4, "big") + b"\x02a")
