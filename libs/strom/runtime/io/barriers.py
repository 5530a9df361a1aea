"""Checkpoint barrier handling over a task's input channels (no Kafka here).

A channel is ``((topic, partition), upstream subtask)``: every upstream
subtask writes its own barriers into every partition it feeds.

* :class:`SingleCheckpointBarrierHandler` (exactly-once, Flink's aligned
  handler): after barrier n arrives on a channel, that channel is *blocked*:
  what follows it is held back (:meth:`~SingleCheckpointBarrierHandler.hold`)
  until barrier n arrived on every channel that has not ended; then the
  checkpoint is triggered and the held items are replayed in arrival order.
* :class:`CheckpointBarrierTracker` (at-least-once): the same counting, but
  nothing is held; records after a barrier go into the checkpoint's state too.

A barrier of a newer checkpoint supersedes an incomplete one (whose
barriers will never all arrive: a source skipped it or it was declined):
its held items are replayed first. Barriers of checkpoints already taken or
superseded are ignored.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Hashable
from typing import Any

Channel = Hashable


class SingleCheckpointBarrierHandler:
    """Aligns barriers of one checkpoint at a time over ``channels``.

    ``trigger(checkpoint_id)`` takes the snapshot once every open channel
    delivered the barrier; ``replay(item)`` hands a held item back to the
    reader (which may hold it again behind the next barrier).

    Readers check :attr:`blocking` (a set that keeps its identity) before
    processing an item: ``if blocking and channel in blocking: handler.hold(item)``.
    ``buffer()`` makes the container of held items (``append``, iteration in order): a deque by
    default, a :class:`~strom.runtime.io.spill.SpillingBuffer` in tasks.
    """

    def __init__(self, channels: Collection[Channel], trigger: Callable[[int], None],
                 replay: Callable[[Any], None], buffer: Callable[[], Any] = deque) -> None:
        self.channels = frozenset(channels)
        self._trigger, self._replay, self._buffer = trigger, replay, buffer
        self.ended: set[Channel] = set()
        self.pending: int | None = None  # the checkpoint being aligned
        self.last_checkpoint = -1        # the newest checkpoint triggered
        self.arrived: set[Channel] = set()  # channels that delivered the pending barrier
        self.blocking: set[Channel] | frozenset[Channel] = self.arrived
        self.held: Any = buffer()
        self.alignment_started = 0.0  # monotonic s the pending checkpoint's first barrier came
        self.last_alignment_s = 0.0   # how long the last checkpoint waited for all its barriers

    def all_ended(self) -> bool:
        """Every channel delivered its end of partition."""
        return self.ended == self.channels

    def hold(self, item: Any) -> None:
        """Keep ``item`` (of a blocked channel) until the pending checkpoint is triggered."""
        self.held.append(item)

    def on_barrier(self, channel: Channel, checkpoint_id: int) -> bool:
        """Barrier ``checkpoint_id`` arrived on ``channel``: False if it is ignored (already
        taken or superseded), else True and ``channel`` is blocked; held items of a superseded
        checkpoint are replayed first. The caller records the channel's position past the
        barrier, then calls :meth:`maybe_trigger` (the snapshot must see that position)."""
        if checkpoint_id <= self.last_checkpoint or (self.pending is not None and checkpoint_id < self.pending):
            return False
        if self.pending != checkpoint_id:
            self._release()  # a newer checkpoint supersedes one never completed
            if self.pending is not None and checkpoint_id < self.pending:
                return False  # the replay went on to a newer checkpoint still
            self.pending = checkpoint_id
            self.alignment_started = time.monotonic()
        self.arrived.add(channel)
        return True

    def on_end_of_partition(self, channel: Channel) -> None:
        """``channel`` ended: it no longer holds a checkpoint back (may trigger it)."""
        self.ended.add(channel)
        self.maybe_trigger()

    def maybe_trigger(self) -> None:
        """Trigger the pending checkpoint if every channel delivered its barrier or ended, then
        replay the held items."""
        if self.pending is None or not (self.arrived | self.ended) >= self.channels:
            return
        checkpoint_id, self.pending = self.pending, None
        self.last_alignment_s = time.monotonic() - self.alignment_started
        self.arrived.clear()
        self.last_checkpoint = checkpoint_id
        self._trigger(checkpoint_id)
        self._release()

    def _release(self) -> None:
        held, self.held = self.held, self._buffer()
        self.pending = None
        self.arrived.clear()
        for item in held:
            self._replay(item)


class CheckpointBarrierTracker(SingleCheckpointBarrierHandler):
    """At-least-once: counts barriers as the aligned handler does but never blocks a channel."""

    def __init__(self, channels: Collection[Channel], trigger: Callable[[int], None],
                 replay: Callable[[Any], None], buffer: Callable[[], Any] = deque) -> None:
        super().__init__(channels, trigger, replay, buffer)
        self.blocking = frozenset()
