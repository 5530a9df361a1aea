"""Process functions, timers, joins and state TTL, without Kafka."""

import pytest

from strom.api.functions import KeyedProcessFunction, TimeDomain
from strom.api.joins import IntervalJoinFunction
from strom.api.windowing import OutputTag
from strom.runtime.process import ProcessOperator
from strom.runtime.timers import InternalTimerService
from strom.runtime.windows import RecordClock
from strom.state import ttl
from strom.state.api import RuntimeContext, ValueStateDescriptor
from strom.state.backend import HeapKeyedStateBackend


class Collect:
    def __init__(self, clock):
        self.clock, self.items = clock, []

    def collect(self, element):
        self.items.append((element, self.clock.timestamp))


def keyed_operator(function, backend=None, side_outputs=None, key_selectors=(lambda e: e[0], None)):
    clock = RecordClock()
    out = Collect(clock)
    backend = backend or HeapKeyedStateBackend()
    timers = InternalTimerService(backend)
    timers.restore()
    function.open(RuntimeContext(backend, "p", 0, 1, 128, 0))
    return ProcessOperator(function, backend, timers, out, clock, side_outputs or {}, key_selectors), out


class Timeout(KeyedProcessFunction):
    """Emits (key, count) when a key saw nothing for 100 ms of event time; odd values also go to a side output."""

    ODD = OutputTag("odd")

    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count", default=0))
        self.deadline = ctx.get_state(ValueStateDescriptor("deadline"))

    def process_element(self, value, ctx):
        self.count.update(self.count.value() + 1)
        if self.deadline.value() is not None:
            ctx.timer_service().delete_event_time_timer(self.deadline.value())
        self.deadline.update(ctx.timestamp() + 100)
        ctx.timer_service().register_event_time_timer(ctx.timestamp() + 100)
        if value[1] % 2:
            ctx.output(self.ODD, value)
        return ()

    def on_timer(self, timestamp, ctx):
        assert ctx.time_domain() is TimeDomain.EVENT_TIME
        yield ctx.get_current_key(), self.count.value()
        self.count.clear()
        self.deadline.clear()


def feed(op, timestamp, element, key_group=0):
    op.backend.current_key_group = key_group
    op.clock.timestamp = timestamp
    op.collect(element)


def test_event_time_timers_fire_in_order_once_and_can_be_deleted():
    odd = Collect(RecordClock())
    op, out = keyed_operator(Timeout(), side_outputs={"odd": odd})
    feed(op, 0, ("a", 1))
    feed(op, 50, ("a", 2))     # moves a's deadline from 100 to 150
    feed(op, 10, ("b", 3), key_group=5)
    op.on_watermark(120)
    assert out.items == [(("b", 1), 110)]
    op.on_watermark(1000)
    assert out.items == [(("b", 1), 110), (("a", 2), 150)]
    assert [value for value, _ts in odd.items] == [("a", 1), ("b", 3)]
    assert op.backend.num_keys() == 0


def test_timers_are_checkpointed_with_keyed_state_and_fire_after_restore():
    op, _out = keyed_operator(Timeout())
    feed(op, 0, ("a", 2))
    feed(op, 30, ("b", 2), key_group=7)
    snapshot = op.backend.snapshot()
    op.on_watermark(1000)  # the failed run fired them; its output is never committed

    restored = HeapKeyedStateBackend()
    restored.restore(snapshot.items())
    op2, out2 = keyed_operator(Timeout(), backend=restored)
    op2.on_watermark(105)
    op2.on_watermark(1000)
    assert out2.items == [(("a", 1), 100), (("b", 1), 130)]


def test_processing_time_timers():
    class Ping(KeyedProcessFunction):
        def process_element(self, value, ctx):
            ctx.timer_service().register_processing_time_timer(value[1])

        def on_timer(self, timestamp, ctx):
            yield ctx.get_current_key(), timestamp, ctx.time_domain()

    op, out = keyed_operator(Ping())
    feed(op, None, ("a", 5_000))
    feed(op, None, ("a", 5_000))  # the same timer twice: one
    feed(op, None, ("b", 4_000))
    op.on_processing_time(4_999)
    op.on_processing_time(5_000)
    assert [value for value, _ts in out.items] == [
        ("b", 4_000, TimeDomain.PROCESSING_TIME), ("a", 5_000, TimeDomain.PROCESSING_TIME)]


