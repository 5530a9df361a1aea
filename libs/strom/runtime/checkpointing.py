"""A subtask's side of checkpoints (Flink's SubtaskCheckpointCoordinator): trigger, snapshot, ack, restore.

A source subtask starts checkpoint n on its own schedule
(:class:`~strom.checkpoint.scheduler.CheckpointScheduler`, through
:meth:`~strom.checkpoint.store.CheckpointStore.claim`) or when the JobManager
triggers it (a savepoint, the final checkpoint); any other subtask when its
barrier handler aligned barrier n. Either way :meth:`checkpoint` forwards the
barrier, stores the snapshot in Redis and acks there (the last ack completes
the checkpoint) and to the JobManager.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from strom.checkpoint.scheduler import START, CheckpointScheduler
from strom.checkpoint.snapshot import SubtaskSnapshot
from strom.checkpoint.store import CheckpointStore
from strom.errors import CheckpointCorruptedError, DeliveryFailedError, StaleAttemptError, TaskFailureCause
from strom.fault_points import inject
from strom.io.kafka import DeliveryReports, KafkaPartition
from strom.naming import sink_transactional_id
from strom.runtime.chain import OperatorChain
from strom.runtime.deployment import TaskDeploymentDescriptor
from strom.runtime.errors import ReplacedAttemptError
from strom.runtime.io.events import CheckpointBarrier
from strom.runtime.sinks import ExactlyOnceSinkWriter
from strom.runtime.timers import MIN_TIME

Offsets = dict[KafkaPartition, int]


class CheckpointEvents:
    """Checkpoint triggers and completions from the TaskManager's thread, for the task's thread."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[str, int, bool]] = queue.SimpleQueue()

    def trigger(self, checkpoint_id: int) -> None:
        self._queue.put(("trigger", checkpoint_id, False))

    def notify_complete(self, checkpoint_id: int, final: bool) -> None:
        """``final``: the job's last checkpoint; the task finishes after handling it."""
        self._queue.put(("complete", checkpoint_id, final))

    def next(self, wait_s: float) -> tuple[str, int, bool] | None:
        """(kind, checkpoint id, final), waiting up to ``wait_s``; None if there is none."""
        try:
            return self._queue.get(timeout=wait_s) if wait_s else self._queue.get_nowait()
        except queue.Empty:
            return None


@dataclass
class TaskCallbacks:
    """How a task talks back to its TaskManager (which sends control messages)."""

    report: Callable[[str, str | None, TaskFailureCause | None], None]  # (execution state, error, its cause)
    acknowledge: Callable[[int, int, bool], None]        # (checkpoint id, state size bytes, completed it)
    decline: Callable[[int, str], None]                  # (checkpoint id, reason)


