"""Rich user functions (Flink's MapFunction & co.): ``open(runtime_context)`` gets keyed state.

A plain callable works wherever these do; a class is needed only for state.
"""

from __future__ import annotations

from typing import Any, Iterable

from strom.state.api import RuntimeContext


class RichFunction:
    def open(self, runtime_context: RuntimeContext) -> None:
        """Called once per subtask before the first element."""


class MapFunction(RichFunction):
    def map(self, value: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define map(value)")


class FlatMapFunction(RichFunction):
    def flat_map(self, value: Any) -> Iterable[Any]:
        raise TypeError(f"{type(self).__name__} must define flat_map(value)")


class FilterFunction(RichFunction):
    def filter(self, value: Any) -> bool:
        raise TypeError(f"{type(self).__name__} must define filter(value)")


class ReduceFunction(RichFunction):
    def reduce(self, value1: Any, value2: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define reduce(value1, value2)")
