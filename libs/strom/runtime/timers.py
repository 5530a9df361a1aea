"""Timers of a keyed operator: event time and processing time (Flink's InternalTimerService).

A timer is ``(domain, time ms, namespace)`` for one key; the namespace is the
window for a window operator and None for a process function. Registering the
same timer twice keeps one, as Flink deduplicates per key, namespace and
time. Each key's timers live in its keyed state under :data:`TIMERS_STATE`,
so a checkpoint carries them per key group and a restore (or a rescale, which
moves key groups) rebuilds the queues from state: the two heaps are only an
index, with lazy deletion.

>>> from strom.state.backend import HeapKeyedStateBackend
>>> backend = HeapKeyedStateBackend(); timers = InternalTimerService(backend)
>>> backend.current_key = "k"
>>> timers.register(EVENT_TIME, 20); timers.register(EVENT_TIME, 10); timers.register(EVENT_TIME, 10)
>>> timers.advance(EVENT_TIME, 15, lambda time, namespace: print("fired", time, backend.current_key))
fired 10 k
"""

from __future__ import annotations

import heapq
import itertools
import time as _time
from collections.abc import Callable
from typing import Any

from strom.state.backend import HeapKeyedStateBackend

EVENT_TIME, PROCESSING_TIME = 0, 1
TIMERS_STATE = "__timers"
MIN_TIME = -(2**63)
MAX_TIME = 2**63 - 1


def processing_time_ms() -> int:
    """Wall-clock ms since the epoch: the processing-time domain."""
    return int(_time.time() * 1000)


class InternalTimerService:
    """Event- and processing-time timers of the keys of one subtask's keyed state backend."""

    def __init__(self, backend: HeapKeyedStateBackend) -> None:
        self.backend = backend
        # Per domain: heap of (time, sequence, key group, key, namespace).
        self.queues: tuple[list, list] = ([], [])
        self._sequence = itertools.count()
        self.watermark = MIN_TIME

    def _timers(self) -> set:
        return self.backend.get(TIMERS_STATE, None) or set()

    def register(self, domain: int, time: int, namespace: Any = None) -> None:
        """A timer at ``time`` (ms) in ``domain`` for the current key."""
        timers = self._timers()
        timer = (domain, int(time), namespace)
        if timer in timers:
            return
        timers.add(timer)
        self.backend.put(TIMERS_STATE, timers)
        heapq.heappush(self.queues[domain], (int(time), next(self._sequence),
                                             self.backend.current_key_group, self.backend.current_key,
                                             namespace))

    def delete(self, domain: int, time: int, namespace: Any = None) -> None:
        """Forget the current key's timer (a no-op if there is none)."""
        timers = self._timers()
        timers.discard((domain, int(time), namespace))
        if timers:
            self.backend.put(TIMERS_STATE, timers)
        else:
            self.backend.remove(TIMERS_STATE)

    def has_timers(self, domain: int) -> bool:
        return bool(self.queues[domain])

    def advance(self, domain: int, time: int, on_timer: Callable[[int, Any], None]) -> None:
        """Fire every timer of ``domain`` up to ``time`` in time order: ``on_timer(time, namespace)``
        with the timer's key current. Timers registered while firing fire too if due, except
        when advancing to the end of time (end of input), which must terminate."""
        if domain == EVENT_TIME:
            self.watermark = time
        queue, backend = self.queues[domain], self.backend
        bound = next(self._sequence) if time == MAX_TIME else None
        while queue and queue[0][0] <= time and (bound is None or queue[0][1] < bound):
            timer_time, _sequence, key_group, key, namespace = heapq.heappop(queue)
            backend.current_key_group, backend.current_key = key_group, key
            timers = self._timers()
            if (domain, timer_time, namespace) not in timers:
                continue  # deleted
            self.delete(domain, timer_time, namespace)
            on_timer(timer_time, namespace)

    def restore(self) -> None:
        """Rebuild the queues from the timers in restored keyed state."""
        for key_group, table in self.backend.tables.get(TIMERS_STATE, {}).items():
            for key, timers in table.items():
                for domain, time, namespace in timers:
                    heapq.heappush(self.queues[domain], (time, next(self._sequence), key_group, key,
                                                         namespace))


class TimerService:
    """What user functions see (``ctx.timer_service()``), Flink's TimerService."""

    def __init__(self, timers: InternalTimerService | None) -> None:
        self._timers = timers

    def _service(self) -> InternalTimerService:
        if self._timers is None:
            raise RuntimeError("timers need a keyed stream: use key_by(...).process(KeyedProcessFunction)")
        return self._timers

    def current_processing_time(self) -> int:
        return processing_time_ms()

    def current_watermark(self) -> int:
        return self._timers.watermark if self._timers is not None else MIN_TIME

    def register_event_time_timer(self, time: int) -> None:
        """``on_timer`` runs once the watermark reaches ``time`` (ms)."""
        self._service().register(EVENT_TIME, time)

    def register_processing_time_timer(self, time: int) -> None:
        """``on_timer`` runs once the wall clock reaches ``time`` (ms since the epoch)."""
        self._service().register(PROCESSING_TIME, time)

    def delete_event_time_timer(self, time: int) -> None:
        self._service().delete(EVENT_TIME, time)

    def delete_processing_time_timer(self, time: int) -> None:
        self._service().delete(PROCESSING_TIME, time)
