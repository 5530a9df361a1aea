"""(De)serialization schemas for Kafka record keys and values (Flink's SerializationSchema).

Each schema has ``serialize(element) -> bytes`` and ``deserialize(bytes) -> element``
and raises on bad input (``UnicodeDecodeError``, ``json.JSONDecodeError``,
fastavro errors); the source turns such errors into dead-letter records.

>>> SimpleStringSchema().deserialize(b"In the beginning")
'In the beginning'
>>> JsonSchema().serialize({"word": "god", "count": 2})
b'{"word":"god","count":2}'
"""

from __future__ import annotations

import io
import json
from typing import Any, Protocol

import fastavro
from fastavro.schema import load_schema


class SerializationSchema(Protocol):
    def serialize(self, element: Any) -> bytes: ...


class DeserializationSchema(Protocol):
    def deserialize(self, data: bytes) -> Any: ...


class SimpleStringSchema:
    """UTF-8 text; ``deserialize`` raises UnicodeDecodeError on invalid UTF-8. ``None`` -> ``b""``."""

    def __init__(self, charset: str = "utf-8") -> None:
        self.charset = charset

    def serialize(self, element: Any) -> bytes:
        return b"" if element is None else str(element).encode(self.charset)

    def deserialize(self, data: bytes) -> str:
        return data.decode(self.charset)


class BytesSchema:
    """Bytes passed through unchanged."""

    def serialize(self, element: bytes) -> bytes:
        return bytes(element)

    def deserialize(self, data: bytes) -> bytes:
        return data


class JsonSchema:
    """Compact JSON, UTF-8."""

    def serialize(self, element: Any) -> bytes:
        return json.dumps(element, separators=(",", ":"), ensure_ascii=False).encode()

    def deserialize(self, data: bytes) -> Any:
        return json.loads(data)


class AvroSchema:
    """Schemaless Avro with a schema read from an ``.avsc`` file (e.g. under ``schemas/``).

    Deserialization fails when the bytes do not fill the record exactly.
    """

    def __init__(self, schema_path: str) -> None:
        self.schema_path = schema_path
        self._schema = load_schema(schema_path)

    def serialize(self, element: dict) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self._schema, element)
        return buf.getvalue()

    def deserialize(self, data: bytes) -> dict:
        buf = io.BytesIO(data)
        record: dict = fastavro.schemaless_reader(buf, self._schema, None)  # type: ignore[assignment]
        if buf.tell() != len(data):
            raise ValueError(f"{len(data) - buf.tell()} trailing bytes after an Avro record "
                             f"of {self.schema_path}")
        return record
