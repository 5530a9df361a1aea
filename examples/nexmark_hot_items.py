"""Nexmark Query 5, "hot items": the auctions with the most bids in each sliding window.

    strom run -p 2 examples/nexmark_hot_items.py -- --input bids --output hot-items

Input: JSON bids ``{"auction": 1007, "bidder": 42, "price": 310, "ts": 1700000000123}`` (ms),
out of order by at most ``--out-of-orderness-ms``. Every ``--slide-ms`` a window of the last
``--window-ms`` (default: 10 s every 2 s) closes; the output gets one record per window that
had bids: key = the window's end (decimal ms), value = JSON ``{"window_end": ms, "auctions":
[ids, ascending], "bids": n}``: the auctions with the most bids in the window (ties: all of
them) and their number of bids; Kafka timestamp = the window's last ms (``end - 1``).

The job: bids keyed by auction are counted per sliding event-time window
(``aggregate(CountBids(), window_function=WithWindow())``), then keyed by window end a
``KeyedProcessFunction`` keeps the best count in ValueState and emits it when the watermark
passes the window (an event-time timer at ``end - 1``: by then every count of that window
arrived, as each window fires before its subtask forwards the watermark). Tested without a
cluster in tests/unit/testing/test_examples_locally.py.
"""

import argparse
import json

from strom.api import (
    AggregateFunction,
    Duration,
    JsonSchema,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    KeyedProcessFunction,
    ProcessWindowFunction,
    SlidingEventTimeWindows,
    StreamExecutionEnvironment,
    ValueStateDescriptor,
    WatermarkStrategy,
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


def main(argv):
    parser = argparse.ArgumentParser(prog="nexmark_hot_items")
    parser.add_argument("--input", default="bids", help="topic of JSON bids")
    parser.add_argument("--output", default="hot-items", help="topic of the hottest auctions per window")
    parser.add_argument("--window-ms", type=int, default=Duration.of_seconds(10))
    parser.add_argument("--slide-ms", type=int, default=Duration.of_seconds(2))
    parser.add_argument("--out-of-orderness-ms", type=int, default=Duration.of_seconds(1))
    parser.add_argument("--checkpoint-interval", type=int, default=0, metavar="MS", help="0 = no checkpoints")
    args = parser.parse_args(argv)

    env = StreamExecutionEnvironment.get_execution_environment()
    if args.checkpoint_interval:
        env.enable_checkpointing(args.checkpoint_interval)
    source = (KafkaSource.builder().set_topics(args.input)
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(JsonSchema()).build())
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(args.out_of_orderness_ms)
                  .with_timestamp_assigner(lambda bid, kafka_ts: bid["ts"]))
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(args.output)
        .set_key_serialization_schema(lambda hot: str(hot["window_end"]).encode())
        .set_value_serialization_schema(lambda hot: json.dumps(hot).encode()).build()).build()

    (env.from_source(source, watermarks, "bids").uid("bids")
        .key_by(lambda bid: bid["auction"])
        .window(SlidingEventTimeWindows.of(args.window_ms, args.slide_ms))
        .aggregate(CountBids(), window_function=WithWindow()).name("bids per auction").uid("bids-per-auction")
        .key_by(lambda count: count[0])
        .process(HottestPerWindow()).name("hottest").uid("hottest")
        .sink_to(sink).name("hot items").uid("hot-items"))
    env.execute("Nexmark Q5 hot items")
