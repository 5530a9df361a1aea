"""Schema Registry formats: Avro, JSON Schema and Protobuf in the Confluent wire format.

A record's value is a magic byte ``0``, the 4-byte big-endian id of its writer schema in a
schema registry, then the encoded payload (Protobuf adds its message indexes). These schemas
wrap ``confluent_kafka.schema_registry``'s ``AvroSerializer``/``AvroDeserializer``,
``JSONSerializer``/``JSONDeserializer`` and ``ProtobufSerializer``/``ProtobufDeserializer`` and
have the shape of the other formats (:mod:`strom.api.serialization`), so they plug into
``KafkaSource.builder().set_value_only_deserializer(...)`` and
``KafkaRecordSerializationSchema.builder().set_value_serialization_schema(...)``::

    registry = {"url": "http://127.0.0.1:8085/apis/ccompat/v7"}     # + auth, TLS: see below
    source = (KafkaSource.builder().set_topics("clicks")
              .set_value_only_deserializer(RegistryAvroDeserializationSchema(registry)).build())
    sink_schema = RegistryAvroSerializationSchema(registry, CLICK_AVSC, topic="clicks-out")

``registry`` is a URL or the configuration dict of a ``SchemaRegistryClient``, passed through
unchanged: ``url``, ``basic.auth.credentials.source`` and ``basic.auth.user.info``,
``bearer.auth.*`` (static token or OAuth client credentials), ``ssl.ca.location``,
``ssl.certificate.location``, ``ssl.key.location``, ``timeout``, ``max.retries``, ... Its
secrets travel with the job (the TaskManagers need them) but are never shown: ``repr`` and
error messages redact them. ``conf`` is the wrapped (de)serializer's configuration:
``auto.register.schemas``, ``use.latest.version``, ``normalize.schemas``, and the subject name
strategy as ``subject.name.strategy`` (``topic_subject_name_strategy``: ``<topic>-value``,
``record_subject_name_strategy`` or ``topic_record_subject_name_strategy`` from
``confluent_kafka.schema_registry``, or your own function; confluent-kafka's default asks the
registry for a subject associated with the topic and falls back to ``<topic>-value``).

Objects are cloudpickled with the job and shipped to the TaskManagers: the registry client
and the wrapped (de)serializer are made on first use in each process, never pickled.

A value that cannot be read raises :class:`RegistryDeserializationError` naming the format,
the schema id and the reason (not in the wire format, schema id unknown to the registry,
payload that does not decode with the writer schema); the Kafka source routes such records
to the job's dead-letter topic with that message in the ``strom.error`` header. Registry
outages (connection refused, HTTP 5xx) are retried by the client (``max.retries``); if the
registry still does not answer, :class:`~strom.errors.ServiceUnavailableError` fails the task,
which restarts from its last checkpoint and reads the record again: an outage never
dead-letters good records.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from typing import Any

from strom.config import redacted_properties, redacted_url
from strom.errors import ServiceUnavailableError

RegistryConfig = str | Mapping[str, Any]

#: Registry client settings that are secrets although :func:`strom.config.redacted_properties`
#: does not recognise their names ("user.info" holds ``user:password``).
_SECRET_KEYS = ("basic.auth.user.info",)


class RegistryDeserializationError(ValueError):
    """A value in the Confluent wire format could not be read: ``schema_id`` (None when the
    value does not even carry one) and ``reason`` say why; ``str()`` names both and the format."""

    def __init__(self, fmt: str, schema_id: int | None, reason: str) -> None:
        self.format, self.schema_id, self.reason = fmt, schema_id, reason
        where = f"schema id {schema_id}" if schema_id is not None else "no schema id"
        super().__init__(f"{fmt} value with {where}: {reason}")


def registry_config(registry: RegistryConfig) -> dict[str, Any]:
    """``registry`` as a ``SchemaRegistryClient`` configuration: a URL becomes ``{"url": URL}``.

    Raises ValueError when there is no ``url``.
    """
    conf = {"url": registry} if isinstance(registry, str) else dict(registry)
    if not conf.get("url"):
        raise ValueError("a schema registry configuration needs a 'url'")
    return conf


def redacted_registry_config(conf: Mapping[str, Any]) -> dict[str, Any]:
    """``conf`` as it may be shown: secret values as ``***``, the password of a URL hidden.

    >>> redacted_registry_config({"url": "https://u:pw@sr:8081", "basic.auth.user.info": "u:pw"})
    {'url': 'https://u:***@sr:8081', 'basic.auth.user.info': '***'}
    """
    shown = redacted_properties({k: str(v) for k, v in conf.items()})
    return {k: ("***" if k in _SECRET_KEYS else redacted_url(v) if k == "url" else v) for k, v in shown.items()}


_clients: dict[tuple[tuple[str, str], ...], Any] = {}
_clients_lock = threading.Lock()


def registry_client(conf: Mapping[str, Any]) -> Any:
    """The ``SchemaRegistryClient`` of this process for ``conf``, made on first use and shared by
    every format with the same configuration (one schema cache per registry and process).

    A ``mock://SCOPE`` url gives confluent-kafka's in-memory ``MockSchemaRegistryClient`` (for
    tests), shared the same way within the process.
    """
    key = tuple(sorted((k, repr(v)) for k, v in conf.items()))
    with _clients_lock:
        if key not in _clients:
            from confluent_kafka.schema_registry import SchemaRegistryClient
            _clients[key] = SchemaRegistryClient.new_client(dict(conf))
        return _clients[key]


def _schema_id(fmt: str, data: bytes) -> int | None:
    """The schema id a value in the Confluent wire format starts with, or None if it has none."""
    from confluent_kafka.schema_registry.serde import SchemaId
    schema_id = SchemaId(fmt.upper())
    try:
        schema_id.from_bytes(io.BytesIO(data))
    except Exception:  # too short, wrong magic byte, truncated Protobuf message indexes
        return None
    return schema_id.id


class _RegistryFormat:
    """What the formats share: the registry configuration, a client and a wrapped
    (de)serializer made lazily (per process), pickling without them, and a redacted ``repr``."""

    FORMAT = ""

    def __init__(self, registry: RegistryConfig, conf: Mapping[str, Any] | None) -> None:
        self.registry = registry_config(registry)
        self.conf = dict(conf or {})
        self._client: Any = None
        self._impl: Callable[..., Any] | None = None

    def client(self) -> Any:
        """This process's ``SchemaRegistryClient`` for :attr:`registry` (see :func:`registry_client`)."""
        if self._client is None:
            self._client = registry_client(self.registry)
        return self._client

    def _make(self) -> Callable[..., Any]:
        raise NotImplementedError

    def _wrapped(self) -> Callable[..., Any]:
        if self._impl is None:
            self._impl = self._make()
        return self._impl

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None, "_impl": None}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(registry={redacted_registry_config(self.registry)!r})"


