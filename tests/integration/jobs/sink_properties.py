"""A job copying ``input`` to ``output`` whose KafkaSink has the client properties ``--property
NAME=VALUE`` (KafkaSink.builder().set_property); ``--exactly-once`` checkpoints, so the sink is
transactional (and the job does not restart)."""

import argparse

from strom.api import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    RestartStrategies,
    StreamExecutionEnvironment,
)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--property", action="append", default=[], help="NAME=VALUE")
    parser.add_argument("--exactly-once", action="store_true")
    args = parser.parse_args(argv)
    env = StreamExecutionEnvironment.get_execution_environment()
    if args.exactly_once:
        env.enable_checkpointing(200)
        env.set_restart_strategy(RestartStrategies.no_restart())  # a sink that cannot start fails the job
    source = KafkaSource.builder().set_topics(args.input).set_bounded(KafkaOffsetsInitializer.latest()).build()
    builder = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(args.output).build())
    for pair in args.property:
        name, _, value = pair.partition("=")
        builder = builder.set_property(name, value)
    env.from_source(source).map(str.upper).name("upper").sink_to(builder.build())
    env.execute("sink properties")
