"""Watermarks of a source subtask: per Kafka partition, idle partitions left out.

Flink generates watermarks per split (here: per partition) and takes the
minimum, so a partition lagging in event time holds the watermark back
instead of seeing its records turn late; ``WatermarkStrategy.with_idleness``
leaves out partitions that had no record for the idle timeout.

>>> wm = SourceWatermarks(["p0", "p1"], out_of_orderness_ms=100, idle_timeout_ms=1000, now_ms=0)
>>> wm.on_record("p0", 5_000, now_ms=10); wm.current(now_ms=500)   # p1 holds it back
-9223372036854775808
>>> wm.current(now_ms=1_500)   # p1 idle for 1 s; p0 too: the subtask is idle
>>> wm.on_record("p0", 6_000, now_ms=1_600); wm.current(now_ms=1_700)
5899
"""

from __future__ import annotations

from typing import Hashable, Iterable

from strom.runtime.timers import MIN_TIME


class SourceWatermarks:
    """``current(now)``: min over active partitions of max timestamp - out-of-orderness - 1 (ms);
    None when every partition that has not ended is idle."""

    def __init__(self, partitions: Iterable[Hashable], out_of_orderness_ms: int,
                 idle_timeout_ms: int | None, now_ms: float) -> None:
        self.bound, self.idle_timeout = out_of_orderness_ms, idle_timeout_ms
        self.max_timestamp = {p: MIN_TIME for p in partitions}
        self.last_record = {p: now_ms for p in self.max_timestamp}

    def on_record(self, partition: Hashable, timestamp: int | None, now_ms: float) -> None:
        self.last_record[partition] = now_ms
        if timestamp is not None and timestamp > self.max_timestamp[partition]:
            self.max_timestamp[partition] = timestamp

    def end(self, partition: Hashable) -> None:
        """A bounded partition reached its end: it no longer counts."""
        self.max_timestamp.pop(partition, None)

    def current(self, now_ms: float) -> int | None:
        active = [ts for p, ts in self.max_timestamp.items()
                  if self.idle_timeout is None or now_ms - self.last_record[p] < self.idle_timeout]
        if not active:
            return None if self.max_timestamp else MIN_TIME
        lowest = min(active)
        return MIN_TIME if lowest == MIN_TIME else lowest - self.bound - 1
