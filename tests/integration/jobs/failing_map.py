"""A job whose map raises on the line "poison"."""

import sys

from strom.api import (
    KafkaOffsetsInitializer, KafkaRecordSerializationSchema, KafkaSink, KafkaSource,
    StreamExecutionEnvironment)


def explode(line: str) -> str:
    if line == "poison":
        raise ValueError("cannot digest poison")
    return line.upper()


def main(argv):
    input_topic, output_topic = argv
    env = StreamExecutionEnvironment.get_execution_environment()
    source = KafkaSource.builder().set_topics(input_topic).set_bounded(KafkaOffsetsInitializer.latest()).build()
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(output_topic).build()).build()
    env.from_source(source).map(explode).name("explode").sink_to(sink)
    env.execute("failing map")
