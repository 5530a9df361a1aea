"""The operator test harness on the runtime's own window operator: exact outputs, late data, state
after snapshot/restore (no Kafka, ZooKeeper or Redis)."""

import pytest

from strom.api import (
    KafkaSource,
    OutputTag,
    StreamExecutionEnvironment,
    TumblingEventTimeWindows,
)
from strom.testing.harness import KeyedOneInputStreamOperatorTestHarness

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
