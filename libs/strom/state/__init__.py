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
from strom.state.functions import FilterFunction, FlatMapFunction, MapFunction, ReduceFunction

__all__ = [
    "AggregateFunction", "AggregatingStateDescriptor", "FilterFunction", "FlatMapFunction",
    "ListStateDescriptor", "MapFunction", "MapStateDescriptor", "ReduceFunction",
    "ReducingStateDescriptor", "RuntimeContext", "ValueStateDescriptor",
]
