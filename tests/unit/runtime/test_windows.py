"""Window assignment and the window operator's firing, lateness and restore, without Kafka."""

from strom.api.windowing import ProcessWindowFunction, SlidingEventTimeWindows, TimeWindow, TumblingEventTimeWindows
from strom.graph.stream_graph import WINDOW, StreamNode
from strom.runtime.timers import InternalTimerService
from strom.runtime.windows import RecordClock, WindowOperator
from strom.state.api import AggregateFunction
from strom.state.backend import HeapKeyedStateBackend


class Collect:
    def __init__(self, clock):
        self.clock, self.items = clock, []

    def collect(self, element):
        self.items.append((element, self.clock.timestamp))


def operator(assigner, kind="reduce", function=lambda a, b: a + b, lateness=0, backend=None,
             trigger=None, evictor=None, window_process=None):
    clock = RecordClock()
    out = Collect(clock)
    node = StreamNode(1, WINDOW, "w", 1, function=function, window=assigner, window_function=kind,
                      allowed_lateness_ms=lateness, trigger=trigger, evictor=evictor,
                      window_process=window_process)
    backend = backend or HeapKeyedStateBackend()
    timers = InternalTimerService(backend)
    timers.restore()
    return WindowOperator(node, backend, timers, out, clock, None), backend, clock, out


def feed(op, backend, clock, key, timestamp, value):
    backend.current_key, backend.current_key_group, clock.timestamp = key, 0, timestamp
    op.collect(value)


