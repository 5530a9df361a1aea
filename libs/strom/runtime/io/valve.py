"""The input watermark of a task with several channels (Flink's StatusWatermarkValve; no Kafka here).

>>> valve = StatusWatermarkValve(["a", "b"])
>>> valve.on_watermark("a", 100)              # b has none yet: it holds the task back
(-9223372036854775808, False)
>>> valve.on_watermark("b", 50)
(50, False)
>>> valve.on_status("b", WatermarkStatus.IDLE)  # b idle: a alone counts
(100, False)
>>> valve.on_status("a", WatermarkStatus.IDLE)  # all idle: the highest, and the task is idle
(100, True)
"""

from __future__ import annotations

from collections.abc import Collection, Hashable

from strom.runtime.io.events import WatermarkStatus
from strom.runtime.timers import MIN_TIME

Channel = Hashable
InputWatermark = tuple[int, bool]  # (watermark ms, every open channel idle)


class StatusWatermarkValve:
    """Per-channel watermarks and idleness; each update returns the task's input watermark.

    The input watermark is the minimum over channels that have not ended and
    are not idle (a channel without a watermark yet counts as MIN_TIME). With
    every open channel idle it is the maximum over them, flagged idle: no
    active channel can hold it back, and downstream should leave this task
    out until it is active again. None once every channel ended (the task's
    end of input sets its watermark then).
    """

    def __init__(self, channels: Collection[Channel]) -> None:
        self.channels = frozenset(channels)
        self.watermarks: dict[Channel, int] = {}
        self.idle: set[Channel] = set()
        self.ended: set[Channel] = set()

    def on_watermark(self, channel: Channel, watermark: int) -> InputWatermark | None:
        """A watermark (ms) on ``channel``; it makes the channel active."""
        self.watermarks[channel] = watermark
        self.idle.discard(channel)
        return self.input_watermark()

    def on_status(self, channel: Channel, status: WatermarkStatus) -> InputWatermark | None:
        if status is WatermarkStatus.IDLE:
            self.idle.add(channel)
        else:
            self.idle.discard(channel)
        return self.input_watermark()

    def on_end_of_partition(self, channel: Channel) -> InputWatermark | None:
        self.ended.add(channel)
        return self.input_watermark()

    def input_watermark(self) -> InputWatermark | None:
        open_channels = self.channels - self.ended
        if not open_channels:
            return None
        active = open_channels - self.idle
        if not active:
            return max(self.watermarks.get(c, MIN_TIME) for c in open_channels), True
        return min(self.watermarks.get(c, MIN_TIME) for c in active), False
