"""Window assignment and the window operator's firing, lateness and restore, without Kafka."""

from strom.api.windowing import (
    ProcessWindowFunction, SlidingEventTimeWindows, TimeWindow, TumblingEventTimeWindows)
from strom.graph.stream_graph import WINDOW, StreamNode
from strom.runtime.windows import RecordClock, WindowOperator
from strom.state.api import AggregateFunction
from strom.state.backend import HeapKeyedStateBackend


class Collect:
    def __init__(self, clock):
        self.clock, self.items = clock, []

    def collect(self, element):
        self.items.append((element, self.clock.timestamp))


def operator(assigner, kind="reduce", function=lambda a, b: a + b, lateness=0, backend=None):
    clock = RecordClock()
    out = Collect(clock)
    node = StreamNode(1, WINDOW, "w", 1, function=function, window=assigner, window_function=kind,
                      allowed_lateness_ms=lateness)
    backend = backend or HeapKeyedStateBackend()
    return WindowOperator(node, backend, out, clock, None), backend, clock, out


def feed(op, backend, clock, key, timestamp, value):
    backend.current_key, backend.current_key_group, clock.timestamp = key, 0, timestamp
    op.collect(value)


def test_assigners():
    assert TumblingEventTimeWindows.of(1000).assign_windows(0) == [TimeWindow(0, 1000)]
    assert TumblingEventTimeWindows.of(1000, 100).assign_windows(50) == [TimeWindow(-900, 100)]
    assert SlidingEventTimeWindows.of(3000, 1000).assign_windows(2500) == [
        TimeWindow(2000, 5000), TimeWindow(1000, 4000), TimeWindow(0, 3000)]


def test_windows_fire_when_the_watermark_passes_their_end_with_the_end_as_timestamp():
    op, backend, clock, out = operator(TumblingEventTimeWindows.of(1000))
    for ts, value in ((100, 1), (900, 2), (1100, 4)):
        feed(op, backend, clock, "k", ts, value)
    op.on_watermark(998)
    assert out.items == []
    op.on_watermark(999)
    assert out.items == [(3, 999)]
    op.on_watermark(10_000)
    assert out.items == [(3, 999), (4, 1999)]
    assert backend.num_keys() == 0  # state purged after firing


def test_late_elements_dropped_or_refiring_within_allowed_lateness():
    op, backend, clock, out = operator(TumblingEventTimeWindows.of(1000), lateness=500)
    feed(op, backend, clock, "k", 100, 1)
    op.on_watermark(1200)
    feed(op, backend, clock, "k", 200, 10)   # late, within lateness: fires again with the update
    op.on_watermark(1600)                    # cleanup: the window's state goes
    feed(op, backend, clock, "k", 300, 100)  # beyond lateness: dropped
    assert [value for value, _ts in out.items] == [1, 11]
    assert op.late_dropped == 1 and backend.num_keys() == 0


def test_aggregate_and_process_functions():
    class Average(AggregateFunction):
        def create_accumulator(self):
            return 0, 0

        def add(self, value, acc):
            return acc[0] + value, acc[1] + 1

        def get_result(self, acc):
            return acc[0] / acc[1]

    op, backend, clock, out = operator(TumblingEventTimeWindows.of(10), "aggregate", Average())
    for value in (1, 2, 6):
        feed(op, backend, clock, "k", 5, value)
    op.on_watermark(9)
    assert out.items == [(3.0, 9)]

    class Describe(ProcessWindowFunction):
        def process(self, key, context, elements):
            yield key, context.window().start, sorted(elements)

    op, backend, clock, out = operator(TumblingEventTimeWindows.of(10), "process", Describe())
    feed(op, backend, clock, "a", 12, "y")
    feed(op, backend, clock, "a", 11, "x")
    op.on_watermark(100)
    assert out.items == [(("a", 10, ["x", "y"]), 19)]


def test_restored_state_rebuilds_timers_and_fires_once():
    op, backend, clock, out = operator(TumblingEventTimeWindows.of(1000))
    feed(op, backend, clock, "k", 100, 1)
    feed(op, backend, clock, "j", 1500, 5)
    op.on_watermark(999)
    snapshot = backend.snapshot()
    restored_backend = HeapKeyedStateBackend()
    restored_backend.restore(snapshot.items())
    op2, _backend, _clock, out2 = operator(TumblingEventTimeWindows.of(1000), backend=restored_backend)
    op2.restore_timers()
    op2.on_watermark(5000)
    assert out.items == [(1, 999)] and out2.items == [(5, 1999)]


def test_session_windows_merge_and_late_elements_go_to_the_side_output():
    from strom.api.windowing import EventTimeSessionWindows
    late = Collect(RecordClock())
    op, backend, clock, out = operator(EventTimeSessionWindows.with_gap(100))
    op.late_output = late
    for ts in (0, 50, 300, 120):   # 120 bridges [0,150) and nothing else; 300 is its own session
        feed(op, backend, clock, "k", ts, 1)
    op.on_watermark(1000)
    assert out.items == [(3, 219), (1, 399)]
    feed(op, backend, clock, "k", 10, 1)
    assert op.late_dropped == 1 and [value for value, _ts in late.items] == [1]