def test_assigners():
    assert TumblingEventTimeWindows.of(1000).assign_windows("e", 0) == [TimeWindow(0, 1000)]
    assert TumblingEventTimeWindows.of(1000, 100).assign_windows("e", 50) == [TimeWindow(-900, 100)]
    assert SlidingEventTimeWindows.of(3000, 1000).assign_windows("e", 2500) == [
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


def test_count_window_fires_every_n_elements_and_purges():
    from strom.api.triggers import CountTrigger, PurgingTrigger
    from strom.api.windowing import GlobalWindows
    op, backend, clock, out = operator(GlobalWindows.create(), trigger=PurgingTrigger.of(CountTrigger.of(3)))
    for i in range(7):
        feed(op, backend, clock, "k", 10 * i, i)
    feed(op, backend, clock, "j", 5, 100)
    assert [value for value, _ts in out.items] == [0 + 1 + 2, 3 + 4 + 5]
    assert [ts for _value, ts in out.items] == [20, 50]  # a global window's result keeps the element's time
    op.on_watermark(2**63 - 1)  # a global window never fires on time
    assert len(out.items) == 2


def test_sliding_count_window_uses_a_count_evictor():
    from strom.api.evictors import CountEvictor
    from strom.api.triggers import CountTrigger
    from strom.api.windowing import GlobalWindows
    op, backend, clock, out = operator(GlobalWindows.create(), trigger=CountTrigger.of(2),
                                       evictor=CountEvictor.of(3))
    for i in range(1, 7):
        feed(op, backend, clock, "k", i, i)
    # Every 2 elements, the sum of the last 3.
    assert [value for value, _ts in out.items] == [1 + 2, 2 + 3 + 4, 4 + 5 + 6]


def test_continuous_event_time_trigger_gives_early_results_then_the_final_one():
    from strom.api.triggers import ContinuousEventTimeTrigger
    op, backend, clock, out = operator(TumblingEventTimeWindows.of(1000),
                                       trigger=ContinuousEventTimeTrigger.of(300))
    feed(op, backend, clock, "k", 100, 1)
    op.on_watermark(299)
    assert out.items == []
    op.on_watermark(300)
    feed(op, backend, clock, "k", 400, 2)
    op.on_watermark(650)
    op.on_watermark(5000)
    assert [value for value, _ts in out.items] == [1, 3, 3, 3]  # at 300, 600, 900, and the end (999)
    assert backend.num_keys() == 0


def test_processing_time_windows_fire_on_the_wall_clock(monkeypatch):
    from strom.api.windowing import TumblingProcessingTimeWindows
    from strom.runtime import windows
    now = [10_050]
    monkeypatch.setattr(windows, "processing_time_ms", lambda: now[0])
    op, backend, clock, out = operator(TumblingProcessingTimeWindows.of(100))
    feed(op, backend, clock, "k", None, 1)   # no event time needed
    feed(op, backend, clock, "k", None, 2)
    now[0] = 10_120
    feed(op, backend, clock, "k", None, 4)
    op.on_processing_time(10_098)
    assert out.items == []
    op.on_processing_time(10_099)
    assert out.items == [(3, 10_099)]
    op.on_processing_time(10_199)
    assert out.items == [(3, 10_099), (4, 10_199)]


def test_dynamic_session_gap_and_reduce_with_a_process_window_function():
    from strom.api.windowing import EventTimeSessionWindows

    class Describe(ProcessWindowFunction):
        def process(self, key, context, elements):
            yield key, context.window().start, context.window().end, list(elements)

    sessions = EventTimeSessionWindows.with_dynamic_gap(lambda element: element * 100)
    op, backend, clock, out = operator(sessions, window_process=Describe())
    feed(op, backend, clock, "k", 0, 1)      # [0, 100)
    feed(op, backend, clock, "k", 150, 2)    # [150, 350): 1's gap is too short to reach it
    feed(op, backend, clock, "k", 90, 1)     # [90, 190): bridges both
    op.on_watermark(1000)
    assert [value for value, _ts in out.items] == [("k", 0, 350, [4])]


def test_sessions_merge_trigger_state():
    from strom.api.triggers import CountTrigger
    from strom.api.windowing import EventTimeSessionWindows
    op, backend, clock, out = operator(EventTimeSessionWindows.with_gap(100), trigger=CountTrigger.of(3))
    feed(op, backend, clock, "k", 0, 1)
    feed(op, backend, clock, "k", 500, 10)
    feed(op, backend, clock, "k", 250, 100)  # its own session: counts 1, 1, 1
    assert out.items == []
    feed(op, backend, clock, "k", 80, 1000)  # merges with [0,100): count 2
    feed(op, backend, clock, "k", 150, 5)    # bridges [0,180) and [250,350): count 2 + 1 + 1 = 4
    assert [value for value, _ts in out.items] == [1 + 1000 + 5 + 100]


def test_a_late_element_goes_to_the_side_output_once_even_for_sliding_windows():
    late = Collect(RecordClock())
    op, backend, clock, _out = operator(SlidingEventTimeWindows.of(1000, 100))
    op.late_output = late
    op.on_watermark(5000)
    feed(op, backend, clock, "k", 4200, 1)  # windows up to [4200, 5200) are still open: not late
    feed(op, backend, clock, "k", 3000, 2)  # every window of it ended: late
    assert op.late_dropped == 1 and [value for value, _ts in late.items] == [2]


def test_a_global_window_fired_by_a_timer_does_not_take_another_keys_timestamp():
    from strom.api.triggers import ContinuousProcessingTimeTrigger
    from strom.api.windowing import GlobalWindows
    op, backend, clock, out = operator(GlobalWindows.create(), trigger=ContinuousProcessingTimeTrigger.of(1000))
    feed(op, backend, clock, "a", 5, 1)
    feed(op, backend, clock, "b", 100, 2)
    op.on_processing_time(2**63 - 1)  # end of input: each key's timer fires once
    assert sorted(out.items) == [(1, None), (2, None)]  # processing-time results carry no event time


def test_count_windows_need_no_event_time():
    from strom.api.triggers import CountTrigger, PurgingTrigger
    from strom.api.windowing import GlobalWindows
    op, backend, clock, out = operator(GlobalWindows.create(), trigger=PurgingTrigger.of(CountTrigger.of(2)))
    feed(op, backend, clock, "k", None, 1)  # e.g. the output of a processing-time window
    feed(op, backend, clock, "k", None, 2)
    assert out.items == [(3, None)]


def test_an_element_extending_a_live_session_is_not_late():
    """Flink merges first, then asks whether the merged window is late."""
    from strom.api.windowing import EventTimeSessionWindows
    op, backend, clock, out = operator(EventTimeSessionWindows.with_gap(100))
    feed(op, backend, clock, "k", 100, 1)    # session [100, 200)
    op.on_watermark(150)
    feed(op, backend, clock, "k", 40, 10)    # [40, 140) alone would be late; merged: [40, 200)
    op.on_watermark(10_000)
    assert out.items == [(11, 199)] and op.late_dropped == 0
