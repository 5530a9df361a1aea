"""Nexmark q5, hot items: the auctions with the most bids in each sliding window.

    strom run -p 2 examples/nexmark/q5.py -- --input nexmark --output nexmark-q5

nexmark-flink's q5: bids counted per auction in ``HOP(bid, dateTime, INTERVAL '2' SECOND,
INTERVAL '10' SECOND)`` windows, and per window the auctions whose count is the window's
largest. Every ``--slide-ms`` a window of the last ``--window-ms`` (default: 10 s every 2 s)
closes; the output gets one record per window that had bids: key = the window's end (decimal
ms), value = JSON ``{"window_end": ms, "auctions": [ids, ascending], "bids": n}``: the auctions
with the most bids in the window (ties: all of them) and their number of bids; Kafka timestamp =
the window's last ms (``end - 1``).

The job: bids keyed by auction are counted per sliding event-time window
(``aggregate(CountBids(), window_function=WithWindow())``), then keyed by window end a
``KeyedProcessFunction`` keeps the best count in ValueState and emits it when the watermark
passes the window (an event-time timer at ``end - 1``: by then every count of that window
arrived, as each window fires before its subtask forwards the watermark). Also tested without a
cluster in tests/unit/testing/test_examples_locally.py.
"""

import nexmark_model as nexmark

from strom.api import (
    AggregateFunction,
    Duration,
    KeyedProcessFunction,
    ProcessWindowFunction,
    SlidingEventTimeWindows,
    ValueStateDescriptor,
)


class CountBids(AggregateFunction):
    """Bids of one auction in one window."""

    def create_accumulator(self):
        return 0

    def add(self, bid, accumulator):
        return accumulator + 1

    def get_result(self, accumulator):
        return accumulator

    def merge(self, a, b):
        return a + b


class WithWindow(ProcessWindowFunction):
    """(window end, auction, bids) of the window's one count."""

    def process(self, auction, context, counts):
        yield context.window().end, auction, next(iter(counts))


class HottestPerWindow(KeyedProcessFunction):
    """Per window end: the auctions with the most bids, emitted once the window is complete."""

    def open(self, runtime_context):
        self.best = runtime_context.get_state(ValueStateDescriptor("best"))

    def process_element(self, count, ctx):
        window_end, auction, bids = count
        best_bids, auctions = self.best.value() or (0, [])
        if bids > best_bids:
            best_bids, auctions = bids, [auction]
        elif bids == best_bids:
            auctions = sorted([*auctions, auction])
        self.best.update((best_bids, auctions))
        ctx.timer_service().register_event_time_timer(window_end - 1)

    def on_timer(self, timestamp, ctx):
        bids, auctions = self.best.value()
        self.best.clear()
        yield {"window_end": ctx.get_current_key(), "auctions": auctions, "bids": bids}


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    parser = nexmark.parser("q5", __doc__.splitlines()[0])
    parser.add_argument("--window-ms", type=int, default=Duration.of_seconds(10))
    parser.add_argument("--slide-ms", type=int, default=Duration.of_seconds(2))
    args = parser.parse_args(argv)
    env, events = nexmark.events(args)
    (nexmark.bids(events)
        .key_by(lambda bid: bid["auction"])
        .window(SlidingEventTimeWindows.of(args.window_ms, args.slide_ms))
        .aggregate(CountBids(), window_function=WithWindow()).name("bids per auction").uid("bids-per-auction")
        .key_by(lambda count: count[0])
        .process(HottestPerWindow()).name("hottest").uid("hottest")
        .sink_to(nexmark.json_sink(args.output, key=lambda hot: hot["window_end"])).name("q5").uid("q5"))
    env.execute("Nexmark q5")
