"""The local executor (strom.testing.local): whole jobs in one process on the runtime's own operator,
state, timer and watermark code, routed by key group as on the cluster; checkpoint and restore."""

import pytest

from strom.api import (
    CollectSink,
    ErrorPolicy,
    KafkaSource,
    KeyedCoProcessFunction,
    MapFunction,
    OutputTag,
    ProcessWindowFunction,
    SimpleStringSchema,
    StreamExecutionEnvironment,
    TumblingEventTimeWindows,
    ValueStateDescriptor,
    WatermarkStrategy,
)
from strom.errors import InvalidJobGraphError
from strom.graph.artifact import dump_artifact
from strom.state.keygroups import key_group_for, operator_index_for
from strom.testing.local import run_locally, run_main_locally

LATE = OutputTag("late")


def window_job(elements, timestamps, watermarks):
    """Clicks per user and 10 s tumbling event-time window, 5 s allowed lateness, later ones to LATE."""
    env = StreamExecutionEnvironment.get_execution_environment()
    clicks = env.from_collection(elements, timestamps=timestamps, watermarks=watermarks)
    counts = (clicks.map(lambda user: (user, 1)).key_by(lambda pair: pair[0])
              .window(TumblingEventTimeWindows.of(10_000)).allowed_lateness(5_000).side_output_late_data(LATE)
              .reduce(lambda a, b: (a[0], a[1] + b[1])))
    counts.sink_to(CollectSink("counts"))
    counts.get_side_output(LATE).sink_to(CollectSink("late"))
    return env


def test_windows_fire_on_the_given_watermarks_refire_for_allowed_lateness_and_send_later_data_aside():
    env = window_job(["ann", "bob", "ann", "ann", "ann"], [1_000, 2_000, 9_000, 3_000, 4_000],
                     [None, None, 10_000, 16_000, None])
    results = run_locally(env)
    # [0, 10 s) fires at watermark 10 s; ann's late click at 3 s (within 5 s) fires it again; the
    # one at 4 s comes after watermark 16 s (past the end + lateness): side output, no result.
    assert results.timestamped("counts") == [(("ann", 2), 9_999), (("bob", 1), 9_999), (("ann", 3), 9_999)]
    assert results.timestamped("late") == [(("ann", 1), 4_000)]


def test_a_watermark_strategy_lags_the_largest_timestamp_and_the_end_of_input_fires_the_rest():
    env = StreamExecutionEnvironment.get_execution_environment()
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(1_000).with_timestamp_assigner(lambda e, _ts: e[1])
    events = [("a", 1_000), ("a", 9_000), ("a", 10_500), ("a", 12_000), ("a", 8_000)]
    (env.from_collection(events, watermarks=strategy).key_by(lambda e: e[0])
        .window(TumblingEventTimeWindows.of(10_000)).reduce(lambda x, y: (x[0], x[1] + y[1]))
        .sink_to(CollectSink("sums")))
    # Watermark 12000 - 1000 - 1 = 10999 after the 4th: [0, 10 s) fires with 1000 + 9000; 8000 is late.
    assert run_locally(env).timestamped("sums") == [(("a", 10_000), 9_999), (("a", 22_500), 19_999)]


class Subtask(MapFunction):
    def open(self, ctx):
        self.index = ctx.get_index_of_this_subtask()

    def map(self, word):
        return word, self.index


def test_keyed_records_reach_the_subtask_owning_their_key_group_as_on_the_cluster():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(3)
    words = [f"w{i}" for i in range(200)]
    (env.from_collection(words).key_by(lambda w: w).map(Subtask()).sink_to(CollectSink("where")))
    where = dict(run_locally(env)["where"])
    assert where == {w: operator_index_for(key_group_for(w, 128), 128, 3) for w in words}
    assert set(where.values()) == {0, 1, 2}


class Sorted(ProcessWindowFunction):
    def process(self, key, context, elements):
        yield context.current_watermark(), sorted(elements)


def test_the_watermark_of_a_union_is_the_minimum_over_its_inputs():
    env = StreamExecutionEnvironment.get_execution_environment()
    fast = env.from_collection(["f"] * 3, timestamps=[1_000, 2_000, 3_000], watermarks=[20_000, None, None])
    slow = env.from_collection(["s"] * 3, timestamps=[4_000, 5_000, 6_000], watermarks=[None, 5_000, 30_000])
    (fast.union(slow).key_by(lambda _x: 0).window(TumblingEventTimeWindows.of(10_000))
        .process(Sorted()).sink_to(CollectSink("w")))
    results = run_locally(env)
    # Elements alternate f, s, f, s, f, s: the window waits for slow's watermark (30 s after its last).
    assert results["w"] == [(20_000, ["f", "f", "f", "s", "s", "s"])]


def counting_job(parallelism: int = 2):
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(parallelism)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog", "the", "end", "fox"]
    (env.from_collection(words).uid("words").map(lambda w: (w, 1)).uid("pairs")
        .key_by(lambda pair: pair[0]).sum(1).uid("count").sink_to(CollectSink("counts")).uid("sink"))
    return env


@pytest.mark.parametrize("stop_after", [0, 1, 5, 11, 12])
def test_state_survives_a_snapshot_and_restore_into_a_fresh_job(stop_after):
    whole = run_locally(counting_job())["counts"]
    first = run_locally(counting_job(), stop_after=stop_after)
    assert first.snapshot is not None and first.snapshot.elements == stop_after
    second = run_locally(counting_job(), restore=first.snapshot)
    assert first["counts"] + second["counts"] == whole
    assert second.snapshot is None