class SubtaskCheckpointCoordinator:
    """Checkpoints of one subtask, on the task's thread; ``events`` come from the TaskManager's.

    ``scheduler``: a source subtask's trigger rules (None for other subtasks or without
    checkpointing); ``poll_interval_ms``: how often it reads checkpoint progress from Redis;
    ``emitted()``: the task's input sent records since it began (a source's first checkpoint);
    ``deliveries``: failed deliveries of the task's producers; ``flush_outputs()``: waits until
    what the task produced that no downstream task reads is in Kafka (raises DeliveryFailedError
    otherwise).
    """

    def __init__(self, descriptor: TaskDeploymentDescriptor, store: CheckpointStore, chain: OperatorChain,
                 events: CheckpointEvents, callbacks: TaskCallbacks, scheduler: CheckpointScheduler | None,
                 poll_interval_ms: int, emitted: Callable[[], bool], deliveries: DeliveryReports,
                 flush_outputs: Callable[[], None]) -> None:
        self.descriptor, self.store, self.chain, self.callbacks = descriptor, store, chain, callbacks
        self.scheduler, self.poll_interval_s = scheduler, poll_interval_ms / 1000
        self.emitted, self.events = emitted, events
        self.deliveries, self.flush_outputs = deliveries, flush_outputs
        self._next_poll = 0.0

    def handle_events(self, source_offsets: Callable[[], Offsets] | None, wait_s: float = 0.0) -> bool:
        """Run queued trigger/complete events (a source passes how to read its offsets; others'
        triggers are ignored: their barriers trigger them).

        Waits up to ``wait_s`` for the first one. Returns True once the final
        checkpoint's completion was handled.
        """
        while (event := self.events.next(wait_s)) is not None:
            kind, checkpoint_id, final = event
            wait_s = 0.0
            if kind == "trigger" and source_offsets is not None:
                if self.scheduler is None or checkpoint_id > self.scheduler.last_id:
                    self._start(checkpoint_id, source_offsets)
            elif kind == "complete":
                sink = self.chain.sink_writer
                if sink is not None:
                    sink.notify_complete(checkpoint_id)
                if final:
                    if isinstance(sink, ExactlyOnceSinkWriter):
                        sink.await_commits()  # FINISHED means the output is committed
                    return True
        return False

    def poll(self, source_offsets: Callable[[], Offsets] | None) -> None:
        """Every poll interval: read the job's checkpoint progress from Redis; an exactly-once
        sink commits the epochs of completed checkpoints (during a JobManager failover nobody
        else tells it), a source (``source_offsets`` given) starts or joins the next checkpoint
        when its CheckpointScheduler says so. Raises ReplacedAttemptError once the job runs
        another attempt, DeliveryFailedError once Kafka refused a record the task produced."""
        self.deliveries.check()
        sink = self.chain.sink_writer if isinstance(self.chain.sink_writer, ExactlyOnceSinkWriter) else None
        oldest = sink.oldest_uncommitted() if sink is not None else None
        if oldest is None:
            sink = None
        scheduler = self.scheduler if source_offsets is not None else None
        if (sink is None and scheduler is None) or time.monotonic() < self._next_poll:
            return
        self._next_poll = time.monotonic() + self.poll_interval_s
        started, completed, attempt = self.store.progress()
        self.check_attempt(attempt)
        if sink is not None and oldest is not None and completed >= oldest:
            sink.notify_complete(completed)
        if scheduler is None or source_offsets is None:
            return
        due = scheduler.due(time.monotonic() * 1000, started, completed, self.emitted())
        if due is None:
            return
        try:
            checkpoint_id = self.store.claim(self.descriptor.attempt, scheduler.last_id, int(time.time() * 1000),
                                             self.descriptor.checkpoints.timeout_ms, start=due == START)
        except StaleAttemptError as exc:  # replaced between reading progress and claiming
            raise ReplacedAttemptError(str(exc)) from exc
        if checkpoint_id is None:
            scheduler.cannot_join(started)
        else:
            self._start(checkpoint_id, source_offsets)

    def check_attempt(self, attempt: int) -> None:
        """Raise ReplacedAttemptError if ``attempt`` (the job's current one, from Redis) is not ours:
        the JobManager restarted the job without us (a zombie after a pause or a partition), so
        stop before committing or checkpointing anything for an attempt that is over."""
        if attempt != self.descriptor.attempt:
            raise ReplacedAttemptError(f"the job runs attempt {attempt}; {self.descriptor.execution_id} of "
                                       f"attempt {self.descriptor.attempt} stops")

    def await_final_checkpoint(self, source_offsets: Callable[[], Offsets], canceled: threading.Event) -> bool:
        """A source after the end of its data: answer checkpoint triggers until the final
        checkpoint completed (True) or the task is canceled (False)."""
        while not canceled.is_set():
            if self.handle_events(source_offsets, wait_s=self.poll_interval_s):
                return True
            self.poll(source_offsets)
        return False

    def _start(self, checkpoint_id: int, source_offsets: Callable[[], Offsets]) -> None:
        if self.scheduler is not None:
            self.scheduler.started(checkpoint_id, time.monotonic() * 1000)
        self.checkpoint(checkpoint_id, source_offsets())

    def checkpoint(self, checkpoint_id: int, offsets: Offsets) -> None:
        """Forward barrier ``checkpoint_id``, store this subtask's snapshot (``offsets``: the next
        input offset per partition), ack in Redis (the last ack completes the checkpoint) and to
        the JobManager; a decline on error. What the task produced before the barrier must be in
        Kafka before the checkpoint completes (else it would cover records that never arrived):
        ``flush_outputs`` sees to what no downstream task reads; a failed delivery declines and
        raises DeliveryFailedError, failing the task."""
        descriptor, chain = self.descriptor, self.chain
        try:
            barrier = CheckpointBarrier(checkpoint_id)
            for writer in chain.record_writers:
                writer.broadcast_event(barrier)
            inject("after-barrier")
            snapshot = SubtaskSnapshot(offsets, chain.watermarks.watermark,
                                       chain.backend.snapshot() if chain.backend is not None else {},
                                       chain.sink_writer.snapshot(checkpoint_id) if chain.sink_writer else None)
            self.flush_outputs()
            size = self.store.write_snapshot(checkpoint_id, descriptor.vertex_id, descriptor.subtask_index,
                                             snapshot.encode())
            inject("after-snapshot")
            completed = self.store.acknowledge(descriptor.attempt, checkpoint_id, descriptor.execution_id, size,
                                               descriptor.checkpoints.job_tasks, int(time.time() * 1000))
        except Exception as exc:
            self.callbacks.decline(checkpoint_id, f"{type(exc).__name__}: {exc}")
            if isinstance(exc, DeliveryFailedError):
                raise  # records are lost: restart from the last checkpoint, which does not cover them
            return
        self.callbacks.acknowledge(checkpoint_id, size, completed)
        inject("after-ack")

    def restore(self, store_of: Callable[[str], CheckpointStore]) -> Offsets:
        """Load the descriptor's restore checkpoint into the chain (``store_of(job_id)``: that
        job's store); returns the restored input offsets. Raises CheckpointCorruptedError when a
        snapshot is missing or does not load."""
        spec = self.descriptor.restore
        if spec is None:
            if isinstance(self.chain.sink_writer, ExactlyOnceSinkWriter):
                self.chain.sink_writer.restore(None, -1)  # a restart without a checkpoint: nothing committed
            return {}
        fields = store_of(spec.job_id).read_vertex(spec.checkpoint_id, spec.vertex_id, spec.parallelism)
        chain = self.chain
        try:
            snapshots = [SubtaskSnapshot.decode(f) for f in fields]
            offsets = {tp: offset for s in snapshots for tp, offset in s.offsets.items()}
            # The event time the checkpoint was taken at: replayed elements are judged late or not
            # against it, as they were before the failure (the lowest one if subtasks are merged).
            chain.watermarks.watermark = min(s.watermark if s.watermark is not None else MIN_TIME
                                             for s in snapshots)
            if chain.timers is not None:
                chain.timers.watermark = chain.watermarks.watermark
            if chain.backend is not None and self.descriptor.key_groups is not None:
                start, stop = self.descriptor.key_groups
                chain.backend.restore((kg, data) for s in snapshots for kg, data in s.key_groups.items()
                                      if start <= kg < stop)
        except Exception as exc:
            raise CheckpointCorruptedError(
                f"checkpoint {spec.checkpoint_id}: state of task {spec.vertex_id} does not load: "
                f"{type(exc).__name__}: {exc}") from exc
        if isinstance(chain.sink_writer, ExactlyOnceSinkWriter):
            index = self.descriptor.subtask_index
            own = snapshots[index].sink if index < len(snapshots) else None
            origin = (sink_transactional_id(spec.job_id, spec.vertex_id, index)
                      if spec.job_id != self.descriptor.job_id else None)
            chain.sink_writer.restore(own, spec.checkpoint_id, origin)
        return offsets
