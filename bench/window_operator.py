"""The window operator and timers alone, without Kafka: records/s per window kind.

    .venv/bin/python bench/window_operator.py [--events 300000]

Feeds synthetic clicks (50 users, 10 minutes of event time, 2 s disorder)
through one subtask's operator with a watermark every 1,000 records, as the
runtime would, and prints records/s for a tumbling count, a sliding
(10 s / 2 s) count, a count window and a KeyedProcessFunction with one
event-time timer per key and 10 s. Shows what the operator costs per record
next to bench/windows.py's end-to-end figures.
"""

from __future__ import annotations

import argparse
import random
import time

from strom.api import (
    AggregateFunction,
    CountTrigger,
    GlobalWindows,
    KeyedProcessFunction,
    PurgingTrigger,
    SlidingEventTimeWindows,
    TumblingEventTimeWindows,
    ValueStateDescriptor,
)
from strom.graph.stream_graph import WINDOW, StreamNode
from strom.runtime.process import ProcessOperator
from strom.runtime.timers import MAX_TIME, InternalTimerService
from strom.runtime.windows import RecordClock, WindowOperator
from strom.state.api import RuntimeContext
from strom.state.backend import HeapKeyedStateBackend


class Count(AggregateFunction):
    def create_accumulator(self):
        return 0

    def add(self, value, accumulator):
        return accumulator + 1

    def get_result(self, accumulator):
        return accumulator

    def merge(self, a, b):
        return a + b


class TenSecondCount(KeyedProcessFunction):
    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count", default=0))

    def process_element(self, value, ctx):
        self.count.update(self.count.value() + 1)
        ctx.timer_service().register_event_time_timer(ctx.timestamp() - ctx.timestamp() % 10_000 + 9_999)

    def on_timer(self, timestamp, ctx):
        yield self.count.value()
        self.count.clear()


class Discard:
    def __init__(self) -> None:
        self.count = 0

    def collect(self, element) -> None:
        self.count += 1


def run(name: str, make, events: list[tuple[str, int]]) -> None:
    backend, clock, out = HeapKeyedStateBackend(), RecordClock(), Discard()
    timers = InternalTimerService(backend)
    operator = make(backend, timers, out, clock)
    started = time.perf_counter()
    for i, (user, ts) in enumerate(events):
        backend.current_key, backend.current_key_group, clock.timestamp = user, hash(user) % 128, ts
        operator.collect(user)
        if i % 1000 == 999:
            operator.on_watermark(ts - 2001)
    operator.on_watermark(MAX_TIME)
    seconds = time.perf_counter() - started
    print(f"{name:<34} {len(events) / seconds:>10,.0f} records/s  {out.count:>7,} results")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    args = parser.parse_args()
    rng = random.Random(1)
    events = sorted(((f"u{rng.randrange(50)}", 1_700_000_000_000 + rng.randrange(600_000))
                     for _ in range(args.events)), key=lambda e: e[1] + rng.randrange(2000))

    def window(assigner, trigger=None):
        def make(backend, timers, out, clock):
            node = StreamNode(1, WINDOW, "window", 1, function=Count(), window=assigner,
                              window_function="aggregate", trigger=trigger)
            return WindowOperator(node, backend, timers, out, clock, None)
        return make

    def process(backend, timers, out, clock):
        function = TenSecondCount()
        function.open(RuntimeContext(backend, "process", 0, 1, 128, 0))
        return ProcessOperator(function, backend, timers, out, clock, {})

    print(f"{args.events:,} clicks, 50 users, 10 min of event time, 2 s disorder")
    run("tumbling 5 s count", window(TumblingEventTimeWindows.of(5000)), events)
    run("sliding 10 s / 2 s count", window(SlidingEventTimeWindows.of(10_000, 2000)), events)
    run("count window of 100", window(GlobalWindows.create(), PurgingTrigger.of(CountTrigger.of(100))), events)
    run("KeyedProcessFunction, 10 s timers", process, events)


if __name__ == "__main__":
    main()
