"""The snapshot of one subtask in a checkpoint: its fields in the Redis hash, encoded and decoded here.

Fields (:class:`~strom.checkpoint.store.CheckpointStore` adds ``complete``)::

    offsets      JSON {"<topic>:<partition>": next offset to read}
    watermark    decimal ms: the subtask's event time when it took the snapshot
    kg:<k>       keyed state of key group k (the state backend's bytes)
    sink         the sink writer's state (un-committed epochs), if it has any; over
                 SINK_CHUNK_BYTES it is split into sink:0, sink:1, ... (Redis takes at
                 most 512 MB per value, and smaller values replicate and load better)

>>> snapshot = SubtaskSnapshot({KafkaPartition("t:x", 1): 42}, 7, {3: b"s"}, None)
>>> SubtaskSnapshot.decode({k.encode(): v for k, v in snapshot.encode().items()}) == snapshot
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from strom.io.kafka import KafkaPartition

_OFFSETS, _WATERMARK, _KEY_GROUP, _SINK = "offsets", "watermark", "kg:", "sink"
OFFSETS_FIELD = _OFFSETS  # the field a reader of input offsets alone fetches
SINK_CHUNK_BYTES = 64 << 20  # bytes per field of a large sink state


def decode_offsets(raw: bytes | None) -> dict[KafkaPartition, int]:
    """The ``offsets`` field: next offset per input partition ({} for None); raises ValueError.

    >>> decode_offsets(b'{"a:b:3": 7}')
    {KafkaPartition(topic='a:b', partition=3): 7}
    """
    offsets = {}
    for name, offset in json.loads(raw or b"{}").items():
        topic, _, partition = name.rpartition(":")  # topic names may contain ':', partitions not
        offsets[KafkaPartition(topic, int(partition))] = int(offset)
    return offsets


@dataclass
class SubtaskSnapshot:
    """``offsets``: next offset per input partition; ``watermark`` (ms; None in a snapshot without
    one); ``key_groups``: key group -> state bytes; ``sink``: the sink writer's state bytes."""

    offsets: dict[KafkaPartition, int]
    watermark: int | None
    key_groups: dict[int, bytes] = field(default_factory=dict)
    sink: bytes | None = None

    def encode(self) -> dict[str, bytes]:
        """The hash fields to store."""
        fields = {_OFFSETS: json.dumps({f"{t}:{p}": offset for (t, p), offset in self.offsets.items()}).encode()}
        if self.watermark is not None:
            fields[_WATERMARK] = b"%d" % self.watermark
        fields.update({f"{_KEY_GROUP}{kg}": data for kg, data in self.key_groups.items()})
        if self.sink is not None and len(self.sink) <= SINK_CHUNK_BYTES:
            fields[_SINK] = self.sink
        elif self.sink is not None:
            fields.update({f"{_SINK}:{i}": self.sink[start:start + SINK_CHUNK_BYTES]
                           for i, start in enumerate(range(0, len(self.sink), SINK_CHUNK_BYTES))})
        return fields

    @classmethod
    def decode(cls, fields: dict[bytes, bytes]) -> SubtaskSnapshot:
        """The snapshot of a hash read from Redis; raises ValueError for a malformed field."""
        offsets = decode_offsets(fields.get(_OFFSETS.encode()))
        watermark = fields.get(_WATERMARK.encode())
        named = [(key.decode(), value) for key, value in fields.items()]
        key_groups = {int(name[len(_KEY_GROUP):]): data for name, data in named if name.startswith(_KEY_GROUP)}
        chunks = sorted((int(name[len(_SINK) + 1:]), data) for name, data in named if name.startswith(f"{_SINK}:"))
        sink = fields.get(_SINK.encode())
        if chunks:
            if [i for i, _data in chunks] != list(range(len(chunks))):
                raise ValueError(f"sink state chunks {[i for i, _data in chunks]} are not 0..{len(chunks) - 1}")
            sink = b"".join(data for _i, data in chunks)
        return cls(offsets, int(watermark) if watermark is not None else None, key_groups, sink)
