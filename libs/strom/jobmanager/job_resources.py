"""The Kafka resources of one job: its topics and the ends of its intermediate topics."""

from __future__ import annotations

import functools
import time
from concurrent.futures import Future

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from strom.graph.job_graph import JobGraph
from strom.graph.stream_graph import SINK
from strom.io.kafka import KafkaPartition, TopicSpec, admin_client, ensure_topics, latest_offsets
from strom.logs import get_logger
from strom.naming import flow_control_group, sink_marker_topic

log = get_logger(__name__)

INTERMEDIATE_SEGMENT_MS = 60_000  # segment.ms of trimmed intermediate topics
INTERMEDIATE_ENDS_TIMEOUT_S = 2.0  # s: reading the ends only saves work, so it may not hold a restart up long


class JobResources:
    """Creates a job's topics (one per JobEdge, dead letters, sink commit markers, sink outputs),
    reads where its intermediate topics end, trims them behind completed checkpoints and deletes
    the intermediate ones at the end."""

    def __init__(self, job_graph: JobGraph, cluster_id: str, bootstrap: str,
                 intermediate_retention_ms: int = 86_400_000) -> None:
        self.job_graph = job_graph
        self.cluster_id = cluster_id
        self.bootstrap = bootstrap
        self.intermediate_retention_ms = intermediate_retention_ms
        self.trimmed: dict[KafkaPartition, int] = {}  # intermediate partition -> offset records were deleted below

    @functools.cached_property
    def admin(self) -> AdminClient:
        """One AdminClient for the job, made at first use (a new one waits up to seconds for its
        first metadata) and kept: a destroyed client drops requests in flight."""
        return admin_client(self.bootstrap)

    @property
    def marker_topic(self) -> str:
        """Partition whose committed group offsets mark the epochs exactly-once sinks committed."""
        return sink_marker_topic(self.cluster_id)

    def edge_topics(self) -> list[str]:
        """The job's intermediate topics, one per JobEdge."""
        return [e.topic(self.cluster_id, self.job_graph.job_id) for e in self.job_graph.edges]

    def topic_specs(self) -> list[TopicSpec]:
        """Every topic the job writes, with its partition count."""
        job_id = self.job_graph.job_id
        # With checkpoints, segments roll every minute so that what checkpoints trimmed leaves the disk at
        # the broker's next retention check (Kafka deletes only whole segments below the log start).
        # Without, nothing trims them: time retention instead, segments a quarter of it so a record stays
        # at most 1.25 x retention. Edge records carry the time they were written (CreateTime), so old
        # event times do not expire them.
        if self.job_graph.checkpoint_config.enabled:
            edge_config = {"segment.ms": str(INTERMEDIATE_SEGMENT_MS)}
        else:
            edge_config = {"retention.ms": str(self.intermediate_retention_ms),
                           "segment.ms": str(max(INTERMEDIATE_SEGMENT_MS, self.intermediate_retention_ms // 4))}
        specs = [TopicSpec(e.topic(self.cluster_id, job_id), e.partitions, edge_config) for e in self.job_graph.edges]
        specs.append(TopicSpec(self.job_graph.dead_letter_topic, 1))
        specs.append(TopicSpec(self.marker_topic, 1))
        for vertex in self.job_graph.vertices:
            tail = vertex.operators[-1]
            if tail.kind == SINK:
                specs.append(TopicSpec(tail.connector.record_serializer.topic, tail.parallelism))
        return specs

    def create_topics(self) -> None:
        """Create the missing topics and wait until the broker serves them (most of a job's start:
        0.3-0.8 s for a keyed edge's 128 partitions, logged); raises what
        :func:`~strom.io.kafka.ensure_topics` raises."""
        started = time.monotonic()
        specs = self.topic_specs()
        ensure_topics(self.bootstrap, specs)
        log.info("job topics ready", job_id=self.job_graph.job_id, topics=len(specs),
                 partitions=sum(s.partitions for s in specs), ms=round((time.monotonic() - started) * 1000))

    def intermediate_ends(self) -> dict[KafkaPartition, int]:
        """Partition -> end offset of every intermediate partition now, {} when Kafka
        does not answer in time.

        Read before a new attempt is deployed: everything before the ends was written by older
        attempts, which generation fencing drops anyway, so the new attempt's tasks start reading
        there instead of skipping it record by record (after a TaskManager loss that was the bulk
        of the first checkpoint's time).
        """
        partitions = [(e.topic(self.cluster_id, self.job_graph.job_id), p) for e in self.job_graph.edges
                      for p in range(e.partitions)]
        try:
            return latest_offsets(self.admin, partitions, timeout_s=INTERMEDIATE_ENDS_TIMEOUT_S)
        except Exception as exc:  # only an optimisation: without it tasks skip the records one by one
            log.warning("cannot read intermediate topic ends; restored tasks skip old records one by one",
                        job_id=self.job_graph.job_id, error=repr(exc))
            return {}

    def trim_intermediate(self, offsets: dict[KafkaPartition, int]) -> None:
        """Delete the records of intermediate partitions below ``offsets`` (next offsets the
        readers' snapshots in a completed checkpoint hold), as Kafka Streams purges repartition
        topics after a commit. Asynchronous: failures are logged, the next checkpoint retries.

        No restore reads below them again: a restored attempt starts reading intermediate
        partitions at their ends (everything before was written by older attempts and would be
        dropped), or, if it cannot read the ends, at its checkpoint's offsets with
        ``auto.offset.reset=earliest``, i.e. at the first record left, which is still older than
        anything the new attempt writes. So the disk of an intermediate topic is bounded by the
        records written between two completed checkpoints plus what the readers lag behind.
        """
        edges = set(self.edge_topics())
        wanted = [TopicPartition(tp.topic, tp.partition, offset) for tp, offset in offsets.items()
                  if tp.topic in edges and offset > self.trimmed.get(tp, 0)]
        if not wanted:
            return
        for tp in wanted:
            self.trimmed[KafkaPartition(tp.topic, tp.partition)] = tp.offset
        for partition, future in self.admin.delete_records(wanted).items():
            future.add_done_callback(functools.partial(self._trim_done, partition))

    def _trim_done(self, partition: TopicPartition, future: Future) -> None:
        exc = future.exception()
        if exc is not None:  # a deleted topic at job end, a broker restart: the next checkpoint retries
            self.trimmed.pop(KafkaPartition(partition.topic, partition.partition), None)
            log.warning("cannot trim intermediate partition", job_id=self.job_graph.job_id,
                        topic=partition.topic, partition=partition.partition, error=str(exc))

    def delete_intermediate_topics(self) -> None:
        """Delete the job's intermediate topics (asynchronously: the admin client sends the request);
        a deletion that fails is logged, and the leader's sweep (:mod:`strom.jobmanager.cleanup`)
        deletes the topic later."""
        topics = self.edge_topics()
        if topics:
            for topic, future in self.admin.delete_topics(topics).items():
                future.add_done_callback(functools.partial(self._deleted, topic))
        # The flow-control groups of the readers (strom.runtime.io.flow_control): else Kafka keeps
        # their offsets for offsets.retention.minutes (7 days).
        groups = sorted({flow_control_group(self.job_graph.job_id, e.target_vertex) for e in self.job_graph.edges})
        if groups:
            for group, future in self.admin.delete_consumer_groups(groups).items():
                future.add_done_callback(functools.partial(self._group_deleted, group))

    def _deleted(self, topic: str, future: Future) -> None:
        exc = future.exception()
        if exc is not None:
            log.warning("cannot delete intermediate topic; the leader's sweep retries", job_id=self.job_graph.job_id,
                        topic=topic, error=str(exc))

    def _group_deleted(self, group: str, future: Future) -> None:
        exc = future.exception()
        if isinstance(exc, KafkaException) and exc.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND:
            return  # its readers never committed (the job ended before they ran)
        if exc is not None:
            log.warning("cannot delete flow-control group", job_id=self.job_graph.job_id, group=group, error=str(exc))
