"""Nexmark q7, highest bid: the bids with the highest price of each tumbling window.

    strom run -p 2 examples/nexmark/q7.py -- --input nexmark --output nexmark-q7

nexmark-flink's q7 joins the bids with ``MAX(price)`` per ``TUMBLE(bid, dateTime, INTERVAL '10'
SECOND)`` window. Here a bid belongs to the one window that holds its ``dateTime`` (start
inclusive, end exclusive); nexmark-flink's ``BETWEEN window_end - 10 s AND window_end`` also
lets a bid at exactly the next window's first ms join if it ties the price. Output: per window
(``--window-ms``, default 10 s) and bid at its highest price (ties: every one), key = the window's
end, value = JSON ``{"window_end", "auction", "price", "bidder", "dateTime", "extra"}``, Kafka
timestamp = the window's last ms.

The job: bids keyed by auction keep their highest bids per window (an ``AggregateFunction``),
then keyed by window end a ``KeyedProcessFunction`` keeps the window's highest and emits them
when the watermark passes the window.
"""

import nexmark_model as nexmark

from strom.api import (
    AggregateFunction,
    Duration,
    KeyedProcessFunction,
    ProcessWindowFunction,
    TumblingEventTimeWindows,
    ValueStateDescriptor,
)


def higher(a: tuple[int, list[dict]], b: tuple[int, list[dict]]) -> tuple[int, list[dict]]:
    """Of two (price, bids at that price): the higher, or both bids' lists at a tie."""
    if a[0] == b[0]:
        return a[0], a[1] + b[1]
    return a if a[0] > b[0] else b


class HighestBids(AggregateFunction):
    """(highest price, the bids at it) of one key's window."""

    def create_accumulator(self):
        return -1, []

    def add(self, bid, accumulator):
        return higher(accumulator, (bid["price"], [bid]))

    def get_result(self, accumulator):
        return accumulator

    def merge(self, a, b):
        return higher(a, b)


class WithWindowEnd(ProcessWindowFunction):
    """(window end, (price, bids)) of the window's one result."""

    def process(self, auction, context, results):
        yield context.window().end, next(iter(results))


class HighestPerWindow(KeyedProcessFunction):
    """Per window end: the highest bids over all keys, emitted once the window is complete."""

    def open(self, runtime_context):
        self.best = runtime_context.get_state(ValueStateDescriptor("highest"))

    def process_element(self, result, ctx):
        window_end, highest = result
        best = self.best.value()
        self.best.update(highest if best is None else higher(best, highest))
        ctx.timer_service().register_event_time_timer(window_end - 1)

    def on_timer(self, timestamp, ctx):
        price, bids = self.best.value()
        self.best.clear()
        for bid in bids:
            yield {"window_end": ctx.get_current_key(), "auction": bid["auction"], "price": price,
                   "bidder": bid["bidder"], "dateTime": bid["dateTime"], "extra": bid["extra"]}


def main(argv: list[str]) -> None:
    """Build the query's job from ``argv`` (the options after ``--``, ``--help`` lists them) and run it."""
    parser = nexmark.parser("q7", __doc__.splitlines()[0])
    parser.add_argument("--window-ms", type=int, default=Duration.of_seconds(10))
    args = parser.parse_args(argv)
    env, events = nexmark.events(args)
    (nexmark.bids(events)
        .key_by(lambda bid: bid["auction"])
        .window(TumblingEventTimeWindows.of(args.window_ms))
        .aggregate(HighestBids(), window_function=WithWindowEnd()).name("highest per auction").uid("per-auction")
        .key_by(lambda result: result[0])
        .process(HighestPerWindow()).name("highest").uid("highest")
        .sink_to(nexmark.json_sink(args.output, key=lambda bid: bid["window_end"])).name("q7").uid("q7"))
    env.execute("Nexmark q7")
