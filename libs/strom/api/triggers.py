"""Window triggers: when a window's function runs and when its contents are purged (Flink's names).

A trigger answers each element and each timer of a window with a
:class:`TriggerResult`. Through the context it registers event-time or
processing-time timers and keeps per-window state
(``ctx.get_partitioned_state(descriptor)``); timers and state are part of
checkpoints. Every assigner has a default trigger (event-time windows:
:class:`EventTimeTrigger`; processing-time windows:
:class:`ProcessingTimeTrigger`; GlobalWindows: :class:`NeverTrigger`);
``window(...).trigger(t)`` replaces it.

>>> PurgingTrigger.of(CountTrigger.of(3))
PurgingTrigger(CountTrigger(3))
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from strom.state.api import ReducingStateDescriptor


class TriggerResult(Enum):
    """CONTINUE: nothing; FIRE: emit the window's result; PURGE: drop its contents; FIRE_AND_PURGE: both."""

    CONTINUE = (False, False)
    FIRE = (True, False)
    PURGE = (False, True)
    FIRE_AND_PURGE = (True, True)

    def __init__(self, fire: bool, purge: bool) -> None:
        self.fire, self.purge = fire, purge  # plain attributes: asked for every element

    def is_fire(self) -> bool:
        return self.fire

    def is_purge(self) -> bool:
        return self.purge


class Trigger:
    """Base class; ``ctx`` offers ``register_event_time_timer(ms)``, ``register_processing_time_timer(ms)``,
    their ``delete_*`` twins, ``get_current_watermark()``, ``get_current_processing_time()``,
    ``get_partitioned_state(descriptor)`` and, in ``on_merge``, ``merge_partitioned_state(descriptor)``."""

    def on_element(self, element: Any, timestamp: int, window: Any, ctx: Any) -> TriggerResult:
        raise TypeError(f"{type(self).__name__} must define on_element(element, timestamp, window, ctx)")

    def on_processing_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def on_event_time(self, time: int, window: Any, ctx: Any) -> TriggerResult:
        return TriggerResult.CONTINUE

    def can_merge(self) -> bool:
        """Whether this trigger works with merging (session) windows."""
        return False

    def on_merge(self, window: Any, ctx: Any) -> None:
        raise TypeError(f"{type(self).__name__} does not support merging (session) windows")

    def clear(self, window: Any, ctx: Any) -> None:
        """The window is purged for good: drop this trigger's timers and state of it."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EventTimeTrigger(Trigger):
    """Fires once the watermark passes the window's end (and again for each allowed late element)."""

    @staticmethod
    def create() -> EventTimeTrigger:
        return EventTimeTrigger()

    def on_element(self, element, timestamp, window, ctx):
        if window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE  # late but within the allowed lateness
        ctx.register_event_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_event_time(self, time, window, ctx):
        return TriggerResult.FIRE if time == window.max_timestamp() else TriggerResult.CONTINUE

    def can_merge(self):
        return True

    def on_merge(self, window, ctx):
        if window.max_timestamp() > ctx.get_current_watermark():
            ctx.register_event_time_timer(window.max_timestamp())

    def clear(self, window, ctx):
        ctx.delete_event_time_timer(window.max_timestamp())


class ProcessingTimeTrigger(Trigger):
    """Fires when the wall clock passes the window's end."""

    @staticmethod
    def create() -> ProcessingTimeTrigger:
        return ProcessingTimeTrigger()

    def on_element(self, element, timestamp, window, ctx):
        ctx.register_processing_time_timer(window.max_timestamp())
        return TriggerResult.CONTINUE

    def on_processing_time(self, time, window, ctx):
        return TriggerResult.FIRE

    def can_merge(self):
        return True

    def on_merge(self, window, ctx):
        if window.max_timestamp() > ctx.get_current_processing_time():
            ctx.register_processing_time_timer(window.max_timestamp())

    def clear(self, window, ctx):
        ctx.delete_processing_time_timer(window.max_timestamp())


class NeverTrigger(Trigger):
    """GlobalWindows' default: never fires (give the window a trigger)."""

    def on_element(self, element, timestamp, window, ctx):
        return TriggerResult.CONTINUE

    def can_merge(self):
        return True

    def on_merge(self, window, ctx):
        pass  # nothing to carry over


def _add(a: int, b: int) -> int:
    return a + b


class CountTrigger(Trigger):
    """Fires each time the window holds ``count`` more elements (count kept per window, checkpointed)."""

    def __init__(self, count: int) -> None:
        if count <= 0:
            raise ValueError(f"CountTrigger needs a count > 0, got {count}")
        self.count = int(count)
        self._state = ReducingStateDescriptor("count-trigger", _add)

    @staticmethod
    def of(count: int) -> CountTrigger:
        return CountTrigger(count)

    def on_element(self, element, timestamp, window, ctx):
        count = ctx.get_partitioned_state(self._state)
        count.add(1)
        if count.get() >= self.count:
            count.clear()
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def can_merge(self):
        return True

    def on_merge(self, window, ctx):
        ctx.merge_partitioned_state(self._state)

    def clear(self, window, ctx):
        ctx.get_partitioned_state(self._state).clear()

    def __repr__(self):
        return f"CountTrigger({self.count})"


