"""Watermarks of a source subtask: per Kafka partition, idle partitions left out.

Flink generates watermarks per split (here: per partition) and takes the
minimum, so a partition lagging in event time holds the watermark back
instead of seeing its records turn late; ``WatermarkStrategy.with_idleness``
leaves out partitions that had no record for the idle timeout.

Idleness is judged as Flink's ``IdlenessTimer`` does: a partition that had a
record since the previous periodic check is active; one without is idle once
the idle timeout passed since the first check that found it without. So a
batch that takes longer than the timeout to process does not make a busy
partition idle (its records only count at the next check).

>>> wm = SourceWatermarks(["p0", "p1"], out_of_orderness_ms=100, idle_timeout_ms=1000, now_ms=0)
>>> wm.on_record("p0", 5_000); wm.current(now_ms=500)   # p1 holds it back
-9223372036854775808
>>> wm.current(now_ms=1_000)   # p1 idle for 1 s: left out; p0 had a record since the last check
4899
>>> wm.current(now_ms=2_000)   # p0 without a record since 1 s: both idle, the subtask is idle
>>> wm.on_record("p0", 6_000); wm.current(now_ms=2_100)
5899
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, Protocol

from strom.runtime.io.events import Watermark, WatermarkStatus
from strom.runtime.io.valve import InputWatermark
from strom.runtime.timers import MIN_TIME


class EventWriter(Protocol):
    def broadcast_event(self, event: Any) -> None: ...


class SourceWatermarks:
    """``current(now)``: min over active partitions of max timestamp - out-of-orderness - 1 (ms);
    None when every partition that has not ended is idle (see the module for when that is)."""

    def __init__(self, partitions: Iterable[Hashable], out_of_orderness_ms: int,
                 idle_timeout_ms: int | None, now_ms: float) -> None:
        self.bound, self.idle_timeout = out_of_orderness_ms, idle_timeout_ms
        self.max_timestamp = {p: MIN_TIME for p in partitions}
        self.had_record: set[Hashable] = set()  # since the previous check
        # When each partition was first found without a record (None: it had one at the last check).
        self.inactive_since: dict[Hashable, float | None] = dict.fromkeys(self.max_timestamp, now_ms)

    def on_record(self, partition: Hashable, timestamp: int | None) -> None:
        self.had_record.add(partition)
        if timestamp is not None and timestamp > self.max_timestamp[partition]:
            self.max_timestamp[partition] = timestamp

    def end(self, partition: Hashable) -> None:
        """A bounded partition reached its end: it no longer counts."""
        self.max_timestamp.pop(partition, None)

    def current(self, now_ms: float) -> int | None:
        active = [ts for p, ts in self.max_timestamp.items() if not self._idle(p, now_ms)]
        self.had_record.clear()
        if not active:
            return None if self.max_timestamp else MIN_TIME
        lowest = min(active)
        return MIN_TIME if lowest == MIN_TIME else lowest - self.bound - 1

    def _idle(self, partition: Hashable, now_ms: float) -> bool:
        if partition in self.had_record:
            self.inactive_since[partition] = None
            return False
        since = self.inactive_since[partition]
        if since is None:
            self.inactive_since[partition] = now_ms
            return False
        return self.idle_timeout is not None and now_ms - since >= self.idle_timeout


class WatermarkOutput:
    """The event time of a subtask and the watermark status it announced downstream.

    ``timed_operator``: the keyed head operator whose event-time timers fire
    (``on_watermark(ms)``), or None; ``writers``: where watermarks and
    idleness go. ``watermark`` (ms) is what a snapshot records.
    """

    def __init__(self, writers: Sequence[EventWriter], timed_operator: Any | None) -> None:
        self.writers, self.timed_operator = writers, timed_operator
        self.watermark = MIN_TIME
        self.idle = False  # told downstream that all its inputs are idle
        self.input_watermark: int | None = None  # the valve's last input watermark (ms), a metric

    def emit_watermark(self, watermark: int) -> None:
        """The task's event time moved to ``watermark``: fire timers, then tell downstream.

        An idle task becomes active again: it re-announces its watermark even if unchanged.
        """
        if watermark <= self.watermark and not self.idle:
            return
        self.idle = False
        if watermark > self.watermark:
            self.watermark = watermark
            if self.timed_operator is not None:
                self.timed_operator.on_watermark(watermark)
        event = Watermark(self.watermark)
        for writer in self.writers:
            writer.broadcast_event(event)

    def mark_idle(self) -> None:
        """Every input of this task is idle: downstream leaves its channels out of their watermark."""
        if not self.idle:
            self.idle = True
            for writer in self.writers:
                writer.broadcast_event(WatermarkStatus.IDLE)

    def emit_input_watermark(self, status: InputWatermark | None) -> None:
        """Follow a :class:`~strom.runtime.io.valve.StatusWatermarkValve`'s input watermark:
        all inputs idle -> advance to their highest watermark, then idle."""
        if status is None:
            return
        watermark, idle = status
        self.input_watermark = watermark
        if not idle:
            self.emit_watermark(watermark)
            return
        if watermark > self.watermark:
            self.emit_watermark(watermark)
        self.mark_idle()
