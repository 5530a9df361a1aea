"""Test job: count windows, processing-time windows, timers, joins and idleness on JSON clicks.

    strom run -p 2 tests/integration/jobs/event_time_job.py -- --mode MODE --input T --output T [...]

Clicks are ``{"user", "ts"}`` (ms); ``--second-input`` (joins) carries
impressions ``{"user", "ts", "ad"}``. Output values are JSON.
"""

import argparse
import json

from strom.api import (
    JsonSchema,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    KeyedProcessFunction,
    MapStateDescriptor,
    OutputTag,
    ProcessFunction,
    ProcessJoinFunction,
    StreamExecutionEnvironment,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
    ValueStateDescriptor,
    WatermarkStrategy,
)


class CountPerTenSeconds(KeyedProcessFunction):
    """Per user: an event-time timer at the end of each 10 s of event time emits the clicks counted
    since the previous timer (a tumbling window built from state and timers)."""

    def open(self, ctx):
        self.counts = ctx.get_map_state(MapStateDescriptor("counts"))

    def process_element(self, click, ctx):
        end = click["ts"] - click["ts"] % 10_000 + 9_999
        self.counts.put(end, (self.counts.get(end) or 0) + 1)
        ctx.timer_service().register_event_time_timer(end)

    def on_timer(self, timestamp, ctx):
        yield {"user": ctx.get_current_key(), "end": timestamp, "count": self.counts.get(timestamp)}
        self.counts.remove(timestamp)


class LastSeen(KeyedProcessFunction):
    """Processing-time timers: after the first click of a user, emit its click count 300 ms later."""

    def open(self, ctx):
        self.count = ctx.get_state(ValueStateDescriptor("count", default=0))

    def process_element(self, click, ctx):
        if self.count.value() == 0:
            ctx.timer_service().register_processing_time_timer(ctx.timer_service().current_processing_time() + 300)
        self.count.update(self.count.value() + 1)

    def on_timer(self, timestamp, ctx):
        yield {"user": ctx.get_current_key(), "count": self.count.value()}
        self.count.clear()


ODD = OutputTag("odd")


class SplitOdd(ProcessFunction):
    """Clicks at an even ms to the main output, at an odd ms to side output ``odd``."""

    def process_element(self, click, ctx):
        if click["ts"] % 2:
            ctx.output(ODD, click)
        else:
            yield click


class Pair(ProcessJoinFunction):
    def process_element(self, click, impression, ctx):
        yield {"user": click["user"], "click": click["ts"], "impression": impression["ts"],
               "ad": impression["ad"], "ts": ctx.timestamp()}


def json_sink(topic):
    return KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(topic)
        .set_key_serialization_schema(lambda value: value["user"].encode())  # a user's results in order
        .set_value_serialization_schema(lambda value: json.dumps(value, sort_keys=True).encode())
        .build()).build()


def main(argv):
    parser = argparse.ArgumentParser(prog="event_time_job")
    parser.add_argument("--mode", required=True, choices=[
        "count-window", "processing-window", "processing-timers", "timers", "interval-join",
        "window-join", "idle", "side-outputs"])
    parser.add_argument("--input", required=True)
    parser.add_argument("--second-input")
    parser.add_argument("--output", required=True)
    parser.add_argument("--out-of-orderness-ms", type=int, default=2000)
    parser.add_argument("--checkpoint-interval", type=int, default=0)
    parser.add_argument("--unbounded", action="store_true")
    args = parser.parse_args(argv)

    env = StreamExecutionEnvironment.get_execution_environment()
    if args.checkpoint_interval:
        env.enable_checkpointing(args.checkpoint_interval)
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(args.out_of_orderness_ms)
                  .with_timestamp_assigner(lambda event, kafka_ts: event["ts"]))
    if args.mode == "idle":
        watermarks = watermarks.with_idleness(500)

    def source(topic):
        builder = (KafkaSource.builder().set_topics(topic)
                   .set_starting_offsets(KafkaOffsetsInitializer.earliest())
                   .set_value_only_deserializer(JsonSchema()))
        if not args.unbounded:
            builder = builder.set_bounded(KafkaOffsetsInitializer.latest())
        return env.from_source(builder.build(), watermarks, topic)

    clicks = source(args.input)
    by_user = clicks.key_by(lambda click: click["user"])
    def one(click):
        return {"user": click["user"], "count": 1}

    def plus(a, b):
        return {"user": a["user"], "count": a["count"] + b["count"]}

    if args.mode == "count-window":
        result = clicks.map(one).key_by(lambda c: c["user"]).count_window(10).reduce(plus)
    elif args.mode == "processing-window":
        result = clicks.map(one).key_by(lambda c: c["user"]) \
            .window(TumblingProcessingTimeWindows.of(200)).reduce(plus)
    elif args.mode == "processing-timers":
        result = by_user.process(LastSeen())
    elif args.mode in ("timers", "idle"):
        result = by_user.process(CountPerTenSeconds())
    elif args.mode == "interval-join":
        impressions = source(args.second_input).key_by(lambda impression: impression["user"])
        result = by_user.interval_join(impressions).between(-1000, 500).process(Pair())
    elif args.mode == "side-outputs":  # the side output read by two sinks: each gets all of it
        result = clicks.process(SplitOdd())
        for copy in ("side1", "side2"):
            result.get_side_output(ODD).sink_to(json_sink(f"{args.output}-{copy}"))
    else:  # window-join
        impressions = source(args.second_input)
        result = clicks.join(impressions).where(lambda c: c["user"]).equal_to(lambda i: i["user"]) \
            .window(TumblingEventTimeWindows.of(5000)) \
            .apply(lambda c, i: {"user": c["user"], "click": c["ts"], "impression": i["ts"], "ad": i["ad"]})
    result.sink_to(json_sink(args.output))
    env.execute(f"event-time-{args.mode}")
