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


def test_a_large_sink_state_is_stored_in_chunks_and_joined_back(monkeypatch):
    import strom.checkpoint.snapshot as layout
    monkeypatch.setattr(layout, "SINK_CHUNK_BYTES", 4)
    snapshot = SubtaskSnapshot({}, None, {}, b"0123456789")
    fields = snapshot.encode()
    assert {k: v for k, v in fields.items() if k.startswith("sink")} == {"sink:0": b"0123", "sink:1": b"4567",
                                                                          "sink:2": b"89"}
    assert SubtaskSnapshot.decode(as_read_from_redis(fields)) == snapshot
    del fields["sink:1"]
    with pytest.raises(ValueError, match=r"sink state chunks \[0, 2\] are not 0..1"):
        SubtaskSnapshot.decode(as_read_from_redis(fields))
