"""The codec of network buffers and in-band events on Kafka edges (one Kafka record each).

A **buffer** (Flink's network buffer) carries consecutive stream records of one
upstream subtask for one partition. It has no headers; its value is the pickle of
``(attempt, upstream subtask, sequence, timestamps, elements)``: ``elements`` a list,
``timestamps`` the list of their timestamps (ms), or None when every one is None
(no event time), sealed (:mod:`strom.io.sealed`: 32 bytes of HMAC-SHA256 under the
cluster secret first), so whoever can write to an edge topic but lacks the secret
cannot make a TaskManager unpickle bytes of their choosing. :func:`encode_buffer`
writes it, :func:`decode_buffer` checks and reads it: one pickle call and one MAC
per buffer.

An **event** (Flink's names: :class:`CheckpointBarrier`, :class:`Watermark`,
:class:`WatermarkStatus`, :class:`EndOfPartition`) has no value and four
headers: ``strom.event`` (the event), ``strom.subtask`` (the upstream subtask
that wrote it), ``strom.attempt`` (its attempt) and ``strom.sequence``. Events go to
every partition of an edge, after the buffers written before them, so a reader tells
a buffer from an event by "has headers".

The **sequence** numbers the Kafka records (buffers and events) one upstream subtask of
one attempt wrote to one partition, from 0, as Flink numbers the buffers of a channel: a
reader that finds one missing raises :class:`~strom.errors.LostRecordsError` (Flink's
BufferReorderingException) instead of going on without it.

>>> headers = encode_event(CheckpointBarrier(7), subtask=1, attempt=2, sequence=5)
>>> decode_event(headers)
(CheckpointBarrier(checkpoint_id=7), 1, 2, 5)
>>> decode_buffer(encode_buffer((2, 1, 4, [1000, 1001], ["x", "y"]), b"secret"), b"secret", "t/0/7")
(2, 1, 4, [1000, 1001], ['x', 'y'])
>>> decode_buffer(encode_buffer((2, 1, 0, None, ["x"]), b"other"), b"secret", "buffer t/0/8")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
strom.errors.TamperedDataError: buffer t/0/8 fails its HMAC: changed outside Strom, or sealed with...
"""

from __future__ import annotations

import enum
import pickle
from dataclasses import dataclass
from typing import Any, Final

from strom.io.sealed import seal, verified

EVENT: Final = "strom.event"
SUBTASK: Final = "strom.subtask"
ATTEMPT: Final = "strom.attempt"
SEQUENCE: Final = "strom.sequence"

Buffer = tuple[int, int, int, list[int | None] | None, list[Any]]  # attempt, subtask, sequence, timestamps, elements

def encode_buffer(buffer: Buffer, secret: bytes) -> bytes:
    """A buffer's value: ``(attempt, subtask, sequence, timestamps | None, elements)`` pickled, sealed
    with ``secret``."""
    return seal(secret, pickle.dumps(buffer, protocol=5))


def decode_buffer(value: bytes, secret: bytes, where: str) -> Buffer:
    """``(attempt, subtask, sequence, timestamps | None, elements)`` of a buffer's value. Raises
    :class:`~strom.errors.TamperedDataError` naming ``where`` (topic/partition/offset) before
    anything is unpickled if the seal does not match ``secret``, else what pickle raises."""
    return pickle.loads(verified(secret, value, where))


@dataclass(frozen=True)
class CheckpointBarrier:
    """Everything before it in its channel belongs to checkpoint ``checkpoint_id``."""

    checkpoint_id: int


@dataclass(frozen=True)
class Watermark:
    """No element of its channel with a timestamp <= ``timestamp`` (ms) follows."""

    timestamp: int


class WatermarkStatus(enum.Enum):
    """IDLE: the channel sends no watermarks for now; leave it out until it is ACTIVE again
    (a :class:`Watermark` on it makes it active, too)."""

    IDLE = b"idle"
    ACTIVE = b"active"


class EndOfPartition:
    """The upstream subtask ended: nothing more follows in this channel."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END_OF_PARTITION"


END_OF_PARTITION: Final = EndOfPartition()

Event = CheckpointBarrier | Watermark | WatermarkStatus | EndOfPartition

_BARRIER, _WATERMARK, _END_OF_PARTITION = b"barrier:", b"watermark:", b"end-of-partition"


def encode_event(event: Event, subtask: int, attempt: int, sequence: int) -> list[tuple[str, bytes]]:
    """The headers of ``event`` written by ``subtask`` of attempt ``attempt`` as its record
    ``sequence`` of the partition."""
    if isinstance(event, CheckpointBarrier):
        kind = b"%s%d" % (_BARRIER, event.checkpoint_id)
    elif isinstance(event, Watermark):
        kind = b"%s%d" % (_WATERMARK, event.timestamp)
    elif isinstance(event, WatermarkStatus):
        kind = event.value
    elif isinstance(event, EndOfPartition):
        kind = _END_OF_PARTITION
    else:
        raise TypeError(f"not an event: {event!r}")
    return [(EVENT, kind), (SUBTASK, b"%d" % subtask), (ATTEMPT, b"%d" % attempt), (SEQUENCE, b"%d" % sequence)]


def decode_event(headers: list[tuple[str, bytes]]) -> tuple[Event, int, int, int]:
    """(event, upstream subtask, attempt, sequence) of an event's headers; ValueError/KeyError if malformed."""
    values = dict(headers)
    kind = values[EVENT]
    event: Event
    if kind.startswith(_BARRIER):
        event = CheckpointBarrier(int(kind[len(_BARRIER):]))
    elif kind.startswith(_WATERMARK):
        event = Watermark(int(kind[len(_WATERMARK):]))
    elif kind == _END_OF_PARTITION:
        event = END_OF_PARTITION
    else:
        event = WatermarkStatus(kind)
    return event, int(values[SUBTASK]), int(values[ATTEMPT]), int(values[SEQUENCE])
