"""A job whose sink side is slow on purpose: lines -> upper (fast) -> rebalance -> a map that takes
``--ms-per-record`` ms -> sink. Its upstream vertex should show as back-pressured once the edge
between them holds ``task.edge.max-backlog-buffers`` unread."""

import argparse
import time

from strom.api import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    StreamExecutionEnvironment,
)


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--ms-per-record", type=float, default=2.0)
    args = parser.parse_args(argv)
    delay_s = args.ms_per_record / 1000

    def slowly(line: str) -> str:
        time.sleep(delay_s)
        return line

    env = StreamExecutionEnvironment.get_execution_environment()
    source = KafkaSource.builder().set_topics(args.input) \
        .set_starting_offsets(KafkaOffsetsInitializer.earliest()).build()
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(args.output).build()).build()
    env.from_source(source, source_name="lines").map(str.upper).name("upper") \
        .rebalance().map(slowly).name("slow").sink_to(sink).name("sink")
    env.execute("slow sink")
