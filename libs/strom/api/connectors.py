"""Kafka connectors with PyFlink's builder shapes: KafkaSource and KafkaSink.

>>> source = (KafkaSource.builder()
...           .set_topics("lines")
...           .set_starting_offsets(KafkaOffsetsInitializer.earliest())
...           .set_bounded(KafkaOffsetsInitializer.latest())
...           .set_value_only_deserializer(SimpleStringSchema())
...           .build())
>>> sink = (KafkaSink.builder()
...         .set_record_serializer(KafkaRecordSerializationSchema.builder()
...             .set_topic("counts")
...             .set_key_serialization_schema(lambda wc: wc[0].encode())
...             .set_value_serialization_schema(lambda wc: str(wc[1]).encode())
...             .build())
...         .build())

Bootstrap servers default to the cluster's (``STROM_KAFKA_BOOTSTRAP`` of the TaskManager), and
so do the Kafka client security settings (``kafka.security.protocol``, ``kafka.sasl.*``,
``kafka.ssl.*``); ``set_property(name, value)`` overrides any librdkafka property for one
connector (another cluster's credentials, say).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strom.api.serialization import DeserializationSchema, SimpleStringSchema


class DeliveryGuarantee(enum.Enum):
    """Flink's sink guarantees. EXACTLY_ONCE needs checkpointing."""

    EXACTLY_ONCE = "exactly-once"
    AT_LEAST_ONCE = "at-least-once"
    NONE = "none"


@dataclass(frozen=True)
class KafkaOffsetsInitializer:
    """Where a source starts (``earliest``/``latest``) or, when bounded, stops (``latest``)."""

    kind: str

    @staticmethod
    def earliest() -> KafkaOffsetsInitializer:
        return KafkaOffsetsInitializer("earliest")

    @staticmethod
    def latest() -> KafkaOffsetsInitializer:
        return KafkaOffsetsInitializer("latest")


@dataclass
class KafkaSource:
    """Reads ``topics``; bounded sources stop at the end offsets seen when the job starts.
    ``rate_limit``: records/s the whole source reads at most, split evenly over its subtasks
    (None: as fast as it can)."""

    topics: list[str]
    value_deserializer: DeserializationSchema = field(default_factory=SimpleStringSchema)
    starting_offsets: KafkaOffsetsInitializer = field(default_factory=KafkaOffsetsInitializer.earliest)
    bounded: KafkaOffsetsInitializer | None = None
    bootstrap_servers: str | None = None
    properties: dict[str, str] = field(default_factory=dict, repr=False)  # may hold passwords
    rate_limit: float | None = None

    @staticmethod
    def builder() -> KafkaSourceBuilder:
        return KafkaSourceBuilder()


class KafkaSourceBuilder:
    def __init__(self) -> None:
        self._kwargs: dict[str, Any] = {"topics": []}

    def set_bootstrap_servers(self, servers: str) -> KafkaSourceBuilder:
        self._kwargs["bootstrap_servers"] = servers
        return self

    def set_topics(self, *topics: str) -> KafkaSourceBuilder:
        self._kwargs["topics"] = list(topics)
        return self

    def set_starting_offsets(self, initializer: KafkaOffsetsInitializer) -> KafkaSourceBuilder:
        self._kwargs["starting_offsets"] = initializer
        return self

    def set_bounded(self, stopping: KafkaOffsetsInitializer) -> KafkaSourceBuilder:
        if stopping.kind != "latest":
            raise ValueError("a bounded source stops at KafkaOffsetsInitializer.latest()")
        self._kwargs["bounded"] = stopping
        return self

    def set_rate_limit(self, records_per_second: float) -> KafkaSourceBuilder:
        """Read at most ``records_per_second`` over all of this source's subtasks (each takes its
        share; Flink's ``RateLimiterStrategy.perSecond``): to replay a topic at a steady pace
        instead of as one burst. Raises ValueError unless it is a positive number.

        >>> KafkaSource.builder().set_topics("t").set_rate_limit(5000).build().rate_limit
        5000.0
        """
        if not records_per_second > 0:
            raise ValueError(f"a rate limit is a positive number of records/s, got {records_per_second!r}")
        self._kwargs["rate_limit"] = float(records_per_second)
        return self

    def set_value_only_deserializer(self, schema: DeserializationSchema) -> KafkaSourceBuilder:
        self._kwargs["value_deserializer"] = schema
        return self

    def set_property(self, key: str, value: str) -> KafkaSourceBuilder:
        """A librdkafka property of this source's consumers (``sasl.username``, ``fetch.min.bytes``, ...):
        it overrides the cluster-wide ``kafka.*`` client settings and Strom's own for this source."""
        self._kwargs.setdefault("properties", {})[key] = value
        return self

    def build(self) -> KafkaSource:
        if not self._kwargs["topics"]:
            raise ValueError("KafkaSource needs at least one topic: set_topics(...)")
        return KafkaSource(**self._kwargs)


