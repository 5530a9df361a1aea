"""Clicks per user per 5 s tumbling event-time window, and a running click total per user (seed 004).

    strom run -p 2 examples/clicks.py -- --input clicks --output clicks-per-window --totals click-totals

Input: JSON click events ``{"user": "u7", "url": "/a", "ts": 1700000000123}`` (ms),
out of order by at most ``--out-of-orderness-ms``. Output: key = user, value =
the window's click count, Kafka timestamp = the window's last ms
(``end - 1``); with ``--slide-ms`` the windows slide, with ``--session-gap-ms``
they are sessions. ``--late`` gets the clicks beyond ``--allowed-lateness-ms``.
``--totals`` gets every click's running per-user total, kept in ValueState.
"""

import argparse

from strom.api import (
    AggregateFunction,
    Duration,
    EventTimeSessionWindows,
    JsonSchema,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    MapFunction,
    OutputTag,
    SlidingEventTimeWindows,
    StreamExecutionEnvironment,
    TumblingEventTimeWindows,
    ValueStateDescriptor,
    WatermarkStrategy,
)


class CountClicks(AggregateFunction):
    """(user, clicks) of one window."""

    def create_accumulator(self):
        return None, 0

    def add(self, click, accumulator):
        return click["user"], accumulator[1] + 1

    def get_result(self, accumulator):
        return accumulator

    def merge(self, a, b):
        return a[0] or b[0], a[1] + b[1]


class RunningTotal(MapFunction):
    def open(self, runtime_context):
        self.total = runtime_context.get_state(ValueStateDescriptor("total", default=0))

    def map(self, click):
        self.total.update(self.total.value() + 1)
        return click["user"], self.total.value()


def sink(topic, key, value):
    return KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(topic)
        .set_key_serialization_schema(key).set_value_serialization_schema(value).build()).build()


def main(argv):
    parser = argparse.ArgumentParser(prog="clicks")
    parser.add_argument("--input", default="clicks")
    parser.add_argument("--output", default="clicks-per-window")
    parser.add_argument("--totals", help="topic for running per-user totals (off if not given)")
    parser.add_argument("--window-ms", type=int, default=Duration.of_seconds(5))
    parser.add_argument("--slide-ms", type=int, help="slide of sliding windows (tumbling if not given)")
    parser.add_argument("--session-gap-ms", type=int, help="session windows with this gap instead")
    parser.add_argument("--allowed-lateness-ms", type=int, default=0)
    parser.add_argument("--late", help="topic for clicks later than the allowed lateness (dropped if not given)")
    parser.add_argument("--out-of-orderness-ms", type=int, default=Duration.of_seconds(2))
    parser.add_argument("--checkpoint-interval", type=int, default=0, metavar="MS")
    parser.add_argument("--dead-letter-topic", default="clicks-dlq")
    parser.add_argument("--unbounded", action="store_true")
    args = parser.parse_args(argv)

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_dead_letter_topic(args.dead_letter_topic)
    if args.checkpoint_interval:
        env.enable_checkpointing(args.checkpoint_interval)
    source = KafkaSource.builder().set_topics(args.input) \
        .set_starting_offsets(KafkaOffsetsInitializer.earliest()) \
        .set_value_only_deserializer(JsonSchema())
    if not args.unbounded:
        source = source.set_bounded(KafkaOffsetsInitializer.latest())
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(args.out_of_orderness_ms)
                  .with_timestamp_assigner(lambda click, kafka_ts: click["ts"]))
    windows = (EventTimeSessionWindows.with_gap(args.session_gap_ms) if args.session_gap_ms
               else SlidingEventTimeWindows.of(args.window_ms, args.slide_ms) if args.slide_ms
               else TumblingEventTimeWindows.of(args.window_ms))
    late = OutputTag("late-clicks")

    clicks = env.from_source(source.build(), watermarks, "clicks").uid("clicks")
    windowed = clicks.key_by(lambda click: click["user"]).window(windows) \
        .allowed_lateness(args.allowed_lateness_ms)
    if args.late:
        windowed = windowed.side_output_late_data(late)
    counts = windowed.aggregate(CountClicks()).uid("clicks-per-window")
    counts.sink_to(sink(args.output, lambda result: result[0].encode(), lambda result: str(result[1]).encode()))
    if args.late:
        counts.get_side_output(late).sink_to(sink(args.late, lambda click: click["user"].encode(),
                                                  JsonSchema()))
    if args.totals:
        (clicks.key_by(lambda click: click["user"]).map(RunningTotal()).uid("running-total")
            .sink_to(sink(args.totals, lambda total: total[0].encode(), lambda total: str(total[1]).encode())))
    env.execute("Clicks")
