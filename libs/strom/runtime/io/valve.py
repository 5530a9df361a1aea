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

One upstream subtask reaches a task over several channels (one per Kafka
partition the task reads), and the consumer reads those partitions at
different speeds. So an upstream's channels are left out only while *every*
one of them is idle: otherwise a channel that has read the upstream's IDLE
but not yet the records it wrote after becoming active again would be left
out, and the watermark that arrived first on another partition would pass
those records.

>>> valve = StatusWatermarkValve([("p0", "u"), ("p1", "u"), ("p0", "v")], upstream_of=lambda c: c[1])
>>> _ = valve.on_status(("p0", "v"), WatermarkStatus.IDLE)
>>> _ = [valve.on_watermark(c, 100) for c in [("p0", "u"), ("p1", "u")]]
>>> _ = [valve.on_status(c, WatermarkStatus.IDLE) for c in [("p0", "u"), ("p1", "u")]]
>>> valve.on_watermark(("p0", "u"), 900)      # u active again on p0; p1 still holds 100
(100, False)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Hashable
from typing import Generic, TypeVar

from strom.runtime.io.events import WatermarkStatus
from strom.runtime.timers import MIN_TIME

Channel = TypeVar("Channel", bound=Hashable)
InputWatermark = tuple[int, bool]  # (watermark ms, every open channel idle)


class StatusWatermarkValve(Generic[Channel]):
    """Per-channel watermarks and idleness; each update returns the task's input watermark.

    The input watermark is the minimum over channels that have not ended and
    whose upstream is not idle (a channel without a watermark yet counts as
    MIN_TIME). An upstream (``upstream_of(channel)``; each channel its own by
    default) is idle when every one of its open channels is. With every open
    channel idle it is the maximum over them, flagged idle: no active channel
    can hold it back, and downstream should leave this task out until it is
    active again. None once every channel ended (the task's end of input sets
    its watermark then).
    """

    def __init__(self, channels: Collection[Channel],
                 upstream_of: Callable[[Channel], Hashable] | None = None) -> None:
        self.channels = frozenset(channels)
        self.upstream_of = upstream_of or (lambda channel: channel)
        self.by_upstream: dict[Hashable, set[Channel]] = defaultdict(set)
        for channel in self.channels:
            self.by_upstream[self.upstream_of(channel)].add(channel)
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
        if not self.idle:  # the common case, cheap: every open channel counts
            return min(self.watermarks.get(c, MIN_TIME) for c in open_channels), False
        active = [c for channels in self.by_upstream.values()
                  if not (open_upstream := channels - self.ended) <= self.idle for c in open_upstream]
        if not active:
            return max(self.watermarks.get(c, MIN_TIME) for c in open_channels), True
        return min(self.watermarks.get(c, MIN_TIME) for c in active), False