def test_interval_join_pairs_within_bounds_and_cleans_up():
    join = IntervalJoinFunction(-10, 20, lambda left, right: (left, right))
    op, out = keyed_operator(join, key_selectors=(lambda e: e[0], lambda e: e[0]))

    def left(ts, value):
        op.clock.timestamp = ts
        op.collect(("k", value))

    def right(ts, value):
        op.clock.timestamp = ts
        op.collect2(("k", value))

    left(100, "L100")
    right(89, "R89")     # 89 - 100 = -11: outside
    right(90, "R90")     # -10: inside
    right(120, "R120")   # +20: inside
    left(130, "L130")    # pairs with R120 (-10)
    right(151, "R151")   # L130: +21 outside; L100: outside
    assert [value for value, _ts in out.items] == [
        (("k", "L100"), ("k", "R90")), (("k", "L100"), ("k", "R120")), (("k", "L130"), ("k", "R120"))]
    assert [ts for _value, ts in out.items] == [100, 120, 130]  # max of the pair's timestamps
    op.on_watermark(10_000)
    assert op.backend.num_keys() == 0  # both buffers emptied by the cleanup timers
    right(5, "late")     # behind the watermark: dropped, as in Flink
    assert len(out.items) == 3


def test_state_ttl_expires_values(monkeypatch):
    now = [1_000]
    monkeypatch.setattr(ttl, "current_time_ms", lambda: now[0])
    backend = HeapKeyedStateBackend()
    backend.current_key = "k"
    ctx = RuntimeContext(backend, "t", 0, 1, 128, 0)
    descriptor = ValueStateDescriptor("v")
    descriptor.enable_time_to_live(ttl.StateTtlConfig.new_builder(100).build())
    state = ctx.get_state(descriptor)
    state.update("x")
    now[0] = 1_099
    assert state.value() == "x"   # read does not refresh (OnCreateAndWrite)
    now[0] = 1_100
    assert state.value() is None and backend.num_keys() == 0

    refreshing = ValueStateDescriptor("r")
    refreshing.enable_time_to_live(ttl.StateTtlConfig.new_builder(100).update_ttl_on_read_and_write().build())
    state = ctx.get_state(refreshing)
    state.update("y")
    for _ in range(3):
        now[0] += 99
        assert state.value() == "y"  # each read keeps it alive
    with pytest.raises(ValueError, match="TTL must be > 0 ms"):
        ttl.StateTtlConfig.new_builder(0)


def test_a_non_keyed_co_process_function_takes_each_input_through_its_own_method():
    from strom.api.functions import CoProcessFunction

    class Tag(CoProcessFunction):
        def process_element1(self, value, ctx):
            yield "first", value

        def process_element2(self, value, ctx):
            yield "second", value
            ctx.output(OutputTag("copies"), value)

    clock = RecordClock()
    out, copies = Collect(clock), Collect(clock)
    op = ProcessOperator(Tag(), None, None, out, clock, {"copies": copies})
    op.collect(1)
    op.collect2(2)
    assert [value for value, _ts in out.items] == [("first", 1), ("second", 2)]
    assert [value for value, _ts in copies.items] == [2]
    with pytest.raises(RuntimeError, match="timers need a keyed stream"):
        op.ctx.timer_service().register_event_time_timer(5)


def test_interval_join_keeps_an_element_until_its_own_time_with_a_positive_lower_bound():
    """between(10, 20): a right element at 100 pairs with left elements in [80, 90]; a left element
    at 90 is on time while the watermark is 90, so the right one must still be buffered."""
    join = IntervalJoinFunction(10, 20, lambda left, right: (left, right))
    op, out = keyed_operator(join, key_selectors=(lambda e: e[0], lambda e: e[0]))
    op.clock.timestamp = 100
    op.collect2(("k", "R100"))
    op.on_watermark(89)
    op.clock.timestamp = 90
    op.collect(("k", "L90"))
    assert [value for value, _ts in out.items] == [(("k", "L90"), ("k", "R100"))]


def test_a_non_keyed_process_function_chained_behind_a_keyed_one_cannot_use_its_timers():
    from strom.api.functions import ProcessFunction
    from strom.graph.stream_graph import PROCESS, StreamNode
    from strom.runtime.operators import chain_operator

    class Tick(ProcessFunction):
        def process_element(self, value, ctx):
            ctx.timer_service().register_event_time_timer(5)

    backend = HeapKeyedStateBackend()
    clock = RecordClock()
    node = StreamNode(2, PROCESS, "tick", 1, function=Tick())
    op = chain_operator(node, Collect(clock), backend, InternalTimerService(backend),
                        RuntimeContext(None, "t", 0, 1, 128, 0), clock, {})
    with pytest.raises(RuntimeError, match="timers need a keyed stream"):
        op.collect("x")
