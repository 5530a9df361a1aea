"""Encoding of control messages: a versioned Avro envelope around an Avro payload.

Wire format of one Kafka record value::

    b"S" 0x01 | Avro(ControlEnvelope) where envelope.payload = Avro(<type>)

Schemas live in ``schemas/control/strom.control.<Name>.avsc`` and are read
with :func:`fastavro.schema.load_schema`, which resolves named types from the
sibling files.
"""

from __future__ import annotations

import builtins
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import fastavro
from fastavro.schema import load_schema
from fastavro.validation import validate

from strom.clock import wall_ms
from strom.control.messages import MESSAGES, ControlPayload
from strom.control.roles import Role
from strom.errors import ControlMessageError

MAGIC = b"S\x01"

# Payload types, by short name. Helper types (Role, SlotStatus, ...) are not messages.
MESSAGE_TYPES: tuple[str, ...] = tuple(MESSAGES)

P = TypeVar("P", bound=ControlPayload)


@dataclass(frozen=True)
class ControlMessage:
    """A decoded control message: envelope fields plus the payload as its Avro record (a dict)."""

    type: str
    sender_id: str
    sender_role: Role
    seq: int
    body: Mapping[str, Any]
    fencing_token: int | None = None
    target_id: str | None = None
    timestamp_ms: int = field(default_factory=wall_ms)

    def payload(self, cls: builtins.type[P]) -> P:
        """The body as the message dataclass ``cls``; ControlMessageError if this is another type."""
        if cls.type_name() != self.type:
            raise ControlMessageError(f"a {self.type} message is no {cls.type_name()}")
        return cls.from_record(self.body)


def _schema_dir():
    return resources.files("strom.schemas") / "control"


@cache
def schema(name: str) -> dict:
    """The parsed Avro schema ``strom.control.<name>``; KeyError for an unknown name."""
    path = _schema_dir() / f"strom.control.{name}.avsc"
    if not path.is_file():
        raise KeyError(name)
    with resources.as_file(path) as real_path:
        parsed = load_schema(str(real_path))
    if not isinstance(parsed, dict):  # every control schema file holds one named type
        raise ControlMessageError(f"schema {name} is a {type(parsed).__name__}, not a named type")
    return parsed


def _write(schema_: dict, record: Mapping[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema_, record)
    return buf.getvalue()


def _read(schema_: dict, data: bytes, what: str) -> dict:
    buf = io.BytesIO(data)
    try:
        record = fastavro.schemaless_reader(buf, schema_, None)
    except Exception as exc:  # fastavro raises EOFError, ValueError, IndexError, UnicodeDecodeError...
        raise ControlMessageError(f"corrupt {what}: {type(exc).__name__}: {exc}") from exc
    if buf.tell() != len(data):
        raise ControlMessageError(f"corrupt {what}: {len(data) - buf.tell()} trailing bytes")
    if not isinstance(record, dict):
        raise ControlMessageError(f"corrupt {what}: a {type(record).__name__}, not a record")
    return record


def encode(message: ControlMessage) -> bytes:
    """Serialize ``message``.

    Raises :class:`ControlMessageError` for an unknown type or a body that does
    not match its schema (the error names the field).
    """
    if message.type not in MESSAGE_TYPES:
        raise ControlMessageError(f"unknown control message type {message.type!r}")
    payload_schema = schema(message.type)
    try:
        validate(dict(message.body), payload_schema, raise_errors=True)
    except Exception as exc:
        raise ControlMessageError(f"invalid {message.type} body: {exc}") from exc
    envelope = {
        "type": message.type,
        "sender_id": message.sender_id,
        "sender_role": message.sender_role,
        "seq": message.seq,
        "fencing_token": message.fencing_token,
        "target_id": message.target_id,
        "timestamp_ms": message.timestamp_ms,
        "payload": _write(payload_schema, message.body),
    }
    return MAGIC + _write(schema("ControlEnvelope"), envelope)


def decode(data: bytes | None) -> ControlMessage:
    """Parse one control record value.

    Raises :class:`ControlMessageError` saying what is wrong; never returns a
    partially decoded message.
    """
    if not data or not data.startswith(MAGIC):
        head = (data or b"")[:8]
        raise ControlMessageError(f"not a Strom control message (starts with {head!r}, expected {MAGIC!r})")
    envelope = _read(schema("ControlEnvelope"), data[len(MAGIC):], "control envelope")
    kind = envelope["type"]
    if kind not in MESSAGE_TYPES:
        raise ControlMessageError(f"unknown control message type {kind!r} from {envelope['sender_id']}")
    body = _read(schema(kind), envelope["payload"], f"{kind} payload")
    return ControlMessage(
        type=kind,
        sender_id=envelope["sender_id"],
        sender_role=Role(envelope["sender_role"]),
        seq=envelope["seq"],
        body=body,
        fencing_token=envelope["fencing_token"],
        target_id=envelope["target_id"],
        timestamp_ms=envelope["timestamp_ms"],
    )
