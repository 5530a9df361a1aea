"""Which topics a job creates, and with what settings (no Kafka: the specs only)."""

from strom.api import (
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    StreamExecutionEnvironment,
)
from strom.jobmanager.job_resources import JobResources


def wordcount(checkpointing: bool):
    env = StreamExecutionEnvironment.get_execution_environment()
    if checkpointing:
        env.enable_checkpointing(1000)
    (env.from_source(KafkaSource.builder().set_topics("lines").build()).flat_map(str.split)
        .key_by(lambda w: w).sum(1)
        .sink_to(KafkaSink.builder().set_record_serializer(
            KafkaRecordSerializationSchema.builder().set_topic("counts").build()).build()))
    return env.get_job_graph("wc")


def test_intermediate_topics_expire_by_time_only_without_checkpoints_that_trim_them():
    for checkpointing, config in [(False, {"retention.ms": "86400000", "segment.ms": "21600000"}),
                                  (True, {"segment.ms": "60000"})]:
        resources = JobResources(wordcount(checkpointing), "c1", "kafka:9092", intermediate_retention_ms=86_400_000)
        specs = {spec.name: spec for spec in resources.topic_specs()}
        (edge,) = resources.edge_topics()
        assert specs[edge].partitions == 128 and specs[edge].config == config
        assert specs["counts"].config == {} and specs["strom.c1.sink-markers"].config == {}
