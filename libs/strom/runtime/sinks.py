"""Kafka sink writers for the three delivery guarantees.

EXACTLY_ONCE is DESIGN.md's *write-ahead* design (we picked it over
"progress in the transaction" because it also holds for a sink chained after
stateful operators, as in WordCount, where replaying input is not possible):

* between barriers n-1 and n the writer buffers the epoch's records;
* at barrier n the epoch is stored with the checkpoint's snapshot in Redis;
* when checkpoint n completes, epochs <= n are written in one Kafka
  transaction each, which also commits offset ``n`` of a marker partition
  for a consumer group named after the sink subtask
  (``send_offsets_to_transaction``): the atomic "committed up to epoch n".
  A thread of the writer's own commits them, oldest first, while the task goes on
  with the next epoch (the pipeline does not stop for a commit); an epoch stays
  in every snapshot until its commit returned;
* on restore, the writer first calls ``init_transactions`` with its stable
  ``transactional.id`` (fencing a zombie and aborting its open transaction),
  then reads the marker and re-commits the restored epochs above it. That
  closes the window between a completed checkpoint and a commit lost to a crash.
* the snapshot also records the newest epoch the writer knew committed. A restore
  whose marker is above the restored checkpoint (Kafka holds output the checkpoint
  does not cover: the corrupt-checkpoint fallback, Redis losing its last writes) or
  below that epoch (the marker was lost, e.g. expired after
  ``offsets.retention.minutes``) raises :class:`~strom.errors.SinkMarkerError`,
  which fails the job: it would otherwise duplicate or skip output.
* a bounded job ends with a final checkpoint taken after every task reached
  the end of its data (Flink's FLIP-147), so the last epoch is committed the
  same way as every other.

AT_LEAST_ONCE and NONE write at once; the task flushes all its producers at every barrier
before its ack and fails on any failed delivery (:class:`~strom.io.kafka.DeliveryReports`),
so a checkpoint never covers a record Kafka refused. NONE uses the same writer: like Flink's
KafkaWriter, which fails on a producer error whatever the guarantee, it loses nothing silently.
"""

from __future__ import annotations

import functools
import pickle
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from strom.errors import SinkBufferFullError, SinkMarkerError, SinkRecordError
from strom.fault_points import inject
from strom.io.client_config import kafka_client_config
from strom.io.kafka import (
    PRODUCE_BATCH_RECORDS,
    PRODUCER_MAX_MESSAGE_BYTES,
    SINK_TRANSACTION_TIMEOUT_MS,
    log_kafka_errors,
    produce_all,
)
from strom.logs import get_logger
from strom.runtime.epochs import Epoch, chunk_bytes, records

log = get_logger(__name__)


#: A record batch's header (61 bytes) plus one record's framing, rounded up (bytes).
RECORD_OVERHEAD_BYTES = 100


def batch_size_config(max_record_bytes: int) -> dict[str, Any]:
    """librdkafka settings that keep every batch within ``max_record_bytes`` (a topic with a
    smaller max.message.bytes than the producer's would refuse a batch of records that each fit)."""
    return {"batch.size": max_record_bytes} if max_record_bytes < PRODUCER_MAX_MESSAGE_BYTES else {}