class _RegistryDeserializationSchema(_RegistryFormat):
    """``deserialize(bytes) -> element``; raises :class:`RegistryDeserializationError`."""

    def __init__(self, registry: RegistryConfig, conf: Mapping[str, Any] | None, topic: str | None) -> None:
        super().__init__(registry, conf)
        self.topic = topic

    def deserialize(self, data: bytes) -> Any:
        """The element the value ``data`` encodes (a dict for Avro and JSON, a message for Protobuf).

        Raises :class:`RegistryDeserializationError` naming the schema id and the reason (the
        source dead-letters the record), :class:`~strom.errors.ServiceUnavailableError` when the
        registry does not answer or answers 5xx (the task fails and restarts: nothing is dead-lettered).
        """
        from confluent_kafka.schema_registry import SchemaRegistryError

        # The HTTP library the registry client itself uses (httpx, or its fork httpx2).
        from confluent_kafka.schema_registry.common._httpx_compat import httpx
        from confluent_kafka.serialization import MessageField, SerializationContext
        # A context even without a topic: confluent-kafka's default subject name strategy requires
        # one, and a None topic means "no subject" (no rules, no latest-version lookups).
        ctx = SerializationContext(self.topic, MessageField.VALUE)  # type: ignore[arg-type]
        try:
            return self._wrapped()(data, ctx)
        except httpx.TransportError as exc:  # no answer: the registry's fault, not the record's
            raise ServiceUnavailableError(f"schema registry at {redacted_url(self.registry['url'])} did not "
                                          f"answer: {type(exc).__name__}: {exc}") from exc
        except SchemaRegistryError as exc:
            schema_id = _schema_id(self.FORMAT, data)
            if exc.http_status_code >= 500:
                raise ServiceUnavailableError(f"schema registry at {redacted_url(self.registry['url'])}: "
                                              f"HTTP {exc.http_status_code} for schema id {schema_id}") from exc
            if exc.http_status_code == 404:
                reason = (f"not found in the registry at {redacted_url(self.registry['url'])} "
                          f"(HTTP 404, SR code {exc.error_code}: {exc.error_message})")
            else:
                reason = f"registry error: {exc}"
            raise RegistryDeserializationError(self.FORMAT, schema_id, reason) from exc
        except Exception as exc:
            if not data or data[0] != 0 or len(data) < 5:
                got = ("empty" if not data else f"starts with byte 0x{data[0]:02x}, expected magic byte 0x00"
                       if data[0] != 0 else f"{len(data)} bytes, shorter than its 5-byte header")
                reason = f"not in the Confluent wire format ({got})"
                raise RegistryDeserializationError(self.FORMAT, None, reason) from exc
            reason = f"payload does not decode with the writer schema: {type(exc).__name__}: {exc}"
            raise RegistryDeserializationError(self.FORMAT, _schema_id(self.FORMAT, data), reason) from exc


