"""Event-time windows: assigners, TimeWindow and window functions (Flink's names).

>>> TumblingEventTimeWindows.of(1000).assign_windows(2500)
[TimeWindow(start=2000, end=3000)]
>>> [w.start for w in SlidingEventTimeWindows.of(1000, 500).assign_windows(2500)]
[2500, 2000]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable


@dataclass(frozen=True, order=True)
class TimeWindow:
    """``[start, end)`` in ms; ``max_timestamp`` = end - 1 is when it fires."""

    start: int
    end: int

    def max_timestamp(self) -> int:
        return self.end - 1


@dataclass(frozen=True)
class TumblingEventTimeWindows:
    size_ms: int
    offset_ms: int = 0

    @staticmethod
    def of(size_ms: int, offset_ms: int = 0) -> "TumblingEventTimeWindows":
        if size_ms <= 0:
            raise ValueError(f"window size must be > 0 ms, got {size_ms}")
        return TumblingEventTimeWindows(int(size_ms), int(offset_ms))

    def assign_windows(self, timestamp: int) -> list[TimeWindow]:
        start = timestamp - (timestamp - self.offset_ms) % self.size_ms
        return [TimeWindow(start, start + self.size_ms)]


@dataclass(frozen=True)
class SlidingEventTimeWindows:
    size_ms: int
    slide_ms: int
    offset_ms: int = 0

    @staticmethod
    def of(size_ms: int, slide_ms: int, offset_ms: int = 0) -> "SlidingEventTimeWindows":
        if size_ms <= 0 or slide_ms <= 0:
            raise ValueError(f"window size and slide must be > 0 ms, got {size_ms}, {slide_ms}")
        return SlidingEventTimeWindows(int(size_ms), int(slide_ms), int(offset_ms))

    def assign_windows(self, timestamp: int) -> list[TimeWindow]:
        """Every window of ``size`` that contains ``timestamp``, newest first (as Flink)."""
        last_start = timestamp - (timestamp - self.offset_ms) % self.slide_ms
        return [TimeWindow(start, start + self.size_ms)
                for start in range(last_start, timestamp - self.size_ms, -self.slide_ms)]


@dataclass(frozen=True)
class EventTimeSessionWindows:
    """Sessions: a key's elements closer than ``gap_ms`` belong to one window (merging windows)."""

    gap_ms: int
    merging = True

    @staticmethod
    def with_gap(gap_ms: int) -> "EventTimeSessionWindows":
        if gap_ms <= 0:
            raise ValueError(f"session gap must be > 0 ms, got {gap_ms}")
        return EventTimeSessionWindows(int(gap_ms))

    def assign_windows(self, timestamp: int) -> list[TimeWindow]:
        return [TimeWindow(timestamp, timestamp + self.gap_ms)]


@dataclass(frozen=True)
class OutputTag:
    """Names a side output, e.g. late data: ``OutputTag("late-clicks")``."""

    name: str


class ProcessWindowFunction:
    """``process(key, context, elements) -> iterable of results``; ``context.window()`` is the TimeWindow."""

    class Context:
        def __init__(self, window: TimeWindow, current_watermark: int) -> None:
            self._window, self._watermark = window, current_watermark

        def window(self) -> TimeWindow:
            return self._window

        def current_watermark(self) -> int:
            return self._watermark

    def process(self, key: Any, context: "ProcessWindowFunction.Context", elements: Iterable[Any]
                ) -> Iterable[Any]:
        raise TypeError(f"{type(self).__name__} must define process(key, context, elements)")
