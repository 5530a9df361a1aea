"""What a TaskManager needs to run one subtask (Flink's TaskDeploymentDescriptor), besides the artifact.

The JobManager builds it (:mod:`strom.jobmanager.deployment`) and sends it in
the ``DeployTask`` control message as :meth:`TaskDeploymentDescriptor.to_json`;
the TaskManager reads it back with :meth:`TaskDeploymentDescriptor.from_json`.
Both ends run the same version, so the JSON shape is private to this module.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from strom.io.kafka import KafkaPartition


@dataclass(frozen=True)
class SourceSplit:
    """One Kafka partition a source subtask reads, from ``start_offset`` to ``end_offset``.

    ``start_offset``: an offset (the JobManager reads real ones; a job record or checkpoint from
    before may hold librdkafka's -2 = beginning, which the reader replaces at the partition's end).
    ``end_offset``: the high watermark read when the job started (bounded
    source; the split ends before it), None for an unbounded source.
    """

    topic: str
    partition: int
    start_offset: int
    end_offset: int | None = None

    @property
    def key(self) -> KafkaPartition:
        return KafkaPartition(self.topic, self.partition)


@dataclass(frozen=True)
class InputPartition:
    """One partition of an intermediate topic a subtask reads.

    Its channels are ``(partition, upstream subtask)`` for every upstream
    subtask in ``range(upstream_parallelism)``: each writes its own barriers,
    watermarks and end of partition into it. ``skip_before``: the partition's
    end when this attempt was deployed (everything before it is an older
    attempt's output): reading starts there unless the restored offset is later.
    """

    topic: str
    partition: int
    upstream_parallelism: int
    skip_before: int = 0

    @property
    def key(self) -> KafkaPartition:
        return KafkaPartition(self.topic, self.partition)


@dataclass(frozen=True)
class OutputEdge:
    """An intermediate topic the subtask writes: ``partitioner`` is the JobEdge's ("hash", "forward",
    "rebalance"), ``partitions`` the topic's partition count, ``target_vertex`` the vertex reading it
    (flow control reads its committed positions)."""

    topic: str
    partitioner: str
    partitions: int
    target_vertex: str = ""


@dataclass(frozen=True)
class RestoreSpec:
    """The checkpoint (or savepoint) to restore from: the snapshots of ``vertex_id``'s
    ``parallelism`` subtasks in checkpoint ``checkpoint_id`` of job ``job_id`` (another job's
    for a savepoint)."""

    job_id: str
    checkpoint_id: int
    vertex_id: str
    parallelism: int


@dataclass(frozen=True)
class SinkSpec:
    """The chain ends in a KafkaSink: its delivery ``guarantee`` ("exactly-once",
    "at-least-once", "none"), its stable ``transactional_id``, where it commits its
    commit marker (``marker_topic``, partition 0, consumer group ``marker_group``), and the
    largest record batch its topic takes (``max_record_bytes``: records are checked against it
    when collected, and no batch is larger)."""

    guarantee: str
    transactional_id: str
    marker_topic: str
    marker_group: str
    max_record_bytes: int = 1_000_000


@dataclass(frozen=True)
class CheckpointSettings:
    """The job's CheckpointConfig as a subtask needs it (times in ms).

    ``aligned``: exactly-once barrier alignment, else at-least-once.
    ``job_tasks``: subtasks in the job, i.e. the acks that complete a checkpoint.
    """

    enabled: bool = False
    aligned: bool = True
    interval_ms: int = 0
    min_pause_ms: int = 0
    timeout_ms: int = 60_000
    job_tasks: int = 1


@dataclass(frozen=True)
class TaskDeploymentDescriptor:
    """One subtask: attempt ``attempt`` (the job's restart count) of ``vertex_id[subtask_index]``.

    ``source_splits`` for a source subtask, ``input_partitions`` for any other;
    ``outputs``: one per output JobEdge, in the vertex's order; ``key_groups``:
    ``(start, stop)`` of a keyed head operator, else None.
    """

    job_id: str
    cluster_id: str
    vertex_id: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    attempt: int
    dead_letter_topic: str
    source_splits: tuple[SourceSplit, ...] = ()
    input_partitions: tuple[InputPartition, ...] = ()
    outputs: tuple[OutputEdge, ...] = ()
    key_groups: tuple[int, int] | None = None
    checkpoints: CheckpointSettings = field(default_factory=CheckpointSettings)
    restore: RestoreSpec | None = None
    sink: SinkSpec | None = None
    error_policy: str = "fail"  # ErrorPolicy's value: what the task does when a user function raises
    buffer_timeout_ms: int | None = None  # the job's execution.buffer-timeout, else the TaskManager's

    @property
    def execution_id(self) -> str:
        return f"{self.vertex_id}[{self.subtask_index}]#{self.attempt}"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TaskDeploymentDescriptor:
        """The descriptor :meth:`to_json` wrote; raises ValueError/TypeError/KeyError for other text."""
        fields: dict[str, Any] = json.loads(text)
        key_groups = fields.pop("key_groups")
        restore, sink = fields.pop("restore"), fields.pop("sink")
        return cls(
            **fields | {
                "source_splits": tuple(SourceSplit(**s) for s in fields["source_splits"]),
                "input_partitions": tuple(InputPartition(**p) for p in fields["input_partitions"]),
                "outputs": tuple(OutputEdge(**o) for o in fields["outputs"]),
                "checkpoints": CheckpointSettings(**fields["checkpoints"]),
            },
            key_groups=(key_groups[0], key_groups[1]) if key_groups is not None else None,
            restore=RestoreSpec(**restore) if restore is not None else None,
            sink=SinkSpec(**sink) if sink is not None else None)
