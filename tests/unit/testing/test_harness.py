"""The operator test harness on the runtime's own window operator: exact outputs, late data, state
after snapshot/restore (no Kafka, ZooKeeper or Redis)."""

import pytest

from strom.api import (
    CoProcessFunction,
    KafkaSource,
    KeyedCoProcessFunction,
    KeyedProcessFunction,
    ListStateDescriptor,
    OutputTag,
    StreamExecutionEnvironment,
    TumblingEventTimeWindows,
    ValueStateDescriptor,
)
from strom.testing.harness import (
    KeyedOneInputStreamOperatorTestHarness,
    KeyedTwoInputStreamOperatorTestHarness,
    OneInputStreamOperatorTestHarness,
    TwoInputStreamOperatorTestHarness,
)

LATE = OutputTag("late")


def windowed_counts():
    """Per user, clicks per 10 s event-time window, 5 s allowed lateness, later ones to LATE."""
    env = StreamExecutionEnvironment.get_execution_environment()
    clicks = env.from_source(KafkaSource.builder().set_topics("clicks").build())
    return (clicks.map(lambda click: (click, 1)).key_by(lambda pair: pair[0])
            .window(TumblingEventTimeWindows.of(10_000)).allowed_lateness(5_000).side_output_late_data(LATE)
            .reduce(lambda a, b: (a[0], a[1] + b[1])))


def test_a_tumbling_window_fires_at_its_end_again_for_allowed_late_data_and_sends_later_data_aside():
    harness = KeyedOneInputStreamOperatorTestHarness(windowed_counts())
    for user, ts in (("u1", 1_000), ("u1", 9_999), ("u2", 5_000), ("u1", 12_000)):
        harness.process_element((user, 1), timestamp=ts)
    harness.process_watermark(9_999)  # window [0, 10 s) ends: one result per user
    assert harness.extract_output() == [(("u1", 2), 9_999), (("u2", 1), 9_999)]
    harness.process_element(("u1", 1), timestamp=3_000)  # late, within the allowed 5 s: fires again
    assert harness.extract_output()[-1] == (("u1", 3), 9_999)
    harness.process_watermark(15_000)  # the window's state is dropped at end + lateness
    harness.process_element(("u1", 1), timestamp=4_000)  # too late: side output, no result
    assert harness.get_side_output(LATE) == [(("u1", 1), 4_000)]
    assert len(harness.extract_output()) == 3


def test_window_state_and_timers_survive_a_snapshot_and_restore():
    harness = KeyedOneInputStreamOperatorTestHarness(windowed_counts())
    harness.process_element(("u1", 1), timestamp=1_000)
    harness.process_element(("u1", 1), timestamp=2_000)
    assert harness.timers("u1") == [(0, 9_999), (0, 14_999)]  # the window's end-of-window and cleanup timers
    snapshot = harness.snapshot()
    restored = KeyedOneInputStreamOperatorTestHarness(windowed_counts())
    restored.restore(snapshot)
    restored.process_element(("u1", 1), timestamp=3_000)
    restored.process_watermark(10_000)
    assert restored.extract_output() == [(("u1", 3), 9_999)]


def test_an_operator_that_is_not_keyed_is_refused():
    env = StreamExecutionEnvironment.get_execution_environment()
    mapped = env.from_source(KafkaSource.builder().set_topics("t").build()).map(str.upper)
    with pytest.raises(ValueError, match="not keyed: build it after key_by"):
        KeyedOneInputStreamOperatorTestHarness(mapped)
    with pytest.raises(ValueError, match="needs its key_selector"):
        KeyedOneInputStreamOperatorTestHarness(object())


ALERTS = OutputTag("alerts")


class Sessionize(KeyedProcessFunction):
    """Per user: clicks counted until 10 s pass without one (an event-time timer, moved on each click);
    then the session's count; a user's 3rd click of a session also goes to ALERTS."""

    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count", default=0))
        self.timeout = ctx.get_state(ValueStateDescriptor("timeout"))

    def process_element(self, click, ctx):
        self.count.update(self.count.value() + 1)
        if self.count.value() == 3:
            ctx.output(ALERTS, (click, "3 clicks"))
        if self.timeout.value() is not None:
            ctx.timer_service().delete_event_time_timer(self.timeout.value())
        self.timeout.update(ctx.timestamp() + 10_000)
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 10_000)

    def on_timer(self, timestamp, ctx):
        yield ctx.get_current_key(), self.count.value()
        self.count.clear()
        self.timeout.clear()


def sessionize() -> KeyedOneInputStreamOperatorTestHarness:
    return KeyedOneInputStreamOperatorTestHarness(Sessionize(), key_selector=lambda user: user)


