"""Key groups: key -> key group -> subtask, as Flink's KeyGroupRangeAssignment.

A keyed edge is a Kafka topic with ``max_parallelism`` partitions; the
writer (:class:`~strom.runtime.io.record_writer.RecordWriter`) puts a key's
elements in partition ``key_group_for(key, max_parallelism)``, so partition
number = key group, and a subtask reads the partitions of its key groups.
The hash is xxHash's XXH3 (64 bit, the C library through ``xxhash``) over
:func:`key_bytes`: stable across processes and hosts, never Python's salted
``hash()``. Keys Python treats as one dict key (``1 == 1.0 == True``) land in
one key group, because keyed state is a dict per key group:

>>> key_group_for(1, 128) == key_group_for(1.0, 128) == key_group_for(True, 128)
True
>>> key_group_for(("word", 1), 128) == key_group_for(("word", 1.0), 128)
True
>>> key_group_for(1.5, 128) == key_group_for(1, 128)
False
"""

from __future__ import annotations

import pickle
from typing import Any

from xxhash import xxh3_64_intdigest


def _canonical(key: Any) -> Any:
    """``key`` with numbers that equal an int as that int, inside tuples too (1.0, True -> 1)."""
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, float) and key.is_integer():
        return int(key)
    if isinstance(key, tuple):
        return tuple(_canonical(part) for part in key)
    return key


def key_bytes(key: Any) -> bytes:
    """Stable bytes of a key: UTF-8 for str, as-is for bytes, decimal for int (and for a bool or
    float equal to an int), else the pickle of its canonical form (tuples element-wise).

    Keys of other types (dataclasses, frozensets...) must pickle the same when equal: a
    frozenset of mixed numbers or a class with a custom ``__eq__`` may not.
    """
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, bytes):
        return key
    key = _canonical(key)
    if isinstance(key, int):
        return b"%d" % key
    return pickle.dumps(key, protocol=5)


def key_group_for(key: Any, max_parallelism: int) -> int:
    """Key group of ``key`` in ``[0, max_parallelism)``: XXH3-64 of :func:`key_bytes` modulo
    ``max_parallelism`` (Flink: murmur hash of ``hashCode()`` modulo max parallelism)."""
    return xxh3_64_intdigest(key_bytes(key)) % max_parallelism


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
