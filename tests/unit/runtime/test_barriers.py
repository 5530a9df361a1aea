"""Barrier alignment (exactly-once) and tracking (at-least-once) over (channel, event), without Kafka."""

from strom.runtime.io.barriers import CheckpointBarrierTracker, SingleCheckpointBarrierHandler


class Reader:
    """What a reader does with the handler: hold items of blocked channels, count the rest."""

    def __init__(self, handler_class, channels):
        self.triggered, self.processed = [], []
        self.handler = handler_class(channels, self.triggered.append, self.process)

    def process(self, item):
        channel, what = item
        if self.handler.blocking and channel in self.handler.blocking:
            self.handler.hold(item)
        elif isinstance(what, int):  # a barrier
            if self.handler.on_barrier(channel, what):
                self.handler.maybe_trigger()
        elif what == "end":
            self.handler.on_end_of_partition(channel)
        else:
            self.processed.append(what)


def test_aligned_holds_records_of_a_blocked_channel_and_releases_them_in_order_after_the_last_barrier():
    reader = Reader(SingleCheckpointBarrierHandler, ["a", "b"])
    for item in [("a", "a1"), ("a", 1), ("a", "a2"), ("b", "b1"), ("a", "a3"), ("b", 1), ("b", "b2")]:
        reader.process(item)
    assert reader.triggered == [1]
    # a2, a3 came after a's barrier: held until b's barrier, then replayed in arrival order
    assert reader.processed == ["a1", "b1", "a2", "a3", "b2"]
    assert reader.handler.held == type(reader.handler.held)() and not reader.handler.blocking


def test_the_snapshot_is_taken_before_the_held_records_are_replayed():
    order = []
    handler = SingleCheckpointBarrierHandler(["a", "b"], lambda n: order.append(("checkpoint", n)),
                                             lambda item: order.append(item))
    assert handler.on_barrier("a", 3)
    handler.hold("a-after-barrier")
    handler.maybe_trigger()
    assert order == []  # b has not delivered barrier 3
    assert handler.on_barrier("b", 3)
    handler.maybe_trigger()
    assert order == [("checkpoint", 3), "a-after-barrier"]


def test_ended_channels_count_as_aligned():
    reader = Reader(SingleCheckpointBarrierHandler, ["a", "b"])
    reader.process(("b", "end"))
    reader.process(("a", 5))
    assert reader.triggered == [5]
    reader.process(("a", "end"))
    assert reader.handler.all_ended()


def test_an_end_of_partition_completes_a_pending_alignment():
    reader = Reader(SingleCheckpointBarrierHandler, ["a", "b"])
    reader.process(("a", 2))
    reader.process(("a", "held"))
    reader.process(("b", "end"))
    assert reader.triggered == [2] and reader.processed == ["held"]


def test_a_newer_barrier_supersedes_an_incomplete_checkpoint_and_replays_its_held_records_first():
    reader = Reader(SingleCheckpointBarrierHandler, ["a", "b", "c"])
    reader.process(("a", 1))
    reader.process(("a", "a1"))  # held behind barrier 1
    reader.process(("b", 2))     # checkpoint 1 never completes (c skipped it)
    assert reader.processed == ["a1"] and reader.handler.pending == 2
    reader.process(("a", 2))
    reader.process(("c", 2))
    assert reader.triggered == [2]


def test_barriers_of_taken_or_superseded_checkpoints_are_ignored():
    reader = Reader(SingleCheckpointBarrierHandler, ["a", "b"])
    for item in [("a", 4), ("b", 4)]:
        reader.process(item)
    assert reader.triggered == [4]
    assert not reader.handler.on_barrier("a", 4)  # a repeated barrier of a taken checkpoint
    assert not reader.handler.on_barrier("a", 3)
    assert reader.handler.on_barrier("a", 6)
    assert not reader.handler.on_barrier("b", 5)  # superseded by 6
    assert not reader.handler.blocking >= {"b"}
    assert reader.triggered == [4]


def test_at_least_once_counts_barriers_but_never_blocks():
    reader = Reader(CheckpointBarrierTracker, ["a", "b"])
    for item in [("a", 1), ("a", "a2"), ("b", "b1"), ("b", 1), ("b", "b2")]:
        reader.process(item)
    assert reader.triggered == [1]
    assert reader.processed == ["a2", "b1", "b2"]  # a2 went through at once: at least once
    assert not reader.handler.blocking and not reader.handler.held
