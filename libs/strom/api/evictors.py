"""Window evictors: drop elements of a window before or after its function runs (Flink's names).

A window with an evictor keeps every element with its timestamp (no
incremental reduce) and hands the evictor the list of
:class:`TimestampedValue` when the trigger fires; the evictor removes
elements from that list in place.

>>> elements = [TimestampedValue(v, t) for v, t in (("a", 1), ("b", 2), ("c", 3))]
>>> CountEvictor.of(2).evict_before(elements, 3, None, None); [e.value for e in elements]
['b', 'c']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class TimestampedValue:
    """An element of a window with its event timestamp (ms; None without event time)."""

    value: Any
    timestamp: int | None


class Evictor:
    """``evict_before`` runs before the window function, ``evict_after`` after it."""

    def evict_before(self, elements: list[TimestampedValue], size: int, window: Any, ctx: Any) -> None:
        pass  # no eviction before the function

    def evict_after(self, elements: list[TimestampedValue], size: int, window: Any, ctx: Any) -> None:
        pass  # no eviction after the function


class _BeforeOrAfter(Evictor):
    """Runs the subclass's ``evict(elements)`` before the function, or after it with ``do_evict_after``."""

    do_evict_after = False

    def evict(self, elements: list[TimestampedValue]) -> None:
        """Remove elements from ``elements`` in place (each subclass says which)."""
        raise NotImplementedError

    def evict_before(self, elements, size, window, ctx):
        if not self.do_evict_after:
            self.evict(elements)

    def evict_after(self, elements, size, window, ctx):
        if self.do_evict_after:
            self.evict(elements)


class CountEvictor(_BeforeOrAfter):
    """Keeps the last ``max_count`` elements (in arrival order)."""

    def __init__(self, max_count: int, do_evict_after: bool = False) -> None:
        if max_count <= 0:
            raise ValueError(f"CountEvictor needs max_count > 0, got {max_count}")
        self.max_count, self.do_evict_after = int(max_count), do_evict_after

    @staticmethod
    def of(max_count: int, do_evict_after: bool = False) -> CountEvictor:
        return CountEvictor(max_count, do_evict_after)

    def evict(self, elements):
        del elements[:max(0, len(elements) - self.max_count)]


class TimeEvictor(_BeforeOrAfter):
    """Keeps elements within ``window_size_ms`` of the newest element's timestamp."""

    def __init__(self, window_size_ms: int, do_evict_after: bool = False) -> None:
        self.window_size_ms, self.do_evict_after = int(window_size_ms), do_evict_after

    @staticmethod
    def of(window_size_ms: int, do_evict_after: bool = False) -> TimeEvictor:
        return TimeEvictor(window_size_ms, do_evict_after)

    def evict(self, elements):
        stamps = [e.timestamp for e in elements if e.timestamp is not None]
        if stamps:
            cutoff = max(stamps) - self.window_size_ms
            elements[:] = [e for e in elements if e.timestamp is None or e.timestamp > cutoff]


class DeltaEvictor(_BeforeOrAfter):
    """Drops elements whose ``delta_function(element, last element)`` is >= ``threshold``."""

    def __init__(self, threshold: float, delta_function: Callable[[Any, Any], float],
                 do_evict_after: bool = False) -> None:
        self.threshold, self.delta_function, self.do_evict_after = threshold, delta_function, do_evict_after

    @staticmethod
    def of(threshold: float, delta_function: Callable[[Any, Any], float],
           do_evict_after: bool = False) -> DeltaEvictor:
        return DeltaEvictor(threshold, delta_function, do_evict_after)

    def evict(self, elements):
        if elements:
            last = elements[-1].value
            elements[:] = [e for e in elements if self.delta_function(e.value, last) < self.threshold]
