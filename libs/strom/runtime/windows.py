"""The window operator (Flink's WindowOperator and EvictingWindowOperator in one).

Per key, keyed state ``"window-contents"`` maps each window to its contents:
the running reduce value or aggregate accumulator, the list of elements for a
``process`` function, or, with an evictor, the list of
:class:`~strom.api.evictors.TimestampedValue`. The trigger decides on every
element and timer whether to fire and/or purge; timers (the trigger's, and
one cleanup timer per window at ``max_timestamp + allowed_lateness``, or at
``max_timestamp`` for processing-time windows) live in the
:class:`~strom.runtime.timers.InternalTimerService`, so contents, trigger
state and timers are all in the checkpointed keyed state.

An element is late when every window it belongs to is past its cleanup
time; it then goes to the late-data side output if there is one, and is
counted in :attr:`WindowOperator.late_dropped` (Flink's numLateRecordsDropped).
Session windows merge on arrival; the trigger merges its per-window state.
"""

from __future__ import annotations

from typing import Any

from strom.api.evictors import TimestampedValue
from strom.api.triggers import EventTimeTrigger, TriggerResult
from strom.api.windowing import GlobalWindow, GlobalWindows, ProcessWindowFunction, TimeWindow
from strom.graph.stream_graph import StreamNode
from strom.runtime.timers import (
    EVENT_TIME,
    MAX_TIME,
    MIN_TIME,
    PROCESSING_TIME,
    InternalTimerService,
    processing_time_ms,
)
from strom.state.api import ReducingState, ValueState
from strom.state.backend import HeapKeyedStateBackend, NamespacedBackend

MIN_WATERMARK, MAX_WATERMARK = MIN_TIME, MAX_TIME
CONTENTS = "window-contents"
_ABSENT = object()


class RecordClock:
    """The event timestamp (ms) of the element being processed, None without event time."""

    timestamp: int | None = None


class _TriggerContext:
    """What a trigger sees for the current key and ``window`` (Flink's Trigger.TriggerContext)."""

    def __init__(self, operator: WindowOperator) -> None:
        self.operator, self.timers = operator, operator.timers
        self.window: Any = None
        self.merged_windows: list = []

    def get_current_watermark(self) -> int:
        return self.timers.watermark

    def get_current_processing_time(self) -> int:
        return processing_time_ms()

    def register_event_time_timer(self, time: int) -> None:
        self.timers.register(EVENT_TIME, time, self.window)

    def register_processing_time_timer(self, time: int) -> None:
        self.timers.register(PROCESSING_TIME, time, self.window)

    def delete_event_time_timer(self, time: int) -> None:
        self.timers.delete(EVENT_TIME, time, self.window)

    def delete_processing_time_timer(self, time: int) -> None:
        self.timers.delete(PROCESSING_TIME, time, self.window)

    def get_partitioned_state(self, descriptor: Any) -> Any:
        """Value or reducing state of the current key and window."""
        backend = NamespacedBackend(self.operator.backend, self.window)
        if hasattr(descriptor, "reduce_function"):
            return ReducingState(backend, descriptor)
        return ValueState(backend, descriptor)

    def merge_partitioned_state(self, descriptor: Any) -> None:
        """Fold the reducing state of the windows merged away into the merged window's."""
        target = self.get_partitioned_state(descriptor)
        for window in self.merged_windows:
            source = ReducingState(NamespacedBackend(self.operator.backend, window), descriptor)
            if source.get() is not None:
                target.add(source.get())