class PurgingTrigger(Trigger):
    """Wraps a trigger: each of its FIREs becomes FIRE_AND_PURGE."""

    def __init__(self, nested: Trigger) -> None:
        self.nested = nested

    @staticmethod
    def of(nested: Trigger) -> PurgingTrigger:
        return PurgingTrigger(nested)

    @staticmethod
    def _purging(result: TriggerResult) -> TriggerResult:
        return TriggerResult.FIRE_AND_PURGE if result.is_fire() else result

    def on_element(self, element, timestamp, window, ctx):
        return self._purging(self.nested.on_element(element, timestamp, window, ctx))

    def on_event_time(self, time, window, ctx):
        return self._purging(self.nested.on_event_time(time, window, ctx))

    def on_processing_time(self, time, window, ctx):
        return self._purging(self.nested.on_processing_time(time, window, ctx))

    def can_merge(self):
        return self.nested.can_merge()

    def on_merge(self, window, ctx):
        self.nested.on_merge(window, ctx)

    def clear(self, window, ctx):
        self.nested.clear(window, ctx)

    def __repr__(self):
        return f"PurgingTrigger({self.nested!r})"


class _ContinuousTrigger(Trigger):
    """Fires every ``interval_ms`` of its time domain while the window lives, and at its end."""

    event_time = True

    def __init__(self, interval_ms: int) -> None:
        if interval_ms <= 0:
            raise ValueError(f"{type(self).__name__} needs an interval > 0 ms, got {interval_ms}")
        self.interval_ms = int(interval_ms)
        self._state = ReducingStateDescriptor("continuous-trigger-fire-time", min)

    @classmethod
    def of(cls, interval_ms: int):
        return cls(interval_ms)

    def _now(self, ctx) -> int:
        return ctx.get_current_watermark() if self.event_time else ctx.get_current_processing_time()

    def _register(self, time: int, ctx) -> None:
        if self.event_time:
            ctx.register_event_time_timer(time)
        else:
            ctx.register_processing_time_timer(time)

    def _schedule_next(self, after: int, window, ctx) -> None:
        # The first multiple of the interval past ``after``, not beyond the window's end.
        next_fire = min(after - after % self.interval_ms + self.interval_ms, window.max_timestamp())
        state = ctx.get_partitioned_state(self._state)
        state.clear()
        state.add(next_fire)
        self._register(next_fire, ctx)

    def on_element(self, element, timestamp, window, ctx):
        if self.event_time and window.max_timestamp() <= ctx.get_current_watermark():
            return TriggerResult.FIRE
        if self.event_time:
            ctx.register_event_time_timer(window.max_timestamp())
        if ctx.get_partitioned_state(self._state).get() is None:
            self._schedule_next(timestamp if self.event_time else self._now(ctx), window, ctx)
        return TriggerResult.CONTINUE

    def _on_time(self, time, window, ctx):
        if self.event_time and time == window.max_timestamp():
            return TriggerResult.FIRE
        state = ctx.get_partitioned_state(self._state)
        if state.get() == time:
            if time < window.max_timestamp():
                self._schedule_next(time, window, ctx)
            else:
                state.clear()
            return TriggerResult.FIRE
        return TriggerResult.CONTINUE

    def on_event_time(self, time, window, ctx):
        return self._on_time(time, window, ctx) if self.event_time else TriggerResult.CONTINUE

    def on_processing_time(self, time, window, ctx):
        return TriggerResult.CONTINUE if self.event_time else self._on_time(time, window, ctx)

    def can_merge(self):
        return True

    def on_merge(self, window, ctx):
        ctx.merge_partitioned_state(self._state)
        state = ctx.get_partitioned_state(self._state)
        if state.get() is not None:
            self._register(state.get(), ctx)

    def clear(self, window, ctx):
        state = ctx.get_partitioned_state(self._state)
        fire_time = state.get()
        if fire_time is not None:
            if self.event_time:
                ctx.delete_event_time_timer(fire_time)
            else:
                ctx.delete_processing_time_timer(fire_time)
        state.clear()

    def __repr__(self):
        return f"{type(self).__name__}({self.interval_ms})"


class ContinuousEventTimeTrigger(_ContinuousTrigger):
    """Fires every ``interval_ms`` of event time (early results), and when the watermark passes the end."""


class ContinuousProcessingTimeTrigger(_ContinuousTrigger):
    """Fires every ``interval_ms`` of wall-clock time while the window has elements."""

    event_time = False