class SinkSerializer:
    """A KafkaRecordSerializationSchema checked for what Kafka takes: ``(key, value)`` of an element,
    both bytes (key None without a key serializer) and together under ``max_record_bytes`` with
    :data:`RECORD_OVERHEAD_BYTES`. Raises :class:`~strom.errors.SinkRecordError` otherwise, when
    the element is collected: a record Kafka would refuse must not enter a checkpoint.
    """

    def __init__(self, schema: Any, max_record_bytes: int) -> None:
        self.topic, self.max_record_bytes = schema.topic, max_record_bytes
        self.key, self.value = schema.key_serializer, schema.value_serializer
        # Per record: one call and the checks of its fast path (bench/wordcount.py counts them).
        key_of, value_of, budget = self.key or _no_key, self.value, max_record_bytes - RECORD_OVERHEAD_BYTES

        def serialize(element: Any) -> tuple[bytes | None, bytes]:
            key, value = key_of(element), value_of(element)
            if type(value) is bytes and (key is None or type(key) is bytes) and len(value) + len(key or b"") <= budget:
                return key, value
            raise self._refused(key, value)
        self.serialize = serialize

    def __call__(self, element: Any) -> tuple[bytes | None, bytes]:
        return self.serialize(element)

    def _refused(self, key: Any, value: Any) -> SinkRecordError:
        if not isinstance(value, bytes) or not (key is None or isinstance(key, bytes)):
            wrong = "value" if not isinstance(value, bytes) else "key"
            return SinkRecordError(f"sink to {self.topic}: the {wrong} serializer returned "
                                   f"{type(value if wrong == 'value' else key).__name__}, not bytes")
        size = len(value) + (len(key) if key else 0) + RECORD_OVERHEAD_BYTES
        return SinkRecordError(f"sink to {self.topic}: a record of {size} bytes (value {len(value)}, with "
                               f"framing) is over the {self.max_record_bytes} bytes the topic takes "
                               f"(max.message.bytes)")


def _no_key(element: Any) -> None:
    return None


class KafkaSinkWriter:
    """AT_LEAST_ONCE or NONE: each element is serialized as it comes and produced in batches
    (:func:`~strom.io.kafka.produce_all`: one librdkafka call per batch, not per record) by
    :meth:`flush`, which runs after each batch of the task's input (the chain's
    :class:`~strom.runtime.io.record_writer.OutputFlusher`, so no element waits for later input),
    in :meth:`snapshot` (before the task flushes its producers and acks), at the end of input and
    every :data:`~strom.io.kafka.PRODUCE_BATCH_RECORDS` elements."""

    def __init__(self, producer: Producer, sink: Any, clock: Any, max_record_bytes: int) -> None:
        self.clock = clock
        self.producer, self.topic = producer, sink.record_serializer.topic
        self.serialize = SinkSerializer(sink.record_serializer, max_record_bytes).serialize
        self.records_out, self.back_pressured_s = 0, 0.0  # metrics: elements written, s blocked
        self._collected: list[tuple[bytes | None, bytes, int]] = []  # (key, value, timestamp ms or 0)

    def collect(self, element: Any) -> None:
        key, value = self.serialize(element)
        self.records_out += 1
        self._collected.append((key, value, self.clock.timestamp or 0))
        if len(self._collected) >= PRODUCE_BATCH_RECORDS:
            self.flush()

    def flush(self) -> None:
        """Hand what was collected to the producer (the task flushes the producer itself)."""
        if self._collected:
            collected, self._collected = self._collected, []
            self.back_pressured_s += produce_all(self.producer, self.topic, collected)

    def snapshot(self, checkpoint_id: int) -> bytes | None:
        """No state: what was collected goes into the producer, which the task flushes before its ack."""
        self.flush()
        return None

    def notify_complete(self, checkpoint_id: int) -> None:
        """Nothing to do: records are visible as soon as written."""