class WindowOperator:
    """Keyed windows of one subtask: ``collect`` per element, ``on_watermark`` / ``on_processing_time``
    fire due timers. Emits results with the window's ``max_timestamp`` as their timestamp."""

    def __init__(self, node: StreamNode, backend: HeapKeyedStateBackend, timers: InternalTimerService,
                 out: Any, clock: RecordClock, ctx: Any, late_output: Any = None) -> None:
        self.assigner, self.kind, self.lateness = node.window, node.window_function, node.allowed_lateness_ms
        self.event_time = self.assigner.is_event_time()
        self.merging = getattr(self.assigner, "merging", False)
        self.trigger = node.trigger or self.assigner.get_default_trigger()
        if self.merging and not self.trigger.can_merge():
            raise ValueError(f"{self.trigger!r} cannot be used with merging windows ({self.assigner!r})")
        self.evictor = node.evictor
        self.plain_event_time = type(self.trigger) is EventTimeTrigger
        self.global_windows = isinstance(self.assigner, GlobalWindows)
        # The user's function: a callable, or a Reduce/Aggregate/ProcessWindowFunction by ``kind``.
        self.function: Any = node.function
        self.window_function: Any = node.window_process
        functions: tuple[Any, ...] = (node.function, node.window_process)
        for function in functions:
            if hasattr(function, "open"):
                function.open(ctx)
        if self.kind == "reduce" and hasattr(functions[0], "reduce"):  # a ReduceFunction
            self.function = functions[0].reduce
        self.backend, self.timers, self.out, self.clock = backend, timers, out, clock
        self.late_output = late_output
        self.trigger_ctx = _TriggerContext(self)
        self.late_dropped = 0

    # -- contents -------------------------------------------------------------------------
    def _add(self, contents: Any, element: Any, timestamp: int | None) -> Any:
        if self.evictor is not None:
            return ([] if contents is _ABSENT else contents) + [TimestampedValue(element, timestamp)]
        if self.kind == "reduce":
            return element if contents is _ABSENT else self.function(contents, element)
        if self.kind == "aggregate":
            start = self.function.create_accumulator() if contents is _ABSENT else contents
            return self.function.add(element, start)
        return ([] if contents is _ABSENT else contents) + [element]

    def _merge(self, a: Any, b: Any) -> Any:
        if a is _ABSENT or b is _ABSENT:
            return b if a is _ABSENT else a
        if self.evictor is None and self.kind == "reduce":
            return self.function(a, b)
        if self.evictor is None and self.kind == "aggregate":
            return self.function.merge(a, b)
        return a + b

    def _cleanup_time(self, window: Any) -> int:
        if isinstance(window, GlobalWindow):
            return MAX_TIME
        return window.max_timestamp() + (self.lateness if self.event_time else 0)

    def _register_cleanup(self, window: Any) -> None:
        time = self._cleanup_time(window)
        if time != MAX_TIME:
            self.timers.register(EVENT_TIME if self.event_time else PROCESSING_TIME, time, window)

    def _merge_sessions(self, windows: dict, window: TimeWindow) -> TimeWindow:
        """Fold every window overlapping ``window`` into one; returns the window to add to."""
        overlapping = [w for w in windows if w.start <= window.end and window.start <= w.end]
        merged = TimeWindow(min([window.start] + [w.start for w in overlapping]),
                            max([window.end] + [w.end for w in overlapping]))
        merged_away = [w for w in overlapping if w != merged]
        if not merged_away:
            return merged
        contents = windows.pop(merged, _ABSENT)
        for w in sorted(merged_away):
            contents = self._merge(contents, windows.pop(w))
        windows[merged] = contents
        ctx = self.trigger_ctx
        ctx.window, ctx.merged_windows = merged, merged_away
        self.trigger.on_merge(merged, ctx)
        for w in merged_away:
            ctx.window = w
            self.trigger.clear(w, ctx)
            self.timers.delete(EVENT_TIME if self.event_time else PROCESSING_TIME, self._cleanup_time(w), w)
        ctx.merged_windows = []
        self._register_cleanup(merged)
        return merged

    # -- elements -------------------------------------------------------------------------
    def collect(self, element: Any) -> None:
        timestamp = self.clock.timestamp
        if self.event_time and timestamp is None:
            raise ValueError("an event-time window needs event time: give the source a WatermarkStrategy "
                             "or records with Kafka timestamps")
        assign_time = timestamp if self.event_time else processing_time_ms()
        windows = self.backend.get(CONTENTS, None) or {}
        skipped = True
        # A window is late once its cleanup time (end - 1 + lateness) is behind the watermark.
        late_before = (self.timers.watermark - self.lateness + 1 if self.event_time and not self.global_windows
                       else MIN_TIME)
        for window in self.assigner.assign_windows(element, assign_time, self.trigger_ctx):
            if self.merging:  # merge first: an element extending a live session is not late (Flink)
                window = self._merge_sessions(windows, window)
            if late_before != MIN_TIME and window.end <= late_before:
                continue
            skipped = False
            contents = windows.get(window, _ABSENT)
            new = contents is _ABSENT
            if new:
                self._register_cleanup(window)
            windows[window] = contents = self._add(contents, element, timestamp)
            if self.plain_event_time and not new:
                # What EventTimeTrigger.on_element would do for a window it has seen (its timer is
                # registered; only an allowed late element fires), without the trigger call, the timer
                # lookup and the TriggerResult: 1.75x on sliding windows (bench/window_operator.py).
                if window.max_timestamp() <= self.timers.watermark:
                    self._emit(window, contents)
                continue
            self.trigger_ctx.window = window
            result = self.trigger.on_element(element, assign_time, window, self.trigger_ctx)
            self._act(result, window, contents, windows)
        if windows:
            self.backend.put(CONTENTS, windows)
        else:
            self.backend.remove(CONTENTS)
        if skipped and self.event_time and timestamp is not None \
                and timestamp + self.lateness <= self.timers.watermark:
            self.late_dropped += 1
            if self.late_output is not None:
                self.late_output.collect(element)

    def _act(self, result: Any, window: Any, contents: Any, windows: dict) -> None:
        if result is TriggerResult.CONTINUE:  # the answer to most elements
            return
        if result.is_fire():
            self._emit(window, contents)
        if result.is_purge():
            windows.pop(window, None)

    # -- timers ---------------------------------------------------------------------------
    def on_watermark(self, watermark: int) -> None:
        """Fire every event-time timer up to ``watermark`` (ms)."""
        self.timers.advance(EVENT_TIME, watermark, self._on_event_time)

    def on_processing_time(self, now: int) -> None:
        """Fire every processing-time timer up to ``now`` (ms since the epoch)."""
        self.timers.advance(PROCESSING_TIME, now, self._on_processing_time)

    def _on_event_time(self, time: int, window: Any) -> None:
        self.clock.timestamp = time  # what a global window's result carries (a time window: its end)
        self._on_timer(time, window, self.trigger.on_event_time, self.event_time)

    def _on_processing_time(self, time: int, window: Any) -> None:
        self.clock.timestamp = None
        self._on_timer(time, window, self.trigger.on_processing_time, not self.event_time)

    def _on_timer(self, time: int, window: Any, trigger_method: Any, cleanup_domain: bool) -> None:
        windows = self.backend.get(CONTENTS, None) or {}
        self.trigger_ctx.window = window
        result = trigger_method(time, window, self.trigger_ctx)
        contents = windows.get(window, _ABSENT)
        if contents is not _ABSENT:
            self._act(result, window, contents, windows)
        if cleanup_domain and time == self._cleanup_time(window):
            windows.pop(window, None)
            self.trigger.clear(window, self.trigger_ctx)
        if windows:
            self.backend.put(CONTENTS, windows)
        else:
            self.backend.remove(CONTENTS)

    # -- output ---------------------------------------------------------------------------
    def _emit(self, window: Any, contents: Any) -> None:
        if not isinstance(window, GlobalWindow):  # a global one: the element's, or event timer's, time
            self.clock.timestamp = window.max_timestamp()
        if self.evictor is not None:
            elements = list(contents)
            self.evictor.evict_before(elements, len(elements), window, self.trigger_ctx)
            values = [e.value for e in elements]
            if self.kind == "reduce":
                result = self._fold(values)
                results = [] if result is _ABSENT else [result]
            elif self.kind == "aggregate":
                accumulator = self.function.create_accumulator()
                for value in values:
                    accumulator = self.function.add(value, accumulator)
                results = [self.function.get_result(accumulator)]
            else:
                results = self._process(window, values)
            self.evictor.evict_after(elements, len(elements), window, self.trigger_ctx)
            contents[:] = elements
        elif self.kind == "reduce":
            results = [contents]
        elif self.kind == "aggregate":
            results = [self.function.get_result(contents)]
        else:
            results = self._process(window, contents)
        if self.window_function is not None and self.kind in ("reduce", "aggregate"):
            results = self._process(window, results, self.window_function)
        for result in results:
            self.out.collect(result)

    def _fold(self, values: list) -> Any:
        result = _ABSENT
        for value in values:
            result = value if result is _ABSENT else self.function(result, value)
        return result

    def _process(self, window: Any, elements: list, function: Any = None) -> Any:
        function = function or self.function
        key = self.backend.current_key
        if hasattr(function, "apply"):  # WindowFunction
            return function.apply(key, window, elements)
        context = ProcessWindowFunction.Context(window, self.timers.watermark, processing_time_ms())
        return function.process(key, context, elements)
