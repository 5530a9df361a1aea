"""When a source task starts the next checkpoint: Flink's periodic trigger, run by every source.

Flink's CheckpointCoordinator triggers on a timer in the JobManager, so a
JobManager failover stops checkpoints, and with them exactly-once output,
until a new leader runs. Strom's source tasks trigger themselves: each source
subtask asks :meth:`CheckpointScheduler.due` every few ms, and starts (or
joins, through :meth:`~strom.checkpoint.store.CheckpointStore.claim`) the
next checkpoint when

* another source or the JobManager already started a newer one (join at once,
  so all sources inject their barriers within one poll of each other), or
* its last checkpoint completed at least ``min_pause_ms`` ago and its last
  barrier is ``interval_ms`` old (at most one checkpoint pending), or
* its last checkpoint is older than ``timeout_ms`` without completing
  (declined, or a task died: the next one supersedes it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CheckpointScheduler:
    """The trigger rules of one source subtask; times in ms (any monotonic clock), ids as in Redis.

    >>> s = CheckpointScheduler(interval_ms=500, min_pause_ms=0, timeout_ms=10_000)
    >>> s.due(0, started=-1, completed=-1)        # a new task starts a checkpoint at once
    True
    >>> s.started(7, 0)
    >>> s.due(400, started=7, completed=7)         # completed, but the interval is not over
    False
    >>> s.due(500, started=7, completed=7)
    True
    >>> s.due(100, started=8, completed=7)         # another source started 8: join now
    True
    """

    interval_ms: int
    min_pause_ms: int
    timeout_ms: int
    last_id: int = -1
    last_started_ms: float | None = None
    completed_seen_ms: float | None = None  # when this task first saw last_id completed

    def due(self, now_ms: float, started: int, completed: int) -> bool:
        """Should this source start or join a checkpoint now? ``started``/``completed``: the
        job's newest checkpoint ids started and completed (:meth:`CheckpointStore.progress`)."""
        if started > self.last_id or self.last_started_ms is None:
            return True
        if completed >= self.last_id:
            if self.completed_seen_ms is None:
                self.completed_seen_ms = now_ms
            return (now_ms - self.last_started_ms >= self.interval_ms
                    and now_ms - self.completed_seen_ms >= self.min_pause_ms)
        return now_ms - self.last_started_ms >= self.timeout_ms

    def started(self, checkpoint_id: int, now_ms: float) -> None:
        """This source injected the barrier of ``checkpoint_id`` (its own or the JobManager's)."""
        if checkpoint_id > self.last_id:
            self.last_id, self.last_started_ms, self.completed_seen_ms = checkpoint_id, now_ms, None
