"""Deployment descriptors of a job's subtasks, built without Kafka, ZooKeeper or Redis."""

import pytest

from strom.api import (
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    StreamExecutionEnvironment,
)
from strom.jobmanager.deployment import JobSetupError, TaskDeploymentDescriptorFactory
from strom.runtime.deployment import (
    InputPartition,
    OutputEdge,
    RestoreSpec,
    SinkSpec,
    SourceSplit,
    TaskDeploymentDescriptor,
)


def wordcount(checkpointing=True):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    if checkpointing:
        env.enable_checkpointing(500)
    source = (KafkaSource.builder().set_topics("lines").set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest()).build())
    sink = KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic("counts").build()).build()
    (env.from_source(source, source_name="lines").flat_map(str.split)
        .key_by(lambda w: w).sum(1).sink_to(sink).uid("counts"))
    return env.get_job_graph("WordCount")


def factory(job_graph, ends=None):
    topics = {"lines": {0: (0, 10), 1: (4, 20), 2: (0, 30)}} if ends is None else ends
    calls = []

    def read_ends(bootstrap, names, *_):
        calls.append((bootstrap, names))
        return {t: topics[t] for t in names if t in topics}

    def read_limits(bootstrap, names):
        calls.append(("limits", names))
        return {t: 200 for t in names}

    result = TaskDeploymentDescriptorFactory(job_graph, "c1", "kafka:9092", "strom.c1.sink-markers", read_ends,
                                             read_limits)
    result.calls = calls
    return result


def test_source_splits_are_every_partition_round_robin_over_subtasks_from_the_first_to_the_end_offsets_read_at_start():
    job = wordcount()
    deployments = factory(job)
    deployments.assign_source_splits()
    assert deployments.calls == [("kafka:9092", ["lines"])]
    source = job.vertices[0]
    first = deployments.create(source, 0, 0, None, {})
    second = deployments.create(source, 1, 0, None, {})
    # Real offsets, not librdkafka's OFFSET_BEGINNING: partition 1's first 4 records were deleted.
    assert first.source_splits == (SourceSplit("lines", 0, 0, 10), SourceSplit("lines", 2, 0, 30))
    assert second.source_splits == (SourceSplit("lines", 1, 4, 20),)
    edge = job.edges[0]
    assert first.outputs == (OutputEdge(edge.topic("c1", job.job_id), "hash", 128, "v2"),)
    assert first.input_partitions == () and first.key_groups is None and first.sink is None
    assert first.checkpoints.enabled and first.checkpoints.aligned and first.checkpoints.interval_ms == 500
    assert first.checkpoints.job_tasks == 4


def test_a_keyed_subtask_reads_its_key_group_range_and_skips_what_older_attempts_wrote():
    job = wordcount()
    deployments = factory(job)
    counts, edge = job.vertices[1], job.edges[0]
    topic = edge.topic("c1", job.job_id)
    descriptor = deployments.create(counts, 1, 3, None, {(topic, 64): 500, ("other", 64): 9})
    assert descriptor.key_groups == (64, 128)
    assert [p.partition for p in descriptor.input_partitions] == list(range(64, 128))
    assert descriptor.input_partitions[0] == InputPartition(topic, 64, 2, skip_before=500)
    assert descriptor.input_partitions[1].skip_before == 0
    assert descriptor.execution_id == f"{counts.id}[1]#3" and descriptor.attempt == 3
    name = f"strom-{job.job_id}-{counts.id}-1"
    # The sink topic's max.message.bytes, read once for the job (the other subtask's reuses it).
    assert descriptor.sink == SinkSpec("exactly-once", name, "strom.c1.sink-markers", name, max_record_bytes=200)
    deployments.create(counts, 0, 3, None, {})
    assert deployments.calls == [("limits", ["counts"])]


def test_restore_from_a_checkpoint_of_this_job_or_a_savepoint_matched_by_uid():
    job = wordcount()
    deployments, counts = factory(job), job.vertices[1]
    assert deployments.restore_spec(counts, 7, None) == RestoreSpec(job.job_id, 7, counts.id, 2)
    savepoint = {"job_id": "old", "checkpoint_id": 3,
                 "vertices": {job.state_key(counts): {"vertex_id": "v9", "parallelism": 4}}}
    assert deployments.restore_spec(counts, None, savepoint) == RestoreSpec("old", 3, "v9", 4)
    assert deployments.restore_spec(job.vertices[0], None, savepoint) is None
    assert deployments.restore_spec(counts, None, None) is None


def test_the_descriptor_survives_its_json_and_the_splits_their_job_record():
    job = wordcount()
    deployments = factory(job)
    deployments.assign_source_splits()
    for vertex in job.vertices:
        descriptor = deployments.create(vertex, 0, 1, deployments.restore_spec(vertex, 5, None), {})
        assert TaskDeploymentDescriptor.from_json(descriptor.to_json()) == descriptor
    again = factory(job, ends={})
    again.load_splits(deployments.splits_record())
    assert again.source_splits == deployments.source_splits and again.calls == []


def test_unbounded_sources_have_no_end_and_a_missing_topic_fails_the_setup():
    job = wordcount(checkpointing=False)
    job.vertices[0].operators[0].connector.bounded = False
    deployments = factory(job)
    deployments.assign_source_splits()
    assert all(s.end_offset is None for s in deployments.source_splits[job.vertices[0].id])
    assert not deployments.create(job.vertices[1], 0, 0, None, {}).checkpoints.enabled
    with pytest.raises(JobSetupError, match="source topic 'lines' does not exist on kafka:9092"):
        factory(job, ends={}).assign_source_splits()