class _RegistrySerializationSchema(_RegistryFormat):
    """``serialize(element) -> bytes`` for ``topic`` (the subject name strategy's input)."""

    def __init__(self, registry: RegistryConfig, conf: Mapping[str, Any] | None, topic: str,
                 is_key: bool) -> None:
        super().__init__(registry, conf)
        if not topic:
            raise ValueError("a registry serialization schema needs the topic it writes to "
                             "(the subject name strategy derives the subject from it)")
        self.topic, self.is_key = topic, is_key

    def serialize(self, element: Any) -> bytes:
        """``element`` in the Confluent wire format; registers its schema under the subject of
        ``topic`` first if ``auto.register.schemas`` (the default).

        Raises ``confluent_kafka.serialization.SerializationError`` (or ``SchemaRegistryError``)
        when ``element`` does not fit the schema or the registry refuses it.
        """
        from confluent_kafka.serialization import MessageField, SerializationContext
        field = MessageField.KEY if self.is_key else MessageField.VALUE
        data = self._wrapped()(element, SerializationContext(self.topic, field))
        return b"" if data is None else bytes(data)


class RegistryAvroDeserializationSchema(_RegistryDeserializationSchema):
    """Avro values in the Confluent wire format, read with their writer schema from the registry
    (Flink's ``ConfluentRegistryAvroDeserializationSchema.forGeneric``) -> dict.

    ``reader_schema``: an Avro schema (JSON text) to resolve the writer's into (schema
    evolution); default: the writer's. ``topic``: the topic read, given to the wrapped
    deserializer's context (needed only with ``use.latest.version`` and rules).
    """

    FORMAT = "Avro"

    def __init__(self, registry: RegistryConfig, reader_schema: str | None = None,
                 conf: Mapping[str, Any] | None = None, topic: str | None = None) -> None:
        super().__init__(registry, conf, topic)
        self.reader_schema = reader_schema

    def _make(self) -> Callable[..., Any]:
        from confluent_kafka.schema_registry.avro import AvroDeserializer
        return AvroDeserializer(self.client(), self.reader_schema, conf=self.conf or None)


