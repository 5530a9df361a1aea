"""Windows: assigners (event time, processing time, global), TimeWindow and window functions (Flink's names).

>>> TumblingEventTimeWindows.of(1000).assign_windows("click", 2500)
[TimeWindow(start=2000, end=3000)]
>>> [w.start for w in SlidingEventTimeWindows.of(1000, 500).assign_windows("click", 2500)]
[2500, 2000]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from strom.api.triggers import EventTimeTrigger, NeverTrigger, ProcessingTimeTrigger, Trigger


class TimeWindow(NamedTuple):
    """``[start, end)`` in ms; ``max_timestamp`` = end - 1 is when it fires.

    A tuple: windows are dict keys of every element's hot path, and a tuple hashes in C.
    """

    start: int
    end: int

    def max_timestamp(self) -> int:
        return self.end - 1


class WindowAssigner:
    """Puts an element into windows: ``assign_windows(element, timestamp, context)`` -> list.

    ``timestamp`` is the element's event time (ms) for event-time assigners and
    the wall clock (``context.get_current_processing_time()``) for
    processing-time ones. ``merging`` assigners (sessions) merge overlapping windows.
    """

    merging = False
    event_time = True

    def assign_windows(self, element: Any, timestamp: int, context: Any) -> list:
        raise TypeError(f"{type(self).__name__} must define assign_windows(element, timestamp, context)")

    def get_default_trigger(self) -> Trigger:
        return EventTimeTrigger() if self.event_time else ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        return self.event_time


def _tumbling(size_ms: int, offset_ms: int, timestamp: int) -> list[TimeWindow]:
    start = timestamp - (timestamp - offset_ms) % size_ms
    return [TimeWindow(start, start + size_ms)]


def _sliding(size_ms: int, slide_ms: int, offset_ms: int, timestamp: int) -> list[TimeWindow]:
    """Every window of ``size`` that contains ``timestamp``, newest first (as Flink)."""
    last_start = timestamp - (timestamp - offset_ms) % slide_ms
    return [TimeWindow(start, start + size_ms)
            for start in range(last_start, timestamp - size_ms, -slide_ms)]


def _check(name: str, **values: int) -> None:
    for what, value in values.items():
        if value <= 0:
            raise ValueError(f"{name}: {what} must be > 0 ms, got {value}")


@dataclass(frozen=True)
class TumblingEventTimeWindows(WindowAssigner):
    """Fixed-size, non-overlapping event-time windows ``[k*size + offset, (k+1)*size + offset)``."""

    size_ms: int
    offset_ms: int = 0

    @staticmethod
    def of(size_ms: int, offset_ms: int = 0) -> TumblingEventTimeWindows:
        _check("TumblingEventTimeWindows", size=size_ms)
        return TumblingEventTimeWindows(int(size_ms), int(offset_ms))

    def assign_windows(self, element: Any, timestamp: int, context: Any = None) -> list[TimeWindow]:
        return _tumbling(self.size_ms, self.offset_ms, timestamp)


@dataclass(frozen=True)
class TumblingProcessingTimeWindows(TumblingEventTimeWindows):
    """Tumbling windows of wall-clock time: an element goes to the window of its arrival."""

    event_time = False

    @staticmethod
    def of(size_ms: int, offset_ms: int = 0) -> TumblingProcessingTimeWindows:
        _check("TumblingProcessingTimeWindows", size=size_ms)
        return TumblingProcessingTimeWindows(int(size_ms), int(offset_ms))


@dataclass(frozen=True)
class SlidingEventTimeWindows(WindowAssigner):
    """Windows of ``size_ms`` starting every ``slide_ms``: an element is in size/slide of them."""

    size_ms: int
    slide_ms: int
    offset_ms: int = 0

    @staticmethod
    def of(size_ms: int, slide_ms: int, offset_ms: int = 0) -> SlidingEventTimeWindows:
        _check("SlidingEventTimeWindows", size=size_ms, slide=slide_ms)
        return SlidingEventTimeWindows(int(size_ms), int(slide_ms), int(offset_ms))

    def assign_windows(self, element: Any, timestamp: int, context: Any = None) -> list[TimeWindow]:
        return _sliding(self.size_ms, self.slide_ms, self.offset_ms, timestamp)


@dataclass(frozen=True)
class SlidingProcessingTimeWindows(SlidingEventTimeWindows):
    """Sliding windows of wall-clock time."""

    event_time = False

    @staticmethod
    def of(size_ms: int, slide_ms: int, offset_ms: int = 0) -> SlidingProcessingTimeWindows:
        _check("SlidingProcessingTimeWindows", size=size_ms, slide=slide_ms)
        return SlidingProcessingTimeWindows(int(size_ms), int(slide_ms), int(offset_ms))


@dataclass(frozen=True)
class EventTimeSessionWindows(WindowAssigner):
    """Sessions: a key's elements closer than the gap belong to one window (merging windows).

    ``with_gap(ms)`` gives every element the same gap; ``with_dynamic_gap(f)``
    asks ``f(element) -> ms`` (a SessionWindowTimeGapExtractor or a callable).
    """

    gap_ms: int = 0
    gap_extractor: Callable[[Any], int] | None = None
    merging = True

    @classmethod
    def with_gap(cls, gap_ms: int):
        _check(cls.__name__, gap=gap_ms)
        return cls(int(gap_ms))

    @classmethod
    def with_dynamic_gap(cls, extractor: Any):
        return cls(0, extractor.extract if hasattr(extractor, "extract") else extractor)

    def assign_windows(self, element: Any, timestamp: int, context: Any = None) -> list[TimeWindow]:
        gap = self.gap_ms if self.gap_extractor is None else int(self.gap_extractor(element))
        if gap <= 0:
            raise ValueError(f"session gap must be > 0 ms, got {gap} for {element!r}")
        return [TimeWindow(timestamp, timestamp + gap)]


@dataclass(frozen=True)
class ProcessingTimeSessionWindows(EventTimeSessionWindows):
    """Sessions of wall-clock time: a key's session closes after ``gap`` ms without elements."""

    event_time = False


