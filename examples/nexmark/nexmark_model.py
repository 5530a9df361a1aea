"""What the Nexmark query jobs (q0.py ... q8.py beside this file) share: their options, the
event stream read from Kafka, the event types, its bids, and a JSON sink.

The input topic holds what ``generator.py produce`` writes: JSON events
``{"event_type": 0 | 1 | 2, "person": {...} | null, "auction": {...} | null, "bid": {...} | null}``
(see generator.py for the fields); the event time is the ``dateTime`` (ms) of the event's
person, auction or bid (also its Kafka record timestamp). Watermarks trail the largest event time read by
``--out-of-orderness-ms`` (default 4 s: nexmark-flink's ``WATERMARK FOR dateTime AS dateTime -
INTERVAL '4' SECOND``); the input is bounded (read to its end at job start), and at its end every
event-time window and timer fires.

Queries that need two kinds of events (q3, q4, q8) take them from one operator that tags them,
``(kind, projection)``, and key the tagged stream, rather than branching the event stream into
two: Strom chains only linear pipelines, so each branch would be a Kafka edge carrying every event.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from strom.api import (
    DataStream,
    JsonSchema,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    StreamExecutionEnvironment,
    WatermarkStrategy,
)

PERSON, AUCTION, BID = 0, 1, 2


def parser(query: str, description: str) -> argparse.ArgumentParser:
    """The options every query takes: ``--input``, ``--output``, ``--out-of-orderness-ms``,
    ``--checkpoint-interval``."""
    options = argparse.ArgumentParser(prog=query, description=description)
    options.add_argument("--input", default="nexmark", help="topic of Nexmark events (generator.py produce)")
    options.add_argument("--output", default=f"nexmark-{query}", help="topic of the query's results (JSON)")
    options.add_argument("--out-of-orderness-ms", type=int, default=4000,
                         help="watermarks trail the largest event time by this much (default 4000)")
    options.add_argument("--checkpoint-interval", type=int, default=0, metavar="MS",
                         help="checkpoint every MS ms; the sink is then exactly-once (0 = off)")
    return options


def events(args: argparse.Namespace) -> tuple[StreamExecutionEnvironment, DataStream]:
    """The job's environment and its stream of event dicts, with their event time."""
    env = StreamExecutionEnvironment.get_execution_environment()
    if args.checkpoint_interval:
        env.enable_checkpointing(args.checkpoint_interval)
    source = (KafkaSource.builder().set_topics(args.input)
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(JsonSchema()).build())
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(args.out_of_orderness_ms)
                  .with_timestamp_assigner(event_time))
    return env, env.from_source(source, watermarks, "nexmark events").uid("events")


def event_time(event: dict, _kafka_timestamp: int) -> int:
    """The ``dateTime`` of the event's person, auction or bid (ms)."""
    return (event["bid"] or event["auction"] or event["person"])["dateTime"]


def bids(stream: DataStream) -> DataStream:
    """The bid of each bid event (a flat_map chained to the source)."""
    return stream.flat_map(lambda event: (event["bid"],) if event["event_type"] == BID else ()).name("bids").uid("bids")


def to_json(value: Any) -> bytes:
    """Compact JSON, UTF-8."""
    return json.dumps(value, separators=(",", ":")).encode()


def json_sink(topic: str, key: Callable[[Any], Any] | None = None) -> KafkaSink:
    """A sink of JSON values to ``topic``; ``key``: the element's key (written as its decimal
    string), else records without key."""
    serializer = KafkaRecordSerializationSchema.builder().set_topic(topic).set_value_serialization_schema(to_json)
    if key is not None:
        serializer = serializer.set_key_serialization_schema(lambda value: str(key(value)).encode())
    return KafkaSink.builder().set_record_serializer(serializer.build()).build()
