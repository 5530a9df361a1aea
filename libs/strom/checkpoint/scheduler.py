"""When a source task starts the next checkpoint: Flink's periodic trigger, run by every source.

Flink's CheckpointCoordinator triggers on a timer in the JobManager, so a
JobManager failover stops checkpoints, and with them exactly-once output,
until a new leader runs. Strom's source tasks trigger themselves: each source
subtask asks :meth:`CheckpointScheduler.due` every few ms, and starts (or
joins, through :meth:`~strom.checkpoint.store.CheckpointStore.claim`) the
next checkpoint when

* another source or the JobManager already started a newer one (join at once,
  so all sources inject their barriers within one poll of each other), or
* it has not started one since it began and has emitted records, at once in a
  restarted attempt (the first checkpoint then commits replayed output; one
  taken before the consumer's first fetch would be empty and delay that output
  by an interval), after ``interval_ms`` in a job's first attempt (as Flink's
  first periodic trigger: a checkpoint started with the first records holds a
  short bounded job's end up, its barriers and the end of input crossing 128
  partitions one after the other), or has emitted nothing for
  ``max(interval_ms, idle_first_ms)``, or
* its last checkpoint completed at least ``min_pause_ms`` ago and its last
  barrier is ``interval_ms`` old (at most one checkpoint pending), or
* its last checkpoint is older than ``timeout_ms`` without completing
  (declined, or a task died: the next one supersedes it).
"""

from __future__ import annotations

from dataclasses import dataclass

JOIN = "join"    # join the newest checkpoint another source or the JobManager started
START = "start"  # start the next checkpoint (or join one that started in the meantime)


@dataclass
class CheckpointScheduler:
    """The trigger rules of one source subtask; times in ms (any monotonic clock), ids as in Redis.

    >>> s = CheckpointScheduler(interval_ms=500, min_pause_ms=0, timeout_ms=10_000, idle_first_ms=3000,
    ...                         restarted=True)
    >>> s.due(10, started=3, completed=3, emitted=False)   # 3: before a restart
    'join'
    >>> s.cannot_join(3)                                   # (another attempt's: Redis said no)
    >>> print(s.due(10, started=3, completed=3, emitted=False))   # nothing to checkpoint yet
    None
    >>> s.due(20, started=3, completed=3, emitted=True)    # the first records went out
    'start'
    >>> s.started(7, 20)
    >>> print(s.due(400, started=7, completed=7))          # completed; the interval is not over
    None
    >>> s.due(520, started=7, completed=7)
    'start'
    >>> s.due(100, started=8, completed=7)                 # another source started 8
    'join'
    """

    interval_ms: int
    min_pause_ms: int
    timeout_ms: int
    idle_first_ms: int     # a source without records starts its first checkpoint after this at the earliest
    restarted: bool = False  # a restarted attempt (or a restore): its first checkpoint as soon as it emitted
    start_ms: float = 0.0  # when the task began reading
    last_id: int = -1      # the newest checkpoint this source took part in
    newest_seen: int = -1  # ... or knows it cannot join
    last_started_ms: float | None = None
    completed_seen_ms: float | None = None  # when this task first saw last_id completed

    def due(self, now_ms: float, started: int, completed: int, emitted: bool = True) -> str | None:
        """JOIN, START or None (nothing to do now). ``started``/``completed``: the job's newest
        checkpoint ids started and completed (:meth:`CheckpointStore.progress`); ``emitted``:
        this task sent records since it began."""
        if started > self.newest_seen:
            return JOIN
        if self.last_started_ms is None:
            waited = now_ms - self.start_ms
            if emitted:
                return START if self.restarted or waited >= self.interval_ms else None
            return START if waited >= max(self.interval_ms, self.idle_first_ms) else None
        if completed >= self.last_id:
            if self.completed_seen_ms is None:
                self.completed_seen_ms = now_ms
            due = (now_ms - self.last_started_ms >= self.interval_ms
                   and now_ms - self.completed_seen_ms >= self.min_pause_ms)
        else:
            due = now_ms - self.last_started_ms >= self.timeout_ms
        return START if due else None

    def cannot_join(self, checkpoint_id: int) -> None:
        """``checkpoint_id`` belongs to another attempt or expired: do not ask again."""
        self.newest_seen = max(self.newest_seen, checkpoint_id)

    def started(self, checkpoint_id: int, now_ms: float) -> None:
        """This source injected the barrier of ``checkpoint_id`` (its own or the JobManager's)."""
        if checkpoint_id > self.last_id:
            self.last_id, self.last_started_ms, self.completed_seen_ms = checkpoint_id, now_ms, None
            self.newest_seen = max(self.newest_seen, checkpoint_id)