@dataclass(frozen=True, order=True)
class GlobalWindow:
    """The one window of :class:`GlobalWindows`; it never ends."""

    def max_timestamp(self) -> int:
        return 2**63 - 1


@dataclass(frozen=True)
class GlobalWindows(WindowAssigner):
    """All of a key's elements in one window, fired only by the trigger you give it
    (``count_window`` is GlobalWindows with a CountTrigger)."""

    @staticmethod
    def create() -> GlobalWindows:
        return GlobalWindows()

    event_time = False  # as Flink: elements need no timestamp, nothing is ever late

    def assign_windows(self, element: Any, timestamp: int, context: Any = None) -> list[GlobalWindow]:
        return [GlobalWindow()]

    def get_default_trigger(self) -> Trigger:
        return NeverTrigger()


@dataclass(frozen=True)
class OutputTag:
    """Names a side output, e.g. late data: ``OutputTag("late-clicks")``."""

    name: str


class ProcessWindowFunction:
    """``process(key, context, elements) -> iterable of results``; ``context.window()`` is the TimeWindow."""

    class Context:
        def __init__(self, window: Any, current_watermark: int, current_processing_time: int) -> None:
            self._window, self._watermark, self._now = window, current_watermark, current_processing_time

        def window(self) -> Any:
            return self._window

        def current_watermark(self) -> int:
            return self._watermark

        def current_processing_time(self) -> int:
            return self._now

    def process(self, key: Any, context: ProcessWindowFunction.Context, elements: Iterable[Any]
                ) -> Iterable[Any]:
        raise TypeError(f"{type(self).__name__} must define process(key, context, elements)")


class WindowFunction:
    """``apply(key, window, inputs) -> iterable of results`` (Flink's older WindowFunction)."""

    def apply(self, key: Any, window: Any, inputs: Iterable[Any]) -> Iterable[Any]:
        raise TypeError(f"{type(self).__name__} must define apply(key, window, inputs)")
