"""The codec of stream elements and in-band events on Kafka edges (one Kafka record each).

A **stream record** has no headers; its value is the pickle of
``(attempt, upstream subtask, timestamp ms | None, element)``:
:data:`encode_record` writes it, :data:`decode_record` reads it (both are
the pickle functions themselves: no extra call per record on the hot path).

An **event** (Flink's names: :class:`CheckpointBarrier`, :class:`Watermark`,
:class:`WatermarkStatus`, :class:`EndOfPartition`) has no value and three
headers: ``strom.event`` (the event), ``strom.subtask`` (the upstream subtask
that wrote it) and ``strom.attempt`` (its attempt). Events go to every
partition of an edge, so a reader tells a record from an event by "has headers".

>>> headers = encode_event(CheckpointBarrier(7), subtask=1, attempt=2)
>>> decode_event(headers)
(CheckpointBarrier(checkpoint_id=7), 1, 2)
>>> decode_record(encode_record((2, 1, 1000, "x")))
(2, 1, 1000, 'x')
"""

from __future__ import annotations

import enum
import pickle
from dataclasses import dataclass
from functools import partial
from typing import Final

EVENT: Final = "strom.event"
SUBTASK: Final = "strom.subtask"
ATTEMPT: Final = "strom.attempt"

encode_record = partial(pickle.dumps, protocol=5)
"""``encode_record((attempt, subtask, timestamp, element)) -> bytes``: a stream record's value."""

decode_record = pickle.loads
"""``decode_record(value) -> (attempt, subtask, timestamp, element)``; raises what pickle raises."""


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


def encode_event(event: Event, subtask: int, attempt: int) -> list[tuple[str, bytes]]:
    """The headers of ``event`` written by ``subtask`` of attempt ``attempt``."""
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
    return [(EVENT, kind), (SUBTASK, b"%d" % subtask), (ATTEMPT, b"%d" % attempt)]


def decode_event(headers: list[tuple[str, bytes]]) -> tuple[Event, int, int]:
    """(event, upstream subtask, attempt) of an event's headers; ValueError/KeyError if malformed."""
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
    return event, int(values[SUBTASK]), int(values[ATTEMPT])
