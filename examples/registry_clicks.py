"""Clicks per user, Avro in and out through a schema registry (the Confluent wire format).

    ops/stack up        # Kafka, ZooKeeper, Redis and the schema registry (Apicurio, port 8085)
    .venv/bin/python examples/registry_clicks.py produce --topic clicks --count 1000 --bad 2
    strom run -p 2 examples/registry_clicks.py -- --input clicks --output clicks-per-user

The input values are Avro records ``{"user": string, "url": string, "ts": long}`` written by
any Confluent-compatible producer (confluent-kafka's ``AvroSerializer``, Java's
``KafkaAvroSerializer``...): magic byte, schema id, payload. The job reads each with its writer
schema from the registry, counts clicks per user and writes ``{"user", "clicks"}`` records
(key: the user) in the same format, their schema registered as ``<output>-value``. A value
whose schema id the registry does not know, or that does not decode, goes to the dead-letter
topic (``--dead-letter-topic``) with the reason in its ``strom.error`` header.

The registry is the one of the cluster's settings (``schema_registry_config()``:
``$STROM_SCHEMA_REGISTRY_URL``, else the stack's, with the user, password and CA of
``STROM_SCHEMA_REGISTRY_*``, which ``ops/stack up --secure`` puts in ``secure.env``);
``--registry URL`` replaces its URL.
"""

import argparse
import json
import random
import sys

from strom.api import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    RegistryAvroDeserializationSchema,
    RegistryAvroSerializationSchema,
    StreamExecutionEnvironment,
    schema_registry_config,
)

CLICK_SCHEMA = json.dumps({
    "type": "record", "name": "Click", "namespace": "strom.examples",
    "fields": [{"name": "user", "type": "string"}, {"name": "url", "type": "string"},
               {"name": "ts", "type": "long"}]})

COUNT_SCHEMA = json.dumps({
    "type": "record", "name": "ClicksPerUser", "namespace": "strom.examples",
    "fields": [{"name": "user", "type": "string"}, {"name": "clicks", "type": "long"}]})


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="registry_clicks")
    parser.add_argument("--input", default="clicks", help="topic of Avro clicks (Confluent wire format)")
    parser.add_argument("--output", default="clicks-per-user", help="topic of Avro running counts per user")
    parser.add_argument("--dead-letter-topic", default="clicks-dlq", help="topic for values that do not decode")
    parser.add_argument("--registry", help="schema registry URL (Confluent API; default: the cluster's settings)")
    args = parser.parse_args(argv)
    registry = registry_of(args.registry)

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_dead_letter_topic(args.dead_letter_topic)
    source = (KafkaSource.builder().set_topics(args.input)
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(RegistryAvroDeserializationSchema(registry))
              .build())
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(args.output)
        .set_key_serialization_schema(lambda count: count["user"].encode())
        .set_value_serialization_schema(RegistryAvroSerializationSchema(registry, COUNT_SCHEMA, topic=args.output))
        .build()).build()

    (env.from_source(source, source_name="clicks").uid("clicks")
        .map(lambda click: {"user": click["user"], "clicks": 1}).name("one click").uid("one")
        .key_by(lambda count: count["user"])
        .reduce(lambda a, b: {"user": a["user"], "clicks": a["clicks"] + b["clicks"]}).name("count").uid("count")
        .sink_to(sink).name("clicks per user").uid("sink"))
    env.execute("RegistryClicks")


def registry_of(url: str | None) -> dict:
    """The cluster's schema registry configuration (credentials included), with ``url`` if given."""
    return {**schema_registry_config(), **({"url": url} if url else {})}


def produce_clicks(bootstrap: str, registry: dict, topic: str, count: int, bad: int, seed: int = 1) -> None:
    """Write ``count`` random clicks to ``topic`` (2 partitions if new) as a Confluent producer
    does (confluent-kafka's ``AvroSerializer``, subject ``<topic>-value``), then ``bad`` values
    that the job dead-letters: an unregistered schema id, and bytes not in the wire format."""
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from strom.io.client_config import kafka_client_config
    from strom.io.kafka import TopicSpec, ensure_topics

    ensure_topics(bootstrap, [TopicSpec(topic, 2)])
    serialize = AvroSerializer(SchemaRegistryClient(registry), CLICK_SCHEMA)
    ctx = SerializationContext(topic, MessageField.VALUE)
    rng = random.Random(seed)
    producer = Producer(kafka_client_config(bootstrap, {"linger.ms": 20}))
    for i in range(count):
        click = {"user": f"user-{rng.randrange(20)}", "url": f"/page/{rng.randrange(100)}", "ts": 1_700_000_000_000 + i}
        producer.produce(topic, serialize(click, ctx))
    bad_values = [b"\x00" + (2_000_000_000 + i).to_bytes(4, "big") + b"\x02x" if i % 2 == 0 else b"plain text"
                  for i in range(bad)]
    for value in bad_values:
        producer.produce(topic, value)
    if producer.flush(60):
        raise RuntimeError(f"records not delivered to {topic}")


def cli(argv: list[str]) -> None:
    from strom.config import Configuration, KafkaOptions

    parser = argparse.ArgumentParser(prog="registry_clicks.py", description="Input loader of the registry-clicks "
                                     "job; the job itself runs with `strom run examples/registry_clicks.py`.")
    commands = parser.add_subparsers(dest="command", required=True)
    load = commands.add_parser("produce", help="write random Avro clicks (Confluent wire format) to a topic")
    load.add_argument("--topic", default="clicks")
    load.add_argument("--count", type=int, default=1000, help="clicks to write (default 1000)")
    load.add_argument("--bad", type=int, default=0, help="values to write that the job dead-letters (default 0)")
    load.add_argument("--registry", help="schema registry URL (default: the cluster's settings)")
    load.add_argument("--bootstrap", help="Kafka bootstrap servers (default: STROM_KAFKA_BOOTSTRAP / strom config)")
    args = parser.parse_args(argv)
    bootstrap = args.bootstrap or Configuration().get(KafkaOptions.BOOTSTRAP)
    registry = registry_of(args.registry)
    produce_clicks(bootstrap, registry, args.topic, args.count, args.bad)
    print(f"produced {args.count} clicks and {args.bad} bad values to {args.topic} (schema subject "
          f"{args.topic}-value at {registry['url']})")


if __name__ == "__main__":
    cli(sys.argv[1:])
