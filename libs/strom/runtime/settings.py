"""A task's tunables (read once from the TaskManager's configuration) and its Kafka client configs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strom.config import (
    Configuration,
    ExecutionOptions,
    MetricsOptions,
    PipelineOptions,
    TaskManagerOptions,
    TaskOptions,
)
from strom.credentials import cluster_secret
from strom.io.client_config import kafka_client_config, kafka_security
from strom.io.kafka import DeliveryReports, log_kafka_errors


@dataclass(frozen=True)
class TaskSettings:
    """Times in ms; see :class:`~strom.config.TaskOptions` and :class:`~strom.config.PipelineOptions`."""

    checkpoint_poll_interval_ms: int
    idle_first_checkpoint_ms: int
    auto_watermark_interval_ms: int
    producer_linger_ms: int
    producer_batch_records: int
    producer_queue_records: int
    consumer_fetch_wait_ms: int
    consumer_partition_fetch_bytes: int
    alignment_buffer_bytes: int = 64 << 20
    sink_max_buffered_bytes: int = 256 << 20
    kafka_statistics_interval_ms: int = 2000  # librdkafka statistics: bytes and source lag metrics
    edge_max_backlog_buffers: int = 50_000  # flow control on intermediate edges; 0: none
    buffer_timeout_ms: int = 100  # open network buffers go out once per this period
    segment_size_bytes: int = 32 * 1024  # ... and when it holds about this
    cluster_secret: bytes = field(default=b"", repr=False)  # seals snapshots (strom.io.sealed)
    # Every Kafka client's security settings (strom.io.client_config.kafka_security): may hold passwords.
    kafka_security: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, config: Configuration) -> TaskSettings:
        """Raises :class:`~strom.config.ConfigError` for a value that does not parse."""
        return cls(
            checkpoint_poll_interval_ms=config.get(TaskOptions.CHECKPOINT_POLL_INTERVAL),
            idle_first_checkpoint_ms=config.get(TaskOptions.IDLE_FIRST_CHECKPOINT),
            auto_watermark_interval_ms=config.get(PipelineOptions.AUTO_WATERMARK_INTERVAL),
            producer_linger_ms=config.get(TaskOptions.PRODUCER_LINGER),
            producer_batch_records=config.get(TaskOptions.PRODUCER_BATCH_RECORDS),
            producer_queue_records=config.get(TaskOptions.PRODUCER_QUEUE_RECORDS),
            consumer_fetch_wait_ms=config.get(TaskOptions.CONSUMER_FETCH_WAIT),
            consumer_partition_fetch_bytes=config.get(TaskOptions.CONSUMER_PARTITION_FETCH_BYTES),
            alignment_buffer_bytes=config.get(TaskOptions.ALIGNMENT_BUFFER_BYTES),
            sink_max_buffered_bytes=config.get(TaskOptions.SINK_MAX_BUFFERED_BYTES),
            kafka_statistics_interval_ms=(config.get(MetricsOptions.KAFKA_STATISTICS_INTERVAL)
                                          if config.get(MetricsOptions.ENABLED) else 0),
            edge_max_backlog_buffers=config.get(TaskOptions.EDGE_MAX_BACKLOG),
            buffer_timeout_ms=config.get(ExecutionOptions.BUFFER_TIMEOUT),
            segment_size_bytes=config.get(TaskManagerOptions.SEGMENT_SIZE),
            cluster_secret=cluster_secret(config, create=True),
            kafka_security=kafka_security(config))

    def kafka_config(self, bootstrap: str, settings: dict[str, Any],
                     properties: dict[str, Any] | None = None) -> dict[str, Any]:
        """A task's Kafka client config: :func:`~strom.io.client_config.kafka_client_config` with the
        TaskManager's security settings; ``properties``: a user connector's (they win)."""
        return kafka_client_config(bootstrap, settings, properties=properties, security=self.kafka_security)

    def buffer_timeout_of(self, job_buffer_timeout_ms: int | None) -> int:
        """The network buffer timeout of a task (ms): its job's (``env.set_buffer_timeout``), else
        ``execution.buffer-timeout``."""
        return self.buffer_timeout_ms if job_buffer_timeout_ms is None else job_buffer_timeout_ms

    def producer_config(self, bootstrap: str, execution_id: str, deliveries: DeliveryReports,
                        job_buffer_timeout_ms: int | None = None) -> dict[str, Any]:
        """librdkafka config of a task's edge (and non-transactional sink) producer; failed
        deliveries go to ``deliveries``. linger.ms never exceeds the task's buffer timeout
        (:meth:`buffer_timeout_of` ``job_buffer_timeout_ms``): at 0 each buffer is sent at once."""
        linger_ms = min(self.producer_linger_ms, self.buffer_timeout_of(job_buffer_timeout_ms))
        return self.kafka_config(bootstrap, {
            **deliveries.producer_config(),
            "partitioner": "murmur2_random",  # a sink's keyed records, as Java producers place them
            "linger.ms": linger_ms,
            "batch.num.messages": self.producer_batch_records,
            "queue.buffering.max.messages": self.producer_queue_records,
            "enable.idempotence": True,
            # A record that fails stops the producer (fatal) rather than leave a gap before later
            # ones: a task downstream that read a barrier has read everything written before it.
            "enable.gapless.guarantee": True,
            "client.id": f"strom-{execution_id}",
            "error_cb": log_kafka_errors(f"task {execution_id} producer"),
        })

    def consumer_config(self, bootstrap: str, group_id: str, execution_id: str, partition_eof: bool,
                        overrides: dict[str, Any]) -> dict[str, Any]:
        """librdkafka config of a task's consumer; ``overrides``: a KafkaSource's properties."""
        return self.kafka_config(bootstrap, {
            "group.id": group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": partition_eof,
            # An intermediate partition trimmed past a restored offset (JobResources.trim_intermediate)
            # is read from its first record left; a source says where to start itself.
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": self.consumer_fetch_wait_ms,
            "max.partition.fetch.bytes": self.consumer_partition_fetch_bytes,
            "client.id": f"strom-{execution_id}",
            "error_cb": log_kafka_errors(f"task {execution_id} consumer"),
        }, overrides)
