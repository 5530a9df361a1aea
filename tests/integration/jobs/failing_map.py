"""A job whose map raises on the line "poison". ``--restarts N`` checkpoints and restarts N times;
``--error-policy dead-letter`` sends what raises to ``--dead-letter-topic`` instead."""

import argparse

from strom.api import (
    ErrorPolicy,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    RestartStrategies,
    StreamExecutionEnvironment,
)


def explode(line: str) -> str:
    if line == "poison":
        raise ValueError("cannot digest poison")
    return line.upper()


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--restarts", type=int, default=None)
    parser.add_argument("--error-policy", choices=[p.value for p in ErrorPolicy], default="fail")
    parser.add_argument("--dead-letter-topic", default=None)
    args = parser.parse_args(argv)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_error_policy(ErrorPolicy(args.error_policy))
    if args.dead_letter_topic:
        env.set_dead_letter_topic(args.dead_letter_topic)
    if args.restarts is not None:
        env.enable_checkpointing(200)
        env.set_restart_strategy(RestartStrategies.fixed_delay_restart(args.restarts, 200))
    source = KafkaSource.builder().set_topics(args.input).set_bounded(KafkaOffsetsInitializer.latest()).build()
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(args.output).build()).build()
    env.from_source(source).map(explode).name("explode").sink_to(sink)
    env.execute("failing map")
