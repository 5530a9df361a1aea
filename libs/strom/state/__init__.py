"""Keyed state: descriptors, state handles and the heap backend that snapshots per key group.

State is reached from a rich function's ``open(ctx)`` (:mod:`strom.api.functions`):

>>> from strom.api import MapFunction
>>> class CountPerKey(MapFunction):
...     def open(self, ctx):
...         self.count = ctx.get_state(ValueStateDescriptor("count", default=0))
...     def map(self, value):
...         self.count.update(self.count.value() + 1)
...         return value, self.count.value()
"""

from strom.state.api import (
    AggregateFunction,
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    RuntimeContext,
    ValueStateDescriptor,
)
from strom.state.ttl import StateTtlConfig

__all__ = [
    "AggregateFunction", "AggregatingStateDescriptor", "ListStateDescriptor", "MapStateDescriptor",
    "ReducingStateDescriptor", "RuntimeContext", "StateTtlConfig", "ValueStateDescriptor",
]
