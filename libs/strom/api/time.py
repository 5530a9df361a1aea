"""Event time: durations, timestamp assigners and watermark strategies (PyFlink's names).

>>> strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(5))
...             .with_timestamp_assigner(lambda event, kafka_ts: event["ts"]))
>>> strategy.max_out_of_orderness_ms
5000
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any


class Duration:
    """Durations in ms, built the PyFlink way: ``Duration.of_seconds(5) == 5000``."""

    @staticmethod
    def of_millis(ms: int) -> int:
        return int(ms)

    @staticmethod
    def of_seconds(seconds: float) -> int:
        return int(seconds * 1000)

    @staticmethod
    def of_minutes(minutes: float) -> int:
        return int(minutes * 60_000)

    @staticmethod
    def of_hours(hours: float) -> int:
        return int(hours * 3_600_000)


class TimestampAssigner:
    """``extract_timestamp(value, record_timestamp) -> ms since the epoch``."""

    def extract_timestamp(self, value: Any, record_timestamp: int) -> int:
        raise TypeError(f"{type(self).__name__} must define extract_timestamp(value, record_timestamp)")


@dataclass(frozen=True)
class WatermarkStrategy:
    """How a source stamps event time and advances watermarks.

    ``max_out_of_orderness_ms`` None = no watermarks. A source subtask emits
    ``max timestamp seen - max_out_of_orderness - 1`` into every partition it
    writes, every 200 ms (Flink's auto-watermark interval), and the maximum
    watermark at the end of bounded input. Without an assigner the Kafka
    record timestamp is the event time.

    The watermark is the minimum over the subtask's partitions, so an empty
    partition holds it back; ``with_idleness(ms)`` leaves out partitions
    without records for that long, and a subtask whose partitions are all
    idle tells downstream to leave it out too, until records come again.
    """

    max_out_of_orderness_ms: int | None = None
    timestamp_assigner: Callable[[Any, int], int] | None = None
    idle_timeout_ms: int | None = None

    @staticmethod
    def for_bounded_out_of_orderness(max_out_of_orderness_ms: int) -> WatermarkStrategy:
        return WatermarkStrategy(int(max_out_of_orderness_ms))

    @staticmethod
    def for_monotonous_timestamps() -> WatermarkStrategy:
        return WatermarkStrategy(0)

    @staticmethod
    def no_watermarks() -> WatermarkStrategy:
        return WatermarkStrategy(None)

    def with_idleness(self, idle_timeout_ms: int) -> WatermarkStrategy:
        """A partition without records for ``idle_timeout_ms`` no longer holds the watermark back."""
        if idle_timeout_ms <= 0:
            raise ValueError(f"idle timeout must be > 0 ms, got {idle_timeout_ms}")
        return replace(self, idle_timeout_ms=int(idle_timeout_ms))

    def with_timestamp_assigner(self, assigner: TimestampAssigner | Callable[[Any, int], int]
                                ) -> WatermarkStrategy:
        function = assigner.extract_timestamp if isinstance(assigner, TimestampAssigner) else assigner
        return replace(self, timestamp_assigner=function)