class RegistryAvroSerializationSchema(_RegistrySerializationSchema):
    """dict -> Avro in the Confluent wire format, with ``schema`` (Avro schema as JSON text)
    registered under the subject of ``topic`` (Flink's
    ``ConfluentRegistryAvroSerializationSchema.forGeneric``). ``is_key``: for record keys
    (subject ``<topic>-key``)."""

    FORMAT = "Avro"

    def __init__(self, registry: RegistryConfig, schema: str, topic: str,
                 conf: Mapping[str, Any] | None = None, is_key: bool = False) -> None:
        super().__init__(registry, conf, topic, is_key)
        self.schema = schema

    def _make(self) -> Callable[..., Any]:
        from confluent_kafka.schema_registry.avro import AvroSerializer
        return AvroSerializer(self.client(), self.schema, conf=self.conf or None)


class RegistryJsonDeserializationSchema(_RegistryDeserializationSchema):
    """JSON Schema values in the Confluent wire format -> the decoded JSON (dict, list, ...).

    ``schema``: the JSON Schema (text) to validate against; default: the writer's, fetched
    from the registry by the value's schema id. Validation failures are dead-lettered.
    """

    FORMAT = "JSON"

    def __init__(self, registry: RegistryConfig, schema: str | None = None,
                 conf: Mapping[str, Any] | None = None, topic: str | None = None) -> None:
        super().__init__(registry, conf, topic)
        self.schema = schema

    def _make(self) -> Callable[..., Any]:
        from confluent_kafka.schema_registry.json_schema import JSONDeserializer
        return JSONDeserializer(self.schema, schema_registry_client=self.client(), conf=self.conf or None)


class RegistryJsonSerializationSchema(_RegistrySerializationSchema):
    """JSON-serializable element -> JSON in the Confluent wire format, validated against
    ``schema`` (JSON Schema text, with a ``title``: the record-name strategies use it) and
    registered under the subject of ``topic``."""

    FORMAT = "JSON"

    def __init__(self, registry: RegistryConfig, schema: str, topic: str,
                 conf: Mapping[str, Any] | None = None, is_key: bool = False) -> None:
        super().__init__(registry, conf, topic, is_key)
        self.schema = schema

    def _make(self) -> Callable[..., Any]:
        from confluent_kafka.schema_registry.json_schema import JSONSerializer
        return JSONSerializer(self.schema, self.client(), conf=self.conf or None)


class RegistryProtobufDeserializationSchema(_RegistryDeserializationSchema):
    """Protobuf values in the Confluent wire format -> instances of ``message_type`` (a generated
    message class; its module must be importable on the TaskManagers).

    ``lookup_writer_schema``: fetch the writer schema by id (``?format=serialized``), so an
    unknown id is an error as for the other formats, and rules apply. False decodes with
    ``message_type`` alone, the schema id unchecked: needed with Apicurio Registry 3.3's
    Confluent API, which answers that request with HTTP 500 for schemas registered by
    confluent-kafka-python (it stores them as base64 descriptors it cannot parse back).
    """

    FORMAT = "Protobuf"

    def __init__(self, registry: RegistryConfig, message_type: type, conf: Mapping[str, Any] | None = None,
                 topic: str | None = None, lookup_writer_schema: bool = True) -> None:
        super().__init__(registry, conf, topic)
        self.message_type, self.lookup_writer_schema = message_type, lookup_writer_schema

    def _make(self) -> Callable[..., Any]:
        from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
        return ProtobufDeserializer(self.message_type, self.conf or None,
                                    schema_registry_client=self.client() if self.lookup_writer_schema else None)


class RegistryProtobufSerializationSchema(_RegistrySerializationSchema):
    """Protobuf message -> Confluent wire format, its ``.proto`` (and imports, as schema
    references) registered under the subject of ``topic``. ``message_type``: the generated class."""

    FORMAT = "Protobuf"

    def __init__(self, registry: RegistryConfig, message_type: type, topic: str,
                 conf: Mapping[str, Any] | None = None, is_key: bool = False) -> None:
        super().__init__(registry, conf, topic, is_key)
        self.message_type = message_type

    def _make(self) -> Callable[..., Any]:
        from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
        return ProtobufSerializer(self.message_type, self.client(), conf=self.conf or None)
