"""The element codec round-trips every stream element and event (the Kafka wire format)."""

import pytest

from strom.runtime.io.events import (
    END_OF_PARTITION,
    CheckpointBarrier,
    EndOfPartition,
    Watermark,
    WatermarkStatus,
    decode_buffer,
    decode_event,
    encode_buffer,
    encode_event,
)
from strom.runtime.timers import MAX_TIME, MIN_TIME


@pytest.mark.parametrize("event", [CheckpointBarrier(1), CheckpointBarrier(2**40), Watermark(0), Watermark(MIN_TIME),
                                   Watermark(MAX_TIME), WatermarkStatus.IDLE, WatermarkStatus.ACTIVE,
                                   END_OF_PARTITION])
def test_every_event_round_trips_with_its_writer_attempt_and_sequence(event):
    headers = encode_event(event, subtask=3, attempt=7, sequence=2**33)
    assert all(isinstance(k, str) and isinstance(v, bytes) for k, v in headers)
    decoded, subtask, attempt, sequence = decode_event(headers)
    assert (decoded, subtask, attempt, sequence) == (event, 3, 7, 2**33) or (
        isinstance(event, EndOfPartition) and decoded is END_OF_PARTITION and (subtask, attempt) == (3, 7))


@pytest.mark.parametrize("element", [("word", 1), None, b"\x00bytes", {"k": [1.5, 2]}, "x" * 10_000])
def test_buffers_round_trip(element):
    buffer = (4, 1, 9, [1_700_000_000_000, None], [element, element])
    assert decode_buffer(encode_buffer(buffer, b"s"), b"s", "t/0/1") == buffer
    assert decode_buffer(encode_buffer((0, 0, 0, None, [element]), b"s"), b"s", "t/0/2") == (0, 0, 0, None, [element])


def test_a_malformed_event_is_refused():
    with pytest.raises(ValueError):
        decode_event([("strom.event", b"nonsense"), ("strom.subtask", b"0"), ("strom.attempt", b"0"),
                      ("strom.sequence", b"0")])
    with pytest.raises(KeyError):  # no sequence number
        decode_event([("strom.event", b"end-of-partition"), ("strom.subtask", b"0"), ("strom.attempt", b"0")])
    with pytest.raises(TypeError):
        encode_event("not an event", 0, 0, 0)