def test_keyed_state_follows_its_key_groups_to_a_new_parallelism():
    whole = run_locally(counting_job(2))["counts"]
    first = run_locally(counting_job(2), stop_after=6)
    second = run_locally(counting_job(3), restore=first.snapshot)
    assert sorted(first["counts"] + second["counts"]) == sorted(whole)
    assert max(c for w, c in second["counts"] if w == "the") == 3


def test_a_snapshot_of_other_operators_is_refused():
    snapshot = run_locally(counting_job(), stop_after=3).snapshot
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection(["x"]).uid("other").sink_to(CollectSink("x")).uid("x-sink")
    with pytest.raises(ValueError, match="which this job does not have"):
        run_locally(env, restore=snapshot)


class Match(KeyedCoProcessFunction):
    """Orders wait for their payment (and vice versa); unpaid orders time out at ts + 1 s."""

    def open(self, ctx):
        self.order = ctx.get_state(ValueStateDescriptor("order"))
        self.paid = ctx.get_state(ValueStateDescriptor("paid"))

    def process_element1(self, order, ctx):
        if self.paid.value():
            yield order[0], "paid"
        else:
            self.order.update(order)
            ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1_000)

    def process_element2(self, payment, ctx):
        if self.order.value():
            self.order.clear()
            yield payment[0], "paid"
        else:
            self.paid.update(True)

    def on_timer(self, timestamp, ctx):
        if self.order.value():
            yield ctx.get_current_key(), "timed out"


def test_a_keyed_two_input_job_runs_with_shared_state_and_timers():
    env = StreamExecutionEnvironment.get_execution_environment().set_parallelism(2)
    orders = env.from_collection([("o1",), ("o2",), ("o3",)], timestamps=[100, 200, 300],
                                 watermarks=WatermarkStrategy.for_monotonous_timestamps())
    payments = env.from_collection([("o2",), ("o3",)], timestamps=[250, 5_000],
                                   watermarks=WatermarkStrategy.for_monotonous_timestamps())
    (orders.connect(payments).key_by(lambda o: o[0], lambda p: p[0]).process(Match())
        .sink_to(CollectSink("outcome")))
    # Input order o1, pay o2, o2, pay o3, o3: o2 and o3 find their payment in state; o1 is never
    # paid, its timer fires at the end of input. Keys meet on one subtask from both inputs.
    assert sorted(run_locally(env)["outcome"]) == [("o1", "timed out"), ("o2", "paid"), ("o3", "paid")]


def test_kafka_sources_take_record_values_and_undecodable_ones_become_dead_letters():
    env = StreamExecutionEnvironment.get_execution_environment()
    source = KafkaSource.builder().set_topics("lines").set_value_only_deserializer(SimpleStringSchema()).build()
    env.from_source(source, source_name="text").map(str.upper).sink_to(CollectSink("upper"))
    results = run_locally(env, sources={"text": [b"a", b"\xff bad", "b"]})
    assert results["upper"] == ["A", "B"]
    assert [(d.source, d.value, d.reason.split(":")[0]) for d in results.dead_letters] == [
        ("text", b"\xff bad", "UnicodeDecodeError")]
    assert run_locally(env, sources={"lines": ["by topic"]})["upper"] == ["BY TOPIC"]
    with pytest.raises(ValueError, match="reads Kafka topics"):
        run_locally(env)
    with pytest.raises(ValueError, match="not sources of the job"):
        run_locally(env, sources={"text": [], "nope": []})
    with pytest.raises(KeyError, match="the job's sinks: \\['upper'\\]"):
        results["missing"]


def test_a_user_function_error_is_raised_with_the_operator_and_element_named():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1, 0]).map(lambda x: 1 / x).name("invert").sink_to(CollectSink("out"))
    with pytest.raises(ZeroDivisionError) as error:
        run_locally(env)
    assert "invert" in "".join(error.value.__notes__) and "element 1" in "".join(error.value.__notes__)


def test_collections_and_collect_sinks_do_not_go_to_a_cluster():
    env = StreamExecutionEnvironment.get_execution_environment()
    env.from_collection([1]).sink_to(CollectSink("out"))
    with pytest.raises(InvalidJobGraphError, match=r"run in strom\.testing\.local\.run_locally only"):
        dump_artifact(env.get_job_graph("local only"))


def test_from_collection_checks_its_lists():
    env = StreamExecutionEnvironment.get_execution_environment()
    with pytest.raises(ValueError, match="1 timestamps for 2 elements"):
        env.from_collection(["a", "b"], timestamps=[1])


def test_run_main_locally_runs_what_main_executes():
    def main(argv):
        env = StreamExecutionEnvironment.get_execution_environment()
        env.from_collection(argv).map(str.title).sink_to(CollectSink("titles"))
        env.execute("titles")

    assert run_main_locally(main, ["ann", "bob"])["titles"] == ["Ann", "Bob"]
    with pytest.raises(RuntimeError, match=r"did not call env\.execute"):
        run_main_locally(lambda argv: None)


def test_under_the_dead_letter_policy_records_a_function_raises_on_become_dead_letters():
    env = StreamExecutionEnvironment.get_execution_environment().set_error_policy(ErrorPolicy.DEAD_LETTER)
    (env.from_collection([1, 0, 2]).map(lambda x: 10 // x).name("divide")
        .key_by(lambda x: x % 2).map(lambda x: 1 // (x - 5)).name("not five").sink_to(CollectSink("out")))
    results = run_locally(env)
    assert results["out"] == [0]  # 10 // 1 = 10 -> 1 // 5 = 0; 10 // 2 = 5 -> raises
    assert [(d.source, d.value, d.reason) for d in results.dead_letters] == [
        ("Collection Source -> divide", 0, "ZeroDivisionError: integer division or modulo by zero"),
        ("not five -> out", 5, "ZeroDivisionError: integer division or modulo by zero")]
