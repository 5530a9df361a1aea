"""A subtask's snapshot fields, encoded and decoded in one place."""

import json

import pytest

from strom.checkpoint.snapshot import SubtaskSnapshot
from strom.io.kafka import KafkaPartition


def as_read_from_redis(fields):
    return {name.encode(): value for name, value in fields.items()}


def test_every_field_round_trips():
    snapshot = SubtaskSnapshot({KafkaPartition("strom.c.job.j.e1", 3): 17, KafkaPartition("a:b", 0): 0},
                               -5, {0: b"state0", 127: b"\x00" * 10}, b"epochs")
    fields = snapshot.encode()
    assert set(fields) == {"offsets", "watermark", "kg:0", "kg:127", "sink"}
    assert json.loads(fields["offsets"]) == {"strom.c.job.j.e1:3": 17, "a:b:0": 0}
    assert SubtaskSnapshot.decode(as_read_from_redis(fields)) == snapshot


def test_optional_fields_stay_out_and_decode_to_their_absence():
    fields = SubtaskSnapshot({}, None).encode()
    assert fields == {"offsets": b"{}"}
    assert SubtaskSnapshot.decode(as_read_from_redis({**fields, "complete": b"1"})) == SubtaskSnapshot({}, None)


def test_offsets_have_typed_keys():
    decoded = SubtaskSnapshot.decode({b"offsets": b'{"t:1": 5}'})
    ((key, offset),) = decoded.offsets.items()
    assert (key.topic, key.partition, offset) == ("t", 1, 5)


def test_a_malformed_field_raises():
    with pytest.raises(ValueError):
        SubtaskSnapshot.decode({b"offsets": b'{"t:x": 5}'})
    with pytest.raises(ValueError):
        SubtaskSnapshot.decode({b"watermark": b"soon"})