class ExactlyOnceSinkWriter:
    """Write-ahead, transactional Kafka sink of one subtask (see the module docstring)."""

    def __init__(self, bootstrap: str, sink: Any, transactional_id: str, marker_topic: str,
                 marker_group: str, clock: Any, linger_ms: int, max_record_bytes: int,
                 max_buffered_bytes: int = 256 << 20, security: Mapping[str, Any] | None = None) -> None:
        self.clock = clock
        self.max_buffered_bytes = max_buffered_bytes  # output held (collected, not committed) at most
        self.topic = sink.record_serializer.topic
        self.serialize = SinkSerializer(sink.record_serializer, max_record_bytes).serialize
        self.marker_topic, self.transactional_id = marker_topic, transactional_id
        self.bootstrap = sink.bootstrap_servers or bootstrap
        # The cluster's security settings, then the sink's set_property values; the transactional
        # id and the marker group are the sink's own (exactly-once rests on them).
        self._client_config = functools.partial(kafka_client_config, self.bootstrap,
                                                properties=getattr(sink, "properties", None), security=security)
        self.producer = Producer({**self._client_config({
            "partitioner": "murmur2_random",
            "linger.ms": linger_ms,
            "transaction.timeout.ms": SINK_TRANSACTION_TIMEOUT_MS,
            **batch_size_config(max_record_bytes),
            "error_cb": log_kafka_errors(f"sink {transactional_id}"),
            # Connect to every broker at once: with sparse connections init_transactions loses a
            # race with the bootstrap connection's replacement and waits for librdkafka's 500 ms
            # PID timer ("No broker available"): 505 ms for a process's first, 55 after, against
            # 4 (bench/client_start.py).
            "enable.sparse.connections": False,
        }), "transactional.id": transactional_id})
        self.producer.init_transactions(60)  # fences older attempts, aborts their open transaction
        self._group = self._marker_reader(marker_group)
        self.epoch = Epoch()
        # Shared with the committer thread, under _lock: epochs snapshotted and not yet committed (as
        # chunks, serialized once), and the newest epoch this writer committed or found committed.
        self._lock = threading.Lock()
        self.pending: dict[int, Any] = {}
        self.committed = -1
        # Output held = collected - committed bytes: each counter has one writer thread.
        self.collected_bytes, self.committed_bytes = 0, 0
        self._scheduled = -1  # the newest epoch handed to the committer (task thread)
        self._to_commit: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self._committer = threading.Thread(target=self._commit_loop, name=f"commit-{transactional_id}",
                                           daemon=True)
        self._committer.start()
        self.records_out, self.back_pressured_s = 0, 0.0  # metrics: elements collected, s blocked

    def collect(self, element: Any) -> None:
        key, value = self.serialize(element)
        self.collected_bytes += len(value) + (len(key) if key else 0)
        if self.collected_bytes - self.committed_bytes > self.max_buffered_bytes:
            raise SinkBufferFullError(
                f"exactly-once sink {self.transactional_id} holds {self.collected_bytes - self.committed_bytes} "
                f"bytes of output not yet "
                f"committed (task.sink.max-buffered-bytes {self.max_buffered_bytes}): checkpoints complete too "
                f"rarely for this rate; checkpoint more often or raise the limit")
        self.epoch.append(key, value, self.clock.timestamp or 0)
        self.records_out += 1

    def committed_marker(self, group: str | None = None) -> int:
        """The newest epoch committed to Kafka by ``group`` (default: this sink's), -1 if none."""
        reader = self._group if group is None else self._marker_reader(group)
        try:
            (position,) = reader.committed([TopicPartition(self.marker_topic, 0)], timeout=30)
        finally:
            if reader is not self._group:
                reader.close()
        return position.offset if position.offset >= 0 else -1

    def _marker_reader(self, group: str) -> Consumer:
        """A consumer of ``group`` on the sink's Kafka, to read the marker it committed."""
        return Consumer({**self._client_config({"enable.auto.commit": False}), "group.id": group})

    def snapshot(self, checkpoint_id: int) -> bytes:
        """The epochs not yet committed, this one included, and the newest committed epoch."""
        self._check()
        chunk = self.epoch.chunk()
        with self._lock:
            self.pending[checkpoint_id] = chunk
            data = pickle.dumps({"committed": self.committed, "epochs": self.pending}, protocol=5)
        self.epoch = Epoch()
        return data

    def restore(self, data: bytes | None, checkpoint_id: int, origin_group: str | None = None) -> None:
        """Re-commit restored epochs newer than the marker (init_transactions ran already).

        ``checkpoint_id``: the checkpoint restored (-1 for none: a restart with no checkpoint left
        must find nothing committed); ``origin_group``: the marker group of the sink
        that took the snapshot, when it was another job's (a savepoint); its marker says what it
        committed. Raises :class:`~strom.errors.SinkMarkerError` when the marker and the checkpoint
        disagree (see the module docstring).
        """
        state: dict[Any, Any] = pickle.loads(data) if data else {"committed": -1, "epochs": {}}
        if "epochs" not in state:  # a snapshot of before the committed epoch was kept: epochs only
            state = {"committed": -1, "epochs": state}
        known, restored = state["committed"], state["epochs"]
        group = origin_group or "its own"
        marker = self.committed_marker(origin_group)
        if marker < known:
            raise SinkMarkerError(
                f"sink {self.transactional_id}: checkpoint {checkpoint_id} saw epoch {known} committed, but the "
                f"marker of {group} group says {marker}: the marker was lost (offsets.retention.minutes "
                f"expired it, or Kafka lost it); re-committing could duplicate output. Check the output "
                f"topic {self.topic} and start a new job without this checkpoint, or restore the marker")
        if marker > checkpoint_id:
            restored_from = f"checkpoint {checkpoint_id}" if checkpoint_id >= 0 else "the start (no checkpoint)"
            message = (f"sink {self.transactional_id}: Kafka holds output up to epoch {marker} ({group} marker), "
                       f"newer than {restored_from} restored; replaying from it would write epochs "
                       f"{checkpoint_id + 1}..{marker} of {self.topic} again")
            if origin_group is None:
                raise SinkMarkerError(message + ". The newer checkpoint is corrupt or Redis lost it (run Redis "
                                      "with appendfsync always); cancel, and resume from a savepoint taken at "
                                      "or after that epoch, or reprocess into a new output topic")
            log.warning("resuming from a savepoint older than its job's output", detail=message)
        for epoch in sorted(restored):  # before the task runs: the committer thread has nothing yet
            if epoch > marker:
                self._commit(epoch, restored[epoch])
                self.committed = epoch
        self.committed = self.committed_marker() if origin_group else max(marker, self.committed)

    def notify_complete(self, checkpoint_id: int) -> None:
        """Hand the epochs of checkpoints <= ``checkpoint_id`` to the committer thread, oldest
        first; raises what an earlier commit raised."""
        self._check()
        with self._lock:
            due = sorted(e for e in self.pending if self._scheduled < e <= checkpoint_id)
        for epoch in due:
            self._to_commit.put(epoch)
            self._scheduled = epoch

    def oldest_uncommitted(self) -> int | None:
        """The oldest epoch snapshotted and not yet handed to the committer, None if none; raises
        what an earlier commit raised."""
        self._check()
        with self._lock:
            return min((e for e in self.pending if e > self._scheduled), default=None)

    def await_commits(self, timeout_s: float = 120.0) -> None:
        """Wait until every epoch handed to the committer is committed (a finishing task); raises
        what a commit raised, or TimeoutError."""
        deadline = time.monotonic() + timeout_s
        while self.committed < self._scheduled:
            self._check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"sink {self.transactional_id}: epoch {self._scheduled} not committed "
                                   f"within {timeout_s} s")
            time.sleep(0.005)

    def _check(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _commit_loop(self) -> None:
        """The committer thread: commits each epoch handed to it, until None."""
        while (epoch := self._to_commit.get()) is not None:
            try:
                with self._lock:
                    chunk = self.pending[epoch]
                self._commit(epoch, chunk)
            except BaseException as exc:  # the task thread raises it at its next call
                self._failure = exc
                return
            with self._lock:
                del self.pending[epoch]
                self.committed = epoch
            self.committed_bytes += chunk_bytes(chunk)

    def _commit(self, epoch: int, chunk: Any) -> None:
        inject("sink-before-commit")
        self.producer.begin_transaction()
        produce_all(self.producer, self.topic, records(chunk))
        self.producer.send_offsets_to_transaction([TopicPartition(self.marker_topic, 0, epoch)],
                                                  self._group.consumer_group_metadata(), 60)
        inject("sink-during-commit")
        try:
            self.producer.commit_transaction(60)
        except KafkaException as exc:
            raise RuntimeError(f"committing sink epoch {epoch} ({self.transactional_id}) failed: "
                               f"{exc}") from exc
        inject("sink-after-commit")

    def close(self) -> None:
        """Stop the committer thread (an epoch it is committing may finish: restores re-commit
        what is not), then the marker reader."""
        self._to_commit.put(None)
        self._committer.join(timeout=10)
        self._group.close()
