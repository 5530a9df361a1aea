"""The event-time window operator: window state in keyed state, event-time timers, firing on watermarks.

Per key, keyed state "window" maps each TimeWindow to ``[accumulator, fired]``.
A window fires when the watermark reaches its ``max_timestamp`` (Flink's
EventTimeTrigger); with ``allowed_lateness`` its state is kept that much
longer and a late element re-fires it; elements later than that go to the
late-data side output if there is one, and are counted in
:attr:`WindowOperator.late_dropped`. Session windows merge on arrival. Timers are rebuilt from
the window state after a restore, so checkpoints need nothing else.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

from strom.api.windowing import ProcessWindowFunction, TimeWindow
from strom.graph.stream_graph import StreamNode
from strom.state.backend import HeapKeyedStateBackend

MIN_WATERMARK = -(2**63)
MAX_WATERMARK = 2**63 - 1
_ABSENT = object()


class RecordClock:
    """The event timestamp (ms) of the element being processed, None without event time."""

    timestamp: int | None = None


class WindowOperator:
    def __init__(self, node: StreamNode, backend: HeapKeyedStateBackend, out: Any, clock: RecordClock,
                 ctx: Any, late_output: Any = None) -> None:
        self.assigner, self.kind, self.lateness = node.window, node.window_function, node.allowed_lateness_ms
        self.merging = getattr(node.window, "merging", False)
        self.late_output = late_output
        self.function = node.function
        if hasattr(self.function, "open"):
            self.function.open(ctx)
        self.backend, self.out, self.clock = backend, out, clock
        self.watermark = MIN_WATERMARK
        self.timers: list[tuple[int, int, int, Any, Any]] = []  # (time, seq, key group, key, window)
        self._seq = itertools.count()
        self.late_dropped = 0

    # -- elements -------------------------------------------------------------------------
    def _add(self, accumulator: Any, element: Any) -> Any:
        if self.kind == "reduce":
            return element if accumulator is _ABSENT else self.function(accumulator, element)
        if self.kind == "aggregate":
            start = self.function.create_accumulator() if accumulator is _ABSENT else accumulator
            return self.function.add(element, start)
        return ([] if accumulator is _ABSENT else accumulator) + [element]

    def _merge(self, a: Any, b: Any) -> Any:
        if a is _ABSENT or b is _ABSENT:
            return b if a is _ABSENT else a
        if self.kind == "reduce":
            return self.function(a, b)
        if self.kind == "aggregate":
            return self.function.merge(a, b)
        return a + b

    def _merge_sessions(self, windows: dict, window: Any) -> Any:
        """Fold every window overlapping ``window`` into one (session windows); returns it."""
        overlapping = [w for w in windows if w.start <= window.end and window.start <= w.end]
        if not overlapping:
            return window
        merged = TimeWindow(min([window.start] + [w.start for w in overlapping]),
                            max([window.end] + [w.end for w in overlapping]))
        accumulator = _ABSENT
        for w in sorted(overlapping):
            accumulator = self._merge(accumulator, windows.pop(w)[0])
        windows[merged] = [accumulator, False]
        self._schedule(merged.max_timestamp(), merged)  # timers of the merged-away windows go stale
        return merged

    def collect(self, element: Any) -> None:
        timestamp = self.clock.timestamp
        if timestamp is None:
            raise ValueError("a window needs event time: give the source a WatermarkStrategy "
                             "or records with Kafka timestamps")
        windows = self.backend.get("window", None) or {}
        for window in self.assigner.assign_windows(timestamp):
            if window.max_timestamp() + self.lateness <= self.watermark:
                self.late_dropped += 1
                if self.late_output is not None:
                    self.late_output.collect(element)
                continue
            if self.merging:
                window = self._merge_sessions(windows, window)
            entry = windows.get(window)
            if entry is None:
                entry = windows[window] = [_ABSENT, False]
                self._schedule(window.max_timestamp(), window)
            entry[0] = self._add(entry[0], element)
            if window.max_timestamp() <= self.watermark:  # late but allowed: fire again now
                self._emit(window, entry[0])
                entry[1] = True
        if windows:
            self.backend.put("window", windows)

    # -- timers ---------------------------------------------------------------------------
    def _schedule(self, time: int, window: Any) -> None:
        heapq.heappush(self.timers, (time, next(self._seq), self.backend.current_key_group,
                                     self.backend.current_key, window))

    def restore_timers(self) -> None:
        """Rebuild timers from restored window state (fired windows only await their cleanup)."""
        for key_group, table in self.backend.tables.get("window", {}).items():
            for key, windows in table.items():
                for window, (_accumulator, fired) in windows.items():
                    time = window.max_timestamp() + (self.lateness if fired else 0)
                    heapq.heappush(self.timers, (time, next(self._seq), key_group, key, window))

    def on_watermark(self, watermark: int) -> None:
        """Fire and clean up every window whose time the watermark reached."""
        self.watermark = watermark
        while self.timers and self.timers[0][0] <= watermark:
            time, _seq, key_group, key, window = heapq.heappop(self.timers)
            self.backend.current_key_group, self.backend.current_key = key_group, key
            windows = self.backend.get("window", None) or {}
            entry = windows.get(window)
            if entry is None:
                continue
            if not entry[1]:
                self._emit(window, entry[0])
                entry[1] = True
            if self.lateness and time < window.max_timestamp() + self.lateness:
                self._schedule(window.max_timestamp() + self.lateness, window)
            else:
                del windows[window]
            if windows:
                self.backend.put("window", windows)
            else:
                self.backend.remove("window")

    def _emit(self, window: Any, accumulator: Any) -> None:
        self.clock.timestamp = window.max_timestamp()
        if self.kind == "reduce":
            results = [accumulator]
        elif self.kind == "aggregate":
            results = [self.function.get_result(accumulator)]
        else:
            context = ProcessWindowFunction.Context(window, self.watermark)
            results = self.function.process(self.backend.current_key, context, accumulator)
        for result in results:
            self.out.collect(result)