def test_a_keyed_process_function_with_timers_side_outputs_and_state_after_a_restore():
    harness = sessionize()
    for user, ts in (("ann", 1_000), ("bob", 2_000), ("ann", 5_000), ("ann", 8_000)):
        harness.process_element(user, timestamp=ts)
    assert harness.get_side_output(ALERTS) == [(("ann", "3 clicks"), 8_000)]
    assert harness.state("ann") == {"count": 3, "timeout": 18_000}
    assert harness.timers("ann") == [(0, 18_000)]  # the earlier timers were deleted
    restored = sessionize()
    restored.restore(harness.snapshot())
    assert restored.state("ann") == {"count": 3, "timeout": 18_000}
    assert restored.timers("bob") == [(0, 12_000)]
    restored.process_watermark(12_000)  # bob's session ends
    assert restored.extract_output() == [(("bob", 1), 12_000)]
    restored.process_element("ann", timestamp=15_000)  # moves ann's timeout to 25 s
    restored.process_watermark(20_000)
    assert restored.extract_output() == [(("bob", 1), 12_000)]
    restored.process_watermark(25_000)
    assert restored.extract_output()[1:] == [(("ann", 4), 25_000)]
    assert restored.state("ann") == {} and restored.timers("ann") == []
    assert restored.get_side_output(ALERTS) == []  # side output of the run before the restore is not replayed


class Enrich(KeyedCoProcessFunction):
    """Clicks (input 1) get their user's latest profile (input 2); clicks before any profile wait
    in state until one comes, or go to ALERTS when the watermark passes their time + 1 s."""

    def open(self, ctx):
        self.profile = ctx.get_state(ValueStateDescriptor("profile"))
        self.waiting = ctx.get_list_state(ListStateDescriptor("waiting"))

    def process_element1(self, click, ctx):
        if self.profile.value() is None:
            self.waiting.add(click)
            ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1_000)
        else:
            yield click[1], self.profile.value()

    def process_element2(self, profile, ctx):
        self.profile.update(profile[1])
        for click in self.waiting.get():
            yield click[1], profile[1]
        self.waiting.clear()

    def on_timer(self, timestamp, ctx):
        for click in self.waiting.get():
            ctx.output(ALERTS, click)
        self.waiting.clear()


def test_a_keyed_two_input_harness_runs_a_keyed_co_process_function():
    env = StreamExecutionEnvironment.get_execution_environment()
    clicks, profiles = env.from_collection([]), env.from_collection([])
    enriched = clicks.connect(profiles).key_by(lambda c: c[0], lambda p: p[0]).process(Enrich())
    harness = KeyedTwoInputStreamOperatorTestHarness(enriched)
    harness.process_element1(("ann", "/a"), timestamp=100)
    harness.process_element1(("bob", "/b"), timestamp=200)
    assert harness.state("ann") == {"waiting": [("ann", "/a")]}
    assert harness.timers("ann") == [(0, 1_100)]
    harness.process_element2(("ann", "gold"), timestamp=300)
    assert harness.extract_output() == [(("/a", "gold"), 300)]
    restored = KeyedTwoInputStreamOperatorTestHarness(enriched)
    restored.restore(harness.snapshot())
    restored.process_element1(("ann", "/c"), timestamp=400)
    restored.process_watermark(1_200)  # bob's click waited its 1 s
    assert restored.extract_output() == [(("/c", "gold"), 400)]
    assert restored.get_side_output(ALERTS) == [(("bob", "/b"), 1_200)]
    assert restored.state("ann") == {"profile": "gold"} and restored.timers("bob") == []
    with pytest.raises(ValueError, match="use KeyedTwoInputStreamOperatorTestHarness"):
        KeyedOneInputStreamOperatorTestHarness(enriched)


def test_a_two_input_harness_without_keys_and_a_one_input_harness():
    class Tag(CoProcessFunction):
        def process_element1(self, value, ctx):
            yield "left", value

        def process_element2(self, value, ctx):
            yield "right", value

    harness = TwoInputStreamOperatorTestHarness(Tag())
    harness.process_element2(1, timestamp=5)
    harness.process_element1(2)
    assert harness.extract_output() == [(("right", 1), 5), (("left", 2), None)]
    with pytest.raises(ValueError, match="needs both key selectors"):
        KeyedTwoInputStreamOperatorTestHarness(Tag())
    env = StreamExecutionEnvironment.get_execution_environment()
    evens = OneInputStreamOperatorTestHarness(env.from_collection([]).filter(lambda x: x % 2 == 0))
    for x in range(5):
        evens.process_element(x, timestamp=x * 10)
    evens.process_watermark(100)  # no timers: nothing happens, the watermark is kept for snapshots
    assert evens.extract_output() == [(0, 0), (2, 20), (4, 40)]
    assert evens.snapshot().watermark == 100
    with pytest.raises(ValueError, match="is not keyed: it has no keyed state"):
        evens.state(0)
