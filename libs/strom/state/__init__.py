"""Keyed state: descriptors, state handles and the heap backend that snapshots per key group.

>>> class CountPerKey(MapFunction):
...     def open(self, ctx):
...         self.count = ctx.get_state(ValueStateDescriptor("count", default=0))
...     def map(self, value):
...         self.count.update(self.count.value() + 1)
...         return value, self.count.value()
"""

from strom.state.api import (
    AggregateFunction, AggregatingStateDescriptor, ListStateDescriptor, MapStateDescriptor,
    ReducingStateDescriptor, RuntimeContext, ValueStateDescriptor)
from strom.state.functions import (
    CoProcessFunction, FilterFunction, FlatMapFunction, JoinFunction, KeyedCoProcessFunction,
    KeyedProcessFunction, MapFunction, ProcessFunction, ProcessJoinFunction, ReduceFunction, TimeDomain)
from strom.state.ttl import StateTtlConfig

__all__ = [
    "AggregateFunction", "AggregatingStateDescriptor", "CoProcessFunction", "FilterFunction",
    "FlatMapFunction", "JoinFunction", "KeyedCoProcessFunction", "KeyedProcessFunction",
    "ListStateDescriptor", "MapFunction", "MapStateDescriptor", "ProcessFunction", "ProcessJoinFunction",
    "ReduceFunction", "ReducingStateDescriptor", "RuntimeContext", "StateTtlConfig", "TimeDomain",
    "ValueStateDescriptor",
]
