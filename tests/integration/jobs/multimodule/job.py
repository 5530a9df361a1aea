"""A job over three modules of its own: ``shapes`` beside it and the package ``lib``. Its elements
are instances of a class from ``shapes`` and cross a keyed edge (plain pickle, by reference), so
the modules must be importable where it runs. ``--extra`` also calls ``strom_test_extra``, a
module only the submitting client has (it is not shipped unless given with --py-files)."""

import argparse

from lib.text import words
from shapes import Word

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
    parser.add_argument("--extra", action="store_true")
    args = parser.parse_args(argv)
    shout = None
    if args.extra:
        import strom_test_extra
        shout = strom_test_extra.shout

    def to_words(line: str) -> list[Word]:
        return [Word(shout(w) if shout else w, 1) for w in words(line)]

    env = StreamExecutionEnvironment.get_execution_environment()
    source = KafkaSource.builder().set_topics(args.input).set_bounded(KafkaOffsetsInitializer.latest()).build()
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(args.output)
        .set_key_serialization_schema(lambda word: word.text.encode())
        .set_value_serialization_schema(lambda word: str(word.count).encode()).build()).build()
    env.from_source(source).flat_map(to_words).key_by(lambda word: word.text) \
        .reduce(lambda a, b: a.plus(b)).sink_to(sink)
    env.execute("multi-module")
