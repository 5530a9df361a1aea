"""Process-function operators: one input (ProcessFunction, KeyedProcessFunction) or two
(CoProcessFunction, KeyedCoProcessFunction), with timers and side outputs.

A two-input operator takes input 1's elements through ``collect`` and input
2's through ``collect2``; on a keyed pair it sets the current key with each
input's own key selector. Results yielded as ``(OutputTag, value)`` or given
to ``ctx.output(tag, value)`` go to that side output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from strom.api.functions import TimeDomain
from strom.api.windowing import OutputTag
from strom.runtime.timers import EVENT_TIME, PROCESSING_TIME, InternalTimerService, TimerService


class ProcessContext:
    """The ``ctx`` of ``process_element*`` and ``on_timer`` (Flink's Context and OnTimerContext)."""

    def __init__(self, operator: ProcessOperator) -> None:
        self._operator = operator
        self._timer_service = TimerService(operator.timers)
        self._time_domain: TimeDomain | None = None

    def timestamp(self) -> int | None:
        """Event time (ms) of the element, or the firing timer's time."""
        return self._operator.clock.timestamp

    def timer_service(self) -> TimerService:
        return self._timer_service

    def get_current_key(self) -> Any:
        backend = self._operator.backend
        if backend is None:
            raise RuntimeError("get_current_key() needs a keyed stream (key_by before process)")
        return backend.current_key

    def time_domain(self) -> TimeDomain | None:
        """In ``on_timer``: the firing timer's domain."""
        return self._time_domain

    def _emit_at(self, timestamp: int | None) -> None:
        """Set the timestamp (ms) of the outputs that follow (an interval join's pair time)."""
        self._operator.clock.timestamp = timestamp

    def output(self, tag: OutputTag, value: Any) -> None:
        """Send ``value`` to side output ``tag``."""
        self._operator.side_output(tag, value)


class ProcessOperator:
    """Runs a process function; ``on_watermark`` / ``on_processing_time`` fire its timers."""

    def __init__(self, function: Any, backend: Any, timers: InternalTimerService | None, out: Any,
                 clock: Any, side_outputs: dict[str, Any],
                 key_selectors: tuple[Callable | None, Callable | None] = (None, None)) -> None:
        self.function, self.backend, self.timers = function, backend, timers
        self.out, self.clock, self.side_outputs = out, clock, side_outputs
        self.key1, self.key2 = key_selectors
        self.ctx = ProcessContext(self)
        two_inputs = hasattr(function, "process_element1")
        self.process1 = function.process_element1 if two_inputs else function.process_element
        self.process2 = function.process_element2 if two_inputs else self._no_second_input

    @staticmethod
    def _no_second_input(element: Any, ctx: Any) -> Any:
        raise TypeError("a one-input process function got an element on a second input")

    def side_output(self, tag: OutputTag, value: Any) -> None:
        side = self.side_outputs.get(tag.name)
        if side is not None:
            side.collect(value)

    def emit(self, results: Iterable[Any] | None) -> None:
        if results is None:
            return
        for result in results:
            if type(result) is tuple and len(result) == 2 and isinstance(result[0], OutputTag):
                self.side_output(*result)
            else:
                self.out.collect(result)

    def collect(self, element: Any) -> None:
        if self.key1 is not None:
            self.backend.current_key = self.key1(element)
        self.emit(self.process1(element, self.ctx))

    def collect2(self, element: Any) -> None:
        if self.key2 is not None:
            self.backend.current_key = self.key2(element)
        self.emit(self.process2(element, self.ctx))

    def on_watermark(self, watermark: int) -> None:
        if self.timers is not None:
            self.timers.advance(EVENT_TIME, watermark, self._on_event_time)

    def on_processing_time(self, now: int) -> None:
        if self.timers is not None:
            self.timers.advance(PROCESSING_TIME, now, self._on_processing_time)

    def _on_event_time(self, time: int, _namespace: Any) -> None:
        self.clock.timestamp = time
        self._on_timer(time, TimeDomain.EVENT_TIME)

    def _on_processing_time(self, time: int, _namespace: Any) -> None:
        self.clock.timestamp = None  # as Flink: output of a processing-time timer has no event time
        self._on_timer(time, TimeDomain.PROCESSING_TIME)

    def _on_timer(self, time: int, domain: TimeDomain) -> None:
        self.ctx._time_domain = domain
        try:
            self.emit(self.function.on_timer(time, self.ctx))
        finally:
            self.ctx._time_domain = None
