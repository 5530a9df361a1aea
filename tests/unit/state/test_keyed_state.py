"""Keyed state: scoped to the current key, snapshot and restore per key group."""

import pickle

import pytest

from strom.state.api import (
    AggregateFunction,
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    RuntimeContext,
    ValueStateDescriptor,
)
from strom.state.backend import HeapKeyedStateBackend


class Average(AggregateFunction):
    def create_accumulator(self):
        return (0, 0)

    def add(self, value, acc):
        return (acc[0] + value, acc[1] + 1)

    def get_result(self, acc):
        return acc[0] / acc[1]

    def merge(self, a, b):
        return (a[0] + b[0], a[1] + b[1])


def test_keyed_state_is_scoped_to_the_current_key_and_restores_per_key_group():
    backend = HeapKeyedStateBackend()
    ctx = RuntimeContext(backend, "t", 0, 1, 128, 0)
    value = ctx.get_state(ValueStateDescriptor("v", default=0))
    items = ctx.get_list_state(ListStateDescriptor("l"))
    mapping = ctx.get_map_state(MapStateDescriptor("m"))
    total = ctx.get_reducing_state(ReducingStateDescriptor("r", lambda a, b: a + b))
    average = ctx.get_aggregating_state(AggregatingStateDescriptor("a", Average()))
    for key, key_group in (("god", 3), ("lord", 70)):
        backend.current_key, backend.current_key_group = key, key_group
        for n in range(1, 4):
            value.update(value.value() + n)
            items.add(n)
            mapping.put(n, key)
            total.add(n)
            average.add(n * 10)
    backend.current_key, backend.current_key_group = "god", 3
    assert (value.value(), items.get(), mapping.get(2), total.get(), average.get()) == (6, [1, 2, 3], "god", 6, 20.0)
    snapshot = backend.snapshot()
    assert sorted(snapshot) == [3, 70]
    restored = HeapKeyedStateBackend()
    restored.restore((kg, data) for kg, data in snapshot.items() if kg < 64)  # a subtask owning 0..63
    restored.current_key, restored.current_key_group = "god", 3
    assert restored.get("v") == 6
    restored.current_key, restored.current_key_group = "lord", 70
    assert restored.get("v", None) is None
    assert pickle.loads(snapshot[70])["l"] == {"lord": [1, 2, 3]}
    value.clear()
    assert value.value() == 0 and restored.num_keys() == 5


def test_state_outside_a_keyed_stream_is_a_clear_error():
    with pytest.raises(RuntimeError, match="only available on a KeyedStream"):
        RuntimeContext(None, "t", 0, 1, 128, 0).get_state(ValueStateDescriptor("v"))