def _as_function(schema: Any) -> Callable[[Any], bytes] | None:
    if schema is None:
        return None
    return schema.serialize if hasattr(schema, "serialize") else schema


@dataclass
class KafkaRecordSerializationSchema:
    """Turns an element into a Kafka record: topic, optional key bytes, value bytes."""

    topic: str
    value_serializer: Callable[[Any], bytes]
    key_serializer: Callable[[Any], bytes] | None = None

    @staticmethod
    def builder() -> KafkaRecordSerializationSchemaBuilder:
        return KafkaRecordSerializationSchemaBuilder()


class KafkaRecordSerializationSchemaBuilder:
    def __init__(self) -> None:
        self._topic: str | None = None
        self._key: Callable[[Any], bytes] | None = None
        self._value: Callable[[Any], bytes] = SimpleStringSchema().serialize

    def set_topic(self, topic: str) -> KafkaRecordSerializationSchemaBuilder:
        self._topic = topic
        return self

    def set_key_serialization_schema(self, schema: Any) -> KafkaRecordSerializationSchemaBuilder:
        """A SerializationSchema or a function element -> bytes."""
        self._key = _as_function(schema)
        return self

    def set_value_serialization_schema(self, schema: Any) -> KafkaRecordSerializationSchemaBuilder:
        """A SerializationSchema or a function element -> bytes."""
        value = _as_function(schema)
        if value is None:
            raise ValueError("KafkaRecordSerializationSchema needs a value serializer, got None")
        self._value = value
        return self

    def build(self) -> KafkaRecordSerializationSchema:
        if not self._topic:
            raise ValueError("KafkaRecordSerializationSchema needs set_topic(...)")
        return KafkaRecordSerializationSchema(self._topic, self._value, self._key)


@dataclass
class KafkaSink:
    """Writes elements to Kafka. The delivery guarantee defaults to EXACTLY_ONCE when the job
    checkpoints and AT_LEAST_ONCE when it does not (None = that default)."""

    record_serializer: KafkaRecordSerializationSchema
    delivery_guarantee: DeliveryGuarantee | None = None
    bootstrap_servers: str | None = None
    properties: dict[str, str] = field(default_factory=dict, repr=False)  # may hold passwords

    @staticmethod
    def builder() -> KafkaSinkBuilder:
        return KafkaSinkBuilder()


class KafkaSinkBuilder:
    def __init__(self) -> None:
        self._kwargs: dict[str, Any] = {}

    def set_bootstrap_servers(self, servers: str) -> KafkaSinkBuilder:
        self._kwargs["bootstrap_servers"] = servers
        return self

    def set_record_serializer(self, schema: KafkaRecordSerializationSchema) -> KafkaSinkBuilder:
        self._kwargs["record_serializer"] = schema
        return self

    def set_delivery_guarantee(self, guarantee: DeliveryGuarantee) -> KafkaSinkBuilder:
        self._kwargs["delivery_guarantee"] = guarantee
        return self

    def set_property(self, key: str, value: str) -> KafkaSinkBuilder:
        """A librdkafka property of this sink's producer (``sasl.username``, ``compression.type``, ...):
        it overrides the cluster-wide ``kafka.*`` client settings and Strom's defaults for this sink
        (an exactly-once sink keeps its own ``transactional.id``)."""
        self._kwargs.setdefault("properties", {})[key] = value
        return self

    def build(self) -> KafkaSink:
        if "record_serializer" not in self._kwargs:
            raise ValueError("KafkaSink needs set_record_serializer(...)")
        return KafkaSink(**self._kwargs)


@dataclass
class CollectionSource:
    """Elements given in code (``env.from_collection``): what a test feeds a job with.

    ``elements``: the stream, in order. ``timestamps``: the event time (ms) of each element,
    a list as long as ``elements`` or a function ``element -> ms`` (None: no event time).
    ``watermarks``: a :class:`~strom.api.time.WatermarkStrategy` (its bound lags the largest
    timestamp seen, after every element; its timestamp assigner, ``(element, -1) -> ms``, stands
    in for ``timestamps``), or a list as long as ``elements`` of the watermark (ms, or None
    for none) to emit after each element. Runs in :func:`strom.testing.local.run_locally`
    only, not on a cluster.
    """

    elements: list[Any]
    timestamps: Any = None
    watermarks: Any = None
    local_only = True  # the job artifact refuses it (strom.graph.artifact)

    def __post_init__(self) -> None:
        for name in ("timestamps", "watermarks"):
            given = getattr(self, name)
            if isinstance(given, (list, tuple)) and len(given) != len(self.elements):
                raise ValueError(f"from_collection: {len(given)} {name} for {len(self.elements)} elements")


@dataclass
class CollectSink:
    """A sink collecting what reaches it under ``name`` (Flink's collect sink for tests): read it
    from the results of :func:`strom.testing.local.run_locally` as ``results[name]``. Runs
    locally only, not on a cluster."""

    name: str
    delivery_guarantee: DeliveryGuarantee | None = None
    local_only = True
