"""Key groups: key -> key group -> subtask, as Flink's KeyGroupRangeAssignment.

A keyed edge is a Kafka topic with ``max_parallelism`` partitions; the
producer's ``murmur2_random`` partitioner (librdkafka's Java-compatible
murmur2) puts a key's records in partition ``key_group_for(key_bytes, max_p)``,
so partition number = key group. :func:`murmur2` is the same hash in Python
(Kafka's ``Utils.murmur2``), used where a key group is needed without Kafka
and by the tests that check the two agree. Never Python's salted ``hash()``.
"""

from __future__ import annotations

import pickle
from typing import Any

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's 32-bit murmur2 (seed 0x9747b28c), as a signed int like Java's."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def key_bytes(key: Any) -> bytes:
    """Stable bytes of a key: UTF-8 for str, as-is for bytes, decimal for int, else pickle."""
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key).encode()
    return pickle.dumps(key, protocol=5)


def key_group_for(key: Any, max_parallelism: int) -> int:
    """Key group of ``key`` in ``[0, max_parallelism)`` (Kafka: toPositive(murmur2) % partitions)."""
    return (murmur2(key_bytes(key)) & 0x7FFFFFFF) % max_parallelism


def key_group_range(max_parallelism: int, parallelism: int, subtask_index: int) -> range:
    """Key groups owned by a subtask: Flink's computeKeyGroupRangeForOperatorIndex (contiguous)."""
    if not 0 <= subtask_index < parallelism <= max_parallelism:
        raise ValueError(f"subtask {subtask_index} of {parallelism} with max parallelism {max_parallelism}")
    start = (subtask_index * max_parallelism + parallelism - 1) // parallelism
    end = ((subtask_index + 1) * max_parallelism - 1) // parallelism
    return range(start, end + 1)


def operator_index_for(key_group: int, max_parallelism: int, parallelism: int) -> int:
    """Subtask that owns ``key_group``: Flink's computeOperatorIndexForKeyGroup."""
    return key_group * parallelism // max_parallelism
