"""Deployment descriptors of a job's subtasks (Flink's TaskDeploymentDescriptorFactory).

The only Kafka access is reading the source topics' partitions and their first and end
offsets when the job starts (``read_ends``, injectable), so everything else
here is pure and unit-tested without Kafka.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strom.errors import JobSetupError
from strom.graph.job_graph import JobGraph, JobVertex
from strom.graph.stream_graph import SINK
from strom.io.kafka import max_message_bytes, watermark_offsets
from strom.logs import get_logger
from strom.naming import sink_transactional_id
from strom.runtime.deployment import (
    CheckpointSettings,
    InputPartition,
    OutputEdge,
    RestoreSpec,
    SinkSpec,
    SourceSplit,
    TaskDeploymentDescriptor,
)
from strom.state.keygroups import key_group_range

log = get_logger(__name__)

READ_ENDS_TIMEOUT_S = 10.0  # s: for the source topics' watermark offsets when a job starts

ReadEnds = Callable[[str, list[str], float, dict[str, str]], Mapping[str, Mapping[int, tuple[int, int]]]]
ReadLimits = Callable[[str, list[str]], Mapping[str, int]]


class TaskDeploymentDescriptorFactory:
    """Builds the descriptors of one job's subtasks.

    ``bootstrap``: the cluster's Kafka (a source may name its own);
    ``marker_topic``: where exactly-once sinks commit their commit markers;
    ``read_ends(bootstrap, topics, timeout_s, properties)``: partition -> (low, high watermark) per
    existing topic (``properties``: the source connector's client properties);
    ``read_limits(bootstrap, topics)``: the largest record batch per sink topic (bytes), read at
    the first deployment.
    """

    def __init__(self, job_graph: JobGraph, cluster_id: str, bootstrap: str, marker_topic: str,
                 read_ends: ReadEnds = watermark_offsets, read_limits: ReadLimits = max_message_bytes) -> None:
        self.job_graph, self.cluster_id, self.bootstrap = job_graph, cluster_id, bootstrap
        self.marker_topic, self.read_ends, self.read_limits = marker_topic, read_ends, read_limits
        self._sink_limits: Mapping[str, int] | None = None
        self.job_tasks = sum(v.parallelism for v in job_graph.vertices)
        self.source_splits: dict[str, list[SourceSplit]] = {}  # vertex id -> every split, in order

    # -- source splits, fixed when the job starts ------------------------------------------
    def assign_source_splits(self) -> None:
        """Read every partition of each source vertex's topics; bounded sources end at the high
        watermarks read now, ``earliest`` ones start at the low watermarks read now. Raises
        :class:`JobSetupError` for a missing source topic.

        A real start offset, not librdkafka's OFFSET_BEGINNING: a consumer assigned a logical
        offset before it has the partition's leader queries it only when a 500 ms timer fires
        (503 ms to a new consumer's first record against 3, ``bench/client_start.py``). Records
        deleted by retention meanwhile: ``auto.offset.reset=earliest`` reads from the new first one."""
        for vertex in self.job_graph.vertices:
            if not vertex.is_source:
                continue
            source = vertex.operators[0].connector
            bootstrap = source.bootstrap_servers or self.bootstrap
            ends = self.read_ends(bootstrap, list(source.topics), READ_ENDS_TIMEOUT_S, source.properties)
            splits = []
            for topic in source.topics:
                if topic not in ends:
                    raise JobSetupError(f"source topic {topic!r} does not exist on {bootstrap}")
                for partition, (low, high) in sorted(ends[topic].items()):
                    start = low if source.starting_offsets.kind == "earliest" else high
                    splits.append(SourceSplit(topic, partition, start, high if source.bounded else None))
            self.source_splits[vertex.id] = splits

    def splits_record(self) -> dict[str, list[list[Any]]]:
        """The source splits as JSON-able lists (the job record in Redis keeps them across
        JobManager failovers): ``{vertex id: [[topic, partition, start, end | None], ...]}``."""
        return {vertex_id: [[s.topic, s.partition, s.start_offset, s.end_offset] for s in splits]
                for vertex_id, splits in self.source_splits.items()}

    def load_splits(self, record: Mapping[str, list[list[Any]]]) -> None:
        """Take the splits of :meth:`splits_record` back (a new JobManager leader)."""
        self.source_splits = {vertex_id: [SourceSplit(*s) for s in splits] for vertex_id, splits in record.items()}

    # -- descriptors -------------------------------------------------------------------------
    def restore_spec(self, vertex: JobVertex, restored_from: int | None,
                     savepoint: Mapping[str, Any] | None) -> RestoreSpec | None:
        """What ``vertex`` restores: checkpoint ``restored_from`` of this job, else its state in
        ``savepoint`` (matched by operator uid: ``{"job_id", "checkpoint_id", "vertices":
        {state key: {"vertex_id", "parallelism"}}}``), else nothing."""
        if restored_from is not None:
            return RestoreSpec(self.job_graph.job_id, restored_from, vertex.id, vertex.parallelism)
        if savepoint is not None:
            old = savepoint["vertices"].get(self.job_graph.state_key(vertex))
            if old is not None:
                return RestoreSpec(savepoint["job_id"], savepoint["checkpoint_id"], old["vertex_id"],
                                   old["parallelism"])
        return None

    def create(self, vertex: JobVertex, subtask_index: int, attempt: int, restore: RestoreSpec | None,
               skip_before: Mapping[tuple[str, int], int]) -> TaskDeploymentDescriptor:
        """The descriptor of ``vertex[subtask_index]`` in attempt ``attempt``; ``skip_before``:
        the intermediate partitions' ends when this attempt is deployed (may be empty)."""
        graph, job_id, i = self.job_graph, self.job_graph.job_id, subtask_index
        inputs = []
        for edge in vertex.inputs:
            upstream = graph.vertex(edge.source_vertex).parallelism
            topic = edge.topic(self.cluster_id, job_id)
            owned = key_group_range(graph.max_parallelism, vertex.parallelism, i) if edge.partitioner == "hash" else [i]
            inputs += [InputPartition(topic, p, upstream, skip_before.get((topic, p), 0)) for p in owned]
        keyed = any(e.partitioner == "hash" for e in vertex.inputs)
        key_groups = key_group_range(graph.max_parallelism, vertex.parallelism, i)
        config = graph.checkpoint_config
        return TaskDeploymentDescriptor(
            job_id=job_id, cluster_id=self.cluster_id, vertex_id=vertex.id, subtask_index=i,
            parallelism=vertex.parallelism, max_parallelism=graph.max_parallelism, attempt=attempt,
            dead_letter_topic=graph.dead_letter_topic, buffer_timeout_ms=graph.buffer_timeout_ms,
            source_splits=tuple(s for k, s in enumerate(self.source_splits.get(vertex.id, []))
                                if k % vertex.parallelism == i),
            input_partitions=tuple(inputs),
            outputs=tuple(OutputEdge(e.topic(self.cluster_id, job_id), e.partitioner, e.partitions, e.target_vertex)
                          for e in vertex.outputs),
            key_groups=(key_groups.start, key_groups.stop) if keyed else None,
            checkpoints=CheckpointSettings(
                enabled=config.enabled, aligned=config.mode.value == "exactly-once", interval_ms=config.interval_ms,
                min_pause_ms=config.min_pause_ms, timeout_ms=config.timeout_ms, job_tasks=self.job_tasks),
            restore=restore, sink=self._sink(vertex, i), error_policy=vertex.error_policy(graph.error_policy).value)

    def _sink(self, vertex: JobVertex, subtask_index: int) -> SinkSpec | None:
        tail = vertex.operators[-1]
        if tail.kind != SINK:
            return None
        name = sink_transactional_id(self.job_graph.job_id, vertex.id, subtask_index)
        topic = tail.connector.record_serializer.topic
        limit = self.sink_limits().get(topic)
        return SinkSpec(tail.connector.delivery_guarantee.value, name, self.marker_topic, name,
                        **({"max_record_bytes": limit} if limit else {}))

    def sink_limits(self) -> Mapping[str, int]:
        """Sink topic -> the largest record batch it takes, read once; {} (the producer's limit,
        with a warning) when Kafka does not say."""
        if self._sink_limits is None:
            sinks = [v.operators[-1].connector for v in self.job_graph.vertices if v.operators[-1].kind == SINK]
            # A sink on another cluster is checked against the producer's limit only.
            topics = [s.record_serializer.topic for s in sinks if not s.bootstrap_servers]
            try:
                self._sink_limits = self.read_limits(self.bootstrap, topics)
            except Exception as exc:  # the broker still refuses what is too large: a delivery failure
                log.warning("cannot read the sink topics' max.message.bytes", topics=topics, error=str(exc))
                self._sink_limits = {}
        return self._sink_limits
