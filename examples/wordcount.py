"""WordCount: lines from Kafka -> lowercased words -> running count per word -> Kafka.

    strom run -p 2 examples/wordcount.py -- --input lines --output word-counts

Words are runs of Unicode letters (split on everything else), lowercased.
The output topic gets one record per input word: key = word, value = the
word's running count, so the last value per key is the final count. Lines
that are not valid UTF-8 go to the dead-letter topic (``--dead-letter-topic``,
default ``wordcount-dlq``) with the reason and their topic/partition/offset.
"""

import argparse
import re

from strom.api import (
    DeliveryGuarantee,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    SimpleStringSchema,
    StreamExecutionEnvironment,
)

WORD = re.compile(r"[^\W\d_]+")


def words(line: str) -> list[tuple[str, int]]:
    return [(word, 1) for word in WORD.findall(line.lower())]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="wordcount")
    parser.add_argument("--input", default="wordcount-input", help="topic of text lines")
    parser.add_argument("--output", default="wordcount-output", help="topic of (word, count)")
    parser.add_argument("--dead-letter-topic", default="wordcount-dlq", help="topic for undecodable lines")
    parser.add_argument("--unbounded", action="store_true", help="keep reading after the current end")
    parser.add_argument("--checkpoint-interval", type=int, default=0, metavar="MS",
                        help="checkpoint every MS ms; the sink is then exactly-once (0 = off)")
    parser.add_argument("--delivery-guarantee", choices=[g.value for g in DeliveryGuarantee],
                        help="sink guarantee (default: exactly-once with checkpoints, else at-least-once)")
    parser.add_argument("--buffer-timeout", type=int, metavar="MS",
                        help="network buffer timeout (default: the cluster's execution.buffer-timeout; "
                             "0: a buffer per record, lowest latency)")
    parser.add_argument("--rate-limit", type=float, metavar="LINES_PER_S",
                        help="read at most this many lines/s (a steady stream rather than one burst)")
    args = parser.parse_args(argv)

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_dead_letter_topic(args.dead_letter_topic)
    if args.buffer_timeout is not None:
        env.set_buffer_timeout(args.buffer_timeout)
    if args.checkpoint_interval:
        env.enable_checkpointing(args.checkpoint_interval)
    source = KafkaSource.builder().set_topics(args.input) \
        .set_starting_offsets(KafkaOffsetsInitializer.earliest()) \
        .set_value_only_deserializer(SimpleStringSchema())
    if not args.unbounded:
        source = source.set_bounded(KafkaOffsetsInitializer.latest())
    if args.rate_limit:
        source = source.set_rate_limit(args.rate_limit)
    sink = KafkaSink.builder()
    if args.delivery_guarantee:
        sink = sink.set_delivery_guarantee(DeliveryGuarantee(args.delivery_guarantee))
    sink = sink.set_record_serializer(
        KafkaRecordSerializationSchema.builder()
        .set_topic(args.output)
        .set_key_serialization_schema(lambda word_count: word_count[0].encode())
        .set_value_serialization_schema(lambda word_count: str(word_count[1]).encode())
        .build()).build()

    (env.from_source(source.build(), source_name="lines").uid("lines")
        .flat_map(words).name("split words").uid("split")
        .key_by(lambda word_count: word_count[0])
        .sum(1).name("count").uid("count")
        .sink_to(sink).name("counts").uid("counts"))
    env.execute("WordCount")
