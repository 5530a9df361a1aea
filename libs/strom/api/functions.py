"""Rich user functions (Flink's MapFunction & co.): ``open(runtime_context)`` gets keyed state.

A plain callable works wherever these do; a class is needed only for state.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

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


class TimeDomain(Enum):
    """Which clock a timer belongs to."""

    EVENT_TIME = 0
    PROCESSING_TIME = 1


class ProcessFunction(RichFunction):
    """The lowest-level operator: ``process_element(value, ctx)`` yields outputs.

    ``ctx.timestamp()`` is the element's event time (ms, or None);
    ``ctx.output(tag, value)`` (or yielding ``(tag, value)``) sends to side
    output ``tag``, read with ``stream.get_side_output(tag)``. Side outputs
    nobody reads are discarded, as in Flink.
    """

    def process_element(self, value: Any, ctx: Any) -> Iterable[Any] | None:
        raise TypeError(f"{type(self).__name__} must define process_element(value, ctx)")


class KeyedProcessFunction(ProcessFunction):
    """A ProcessFunction on a KeyedStream, with keyed state and timers.

    ``ctx.timer_service().register_event_time_timer(ms)`` (or
    ``register_processing_time_timer``) makes ``on_timer(timestamp, ctx)``
    run for the current key once the watermark (wall clock) reaches
    ``timestamp``; ``ctx.time_domain()`` says which, ``ctx.get_current_key()``
    the key. Timers are checkpointed with the keyed state and deduplicated per
    key and time.

    >>> class Timeout(KeyedProcessFunction):
    ...     def process_element(self, value, ctx):
    ...         ctx.timer_service().register_event_time_timer(ctx.timestamp() + 60_000)
    ...     def on_timer(self, timestamp, ctx):
    ...         yield ctx.get_current_key(), "idle for 60 s"
    """

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any] | None:
        """A timer of the current key fired (default: nothing)."""


class CoProcessFunction(RichFunction):
    """Two inputs (``a.connect(b).process(f)``): ``process_element1`` for a's elements,
    ``process_element2`` for b's; context as in :class:`ProcessFunction`."""

    def process_element1(self, value: Any, ctx: Any) -> Iterable[Any] | None:
        raise TypeError(f"{type(self).__name__} must define process_element1(value, ctx)")

    def process_element2(self, value: Any, ctx: Any) -> Iterable[Any] | None:
        raise TypeError(f"{type(self).__name__} must define process_element2(value, ctx)")


class KeyedCoProcessFunction(CoProcessFunction):
    """Two keyed inputs sharing keyed state and timers per key (``a.connect(b).key_by(ka, kb)``);
    ``on_timer`` as in :class:`KeyedProcessFunction`."""

    def on_timer(self, timestamp: int, ctx: Any) -> Iterable[Any] | None:
        """A timer of the current key fired (default: nothing)."""


class ProcessJoinFunction(RichFunction):
    """An interval join's function: ``process_element(left, right, ctx)`` yields outputs for a pair;
    ``ctx.get_left_timestamp()``, ``ctx.get_right_timestamp()`` and ``ctx.timestamp()`` (the larger) in ms."""

    def process_element(self, left: Any, right: Any, ctx: Any) -> Iterable[Any] | None:
        raise TypeError(f"{type(self).__name__} must define process_element(left, right, ctx)")


class JoinFunction:
    """A window join's function: ``join(first, second)`` returns one output per pair."""

    def join(self, first: Any, second: Any) -> Any:
        raise TypeError(f"{type(self).__name__} must define join(first, second)")
