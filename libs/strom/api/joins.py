"""Joins built from the core operators, as Flink builds them.

Window join (``a.join(b).where(ka).equal_to(kb).window(w).apply(f)``): both
inputs are tagged 1 and 2, unioned, keyed by their own key selector and
windowed; :class:`WindowJoinFunction` pairs the two sides of each window.

Interval join (``a.key_by(ka).interval_join(b.key_by(kb)).between(lo, hi)``):
a :class:`~strom.api.functions.KeyedCoProcessFunction` that buffers each
side in MapState by timestamp, pairs an element of ``a`` at ``t`` with
elements of ``b`` in ``[t + lo, t + hi]`` (and vice versa) and drops buffered
elements once the watermark says no partner can come (Flink's
IntervalJoinOperator). Elements behind the watermark are late and dropped,
as in Flink, unless a late-data side output is set.

>>> pairs = WindowJoinFunction(lambda x, y: (x, y)).process("k", None, [(1, "a"), (2, "x"), (1, "b")])
>>> list(pairs)
[('a', 'x'), ('b', 'x')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from strom.api.functions import KeyedCoProcessFunction
from strom.api.windowing import OutputTag, ProcessWindowFunction
from strom.state.api import MapStateDescriptor


def tag_input(number: int) -> Callable[[Any], tuple[int, Any]]:
    """``x -> (number, x)``: marks which join input an element came from."""
    return lambda element: (number, element)


def tagged_key(key1: Callable[[Any], Any], key2: Callable[[Any], Any]) -> Callable[[tuple[int, Any]], Any]:
    """The key of a tagged element, by its input's own key selector."""
    return lambda tagged: key1(tagged[1]) if tagged[0] == 1 else key2(tagged[1])


class WindowJoinFunction(ProcessWindowFunction):
    """Every (first, second) pair of one key's window: ``join_function(first, second)`` each."""

    def __init__(self, join_function: Any) -> None:
        self.join = join_function.join if hasattr(join_function, "join") else join_function

    def process(self, key: Any, context: Any, elements: Iterable[tuple[int, Any]]) -> Iterable[Any]:
        firsts = [e for number, e in elements if number == 1]
        seconds = [e for number, e in elements if number == 2]
        for first in firsts:
            for second in seconds:
                yield self.join(first, second)


class _JoinContext:
    """``ctx`` of ``ProcessJoinFunction.process_element(left, right, ctx)``."""

    def __init__(self, ctx: Any, left_ts: int, right_ts: int) -> None:
        self._ctx, self._left, self._right = ctx, left_ts, right_ts

    def get_left_timestamp(self) -> int:
        return self._left

    def get_right_timestamp(self) -> int:
        return self._right

    def timestamp(self) -> int:
        """The pair's timestamp (ms): the larger of the two, which its output carries."""
        return max(self._left, self._right)

    def output(self, tag: OutputTag, value: Any) -> None:
        self._ctx.output(tag, value)


class IntervalJoinFunction(KeyedCoProcessFunction):
    """The interval join of one key: bounds in ms, inclusive (``lower_ms <= right_ts - left_ts <= upper_ms``)."""

    def __init__(self, lower_ms: int, upper_ms: int, function: Any,
                 late_tags: tuple[OutputTag | None, OutputTag | None] = (None, None)) -> None:
        self.lower, self.upper, self.function, self.late_tags = lower_ms, upper_ms, function, late_tags

    def open(self, runtime_context: Any) -> None:
        if hasattr(self.function, "open"):
            self.function.open(runtime_context)
        self.buffers = (runtime_context.get_map_state(MapStateDescriptor("interval-join-left")),
                        runtime_context.get_map_state(MapStateDescriptor("interval-join-right")))

    def _pairs(self, left: Any, right: Any, ctx: Any, left_ts: int, right_ts: int) -> Iterable[Any]:
        join_ctx = _JoinContext(ctx, left_ts, right_ts)
        ctx._emit_at(join_ctx.timestamp())
        if hasattr(self.function, "process_element"):
            results = self.function.process_element(left, right, join_ctx)
            yield from results or ()
        else:
            yield self.function(left, right)

    def _process(self, side: int, value: Any, ctx: Any) -> Iterable[Any]:
        timestamp = ctx.timestamp()
        if timestamp is None:
            raise ValueError("interval_join needs event time: give the sources a WatermarkStrategy")
        if timestamp < ctx.timer_service().current_watermark():
            if self.late_tags[side] is not None:
                ctx.output(self.late_tags[side], value)
            return
        own, other = self.buffers[side], self.buffers[1 - side]
        own.put(timestamp, (own.get(timestamp) or []) + [value])
        # Left at t pairs with right in [t + lower, t + upper]; right at t with left in [t - upper, t - lower].
        low, high = ((timestamp + self.lower, timestamp + self.upper) if side == 0
                     else (timestamp - self.upper, timestamp - self.lower))
        for other_ts, others in sorted(other.items()):
            if low <= other_ts <= high:
                for partner in others:
                    if side == 0:
                        yield from self._pairs(value, partner, ctx, timestamp, other_ts)
                    else:
                        yield from self._pairs(partner, value, ctx, other_ts, timestamp)
        # Once the watermark passes this, no partner for ``value`` can arrive any more.
        ctx.timer_service().register_event_time_timer(self._cleanup_time(side, timestamp))

    def process_element1(self, value: Any, ctx: Any) -> Iterable[Any]:
        return self._process(0, value, ctx)

    def process_element2(self, value: Any, ctx: Any) -> Iterable[Any]:
        return self._process(1, value, ctx)

    def _cleanup_time(self, side: int, timestamp: int) -> int:
        """When a buffered element can go (ms): a partner must be later than the watermark, and an
        element is never dropped before its own time (Flink's IntervalJoinOperator)."""
        return timestamp + max(self.upper, 0) if side == 0 else timestamp - min(self.lower, 0)

    def on_timer(self, timestamp: int, ctx: Any) -> None:
        for side, buffer in enumerate(self.buffers):
            expired = [ts for ts in buffer.keys() if self._cleanup_time(side, ts) <= timestamp]  # noqa: SIM118 - MapState has no __iter__
            for ts in expired:
                buffer.remove(ts)
