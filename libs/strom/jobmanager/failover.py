"""Failover of one job: whether and when to restart, and from which checkpoint.

Strom restarts the whole job on any failure (Flink's ``RestartAllFailoverStrategy``,
``jobmanager.execution.failover-strategy: full``): every subtask is canceled and
the next attempt restores the latest completed checkpoint whose snapshots are
all there. How long to wait, or whether to give up, is the job's restart
strategy (Flink's ``RestartBackoffTimeStrategy``), with Flink's formulas:

* fixed-delay: at most ``attempts`` restarts, each after ``delay_ms``.
* failure-rate: give up when more than ``max_failures_per_interval`` failures
  fall within ``failure_interval_ms``; else wait ``delay_ms``.
* exponential-delay: wait ``initial * multiplier**n`` capped at ``max_backoff``;
  ``n`` resets after ``reset_threshold_ms`` without failure.

>>> from strom.checkpoint.config import RestartStrategies
>>> strategy = restart_strategy(RestartStrategies.fixed_delay_restart(1, 500))
>>> strategy.on_failure(0), strategy.on_failure(10)
(500, None)
"""

from __future__ import annotations

import abc

from strom.checkpoint.config import RestartStrategyConfiguration
from strom.checkpoint.store import CheckpointStore
from strom.errors import ConfigError, TaskFailureCause
from strom.logs import get_logger

log = get_logger(__name__)

FAILURES_SHOWN = 10  # newest failure reasons in the REST body and the job record
CANCEL_WAIT_MS = 5000.0  # ms: the longest a restart waits for the failed attempt's tasks to report canceled


class RestartBackoffTimeStrategy(abc.ABC):
    """``on_failure(now_ms)`` -> ms to wait before restarting, or None when restarting is
    exhausted (then :attr:`reason_exhausted` says why). Failure times are wall-clock ms."""

    def __init__(self, config: RestartStrategyConfiguration) -> None:
        self.config = config
        self.failures: list[int] = []
        self.reason_exhausted = ""

    def on_failure(self, now_ms: int) -> int | None:
        """Record a failure at ``now_ms``; the backoff in ms, or None to give up."""
        previous = self.failures[-1] if self.failures else None
        self.failures.append(now_ms)
        return self._backoff(now_ms, previous)

    @abc.abstractmethod
    def _backoff(self, now_ms: int, previous_ms: int | None) -> int | None:
        """The backoff for the failure just recorded (``previous_ms``: the one before, if any)."""


class NoRestartBackoffTimeStrategy(RestartBackoffTimeStrategy):
    """Never restarts."""

    def _backoff(self, now_ms: int, previous_ms: int | None) -> int | None:
        self.reason_exhausted = "restart strategy: no restart"
        return None


class FixedDelayRestartBackoffTimeStrategy(RestartBackoffTimeStrategy):
    """At most ``attempts`` restarts, each after ``delay_ms``."""

    def _backoff(self, now_ms: int, previous_ms: int | None) -> int | None:
        if len(self.failures) > self.config.attempts:
            self.reason_exhausted = f"fixed-delay restart strategy exhausted after {self.config.attempts} restarts"
            return None
        return self.config.delay_ms


class FailureRateRestartBackoffTimeStrategy(RestartBackoffTimeStrategy):
    """Gives up when more than ``max_failures_per_interval`` failures fall within ``failure_interval_ms``."""

    def _backoff(self, now_ms: int, previous_ms: int | None) -> int | None:
        c = self.config
        recent = [t for t in self.failures if now_ms - t <= c.failure_interval_ms]
        if len(recent) > c.max_failures_per_interval:
            self.reason_exhausted = (f"failure-rate restart strategy: {len(recent)} failures within "
                                     f"{c.failure_interval_ms} ms (max {c.max_failures_per_interval})")
            return None
        return c.delay_ms


class ExponentialDelayRestartBackoffTimeStrategy(RestartBackoffTimeStrategy):
    """Waits ``initial_backoff_ms * multiplier**n``, at most ``max_backoff_ms``; gives up after
    ``attempts`` restarts in a row. ``n`` and the count reset after ``reset_threshold_ms`` without
    a failure (Flink's attempts-before-reset-backoff)."""

    def __init__(self, config: RestartStrategyConfiguration) -> None:
        super().__init__(config)
        self._exponent = 0
        self._in_a_row = 0

    def _backoff(self, now_ms: int, previous_ms: int | None) -> int | None:
        c = self.config
        if previous_ms is not None and now_ms - previous_ms >= c.reset_threshold_ms:
            self._exponent = self._in_a_row = 0
        self._in_a_row += 1
        if self._in_a_row > c.attempts:
            self.reason_exhausted = (f"exponential-delay restart strategy exhausted after {c.attempts} restarts "
                                     f"without {c.reset_threshold_ms} ms of failure-free running")
            return None
        delay = min(c.initial_backoff_ms * c.multiplier ** self._exponent, c.max_backoff_ms)
        self._exponent += 1
        return int(delay)


_STRATEGIES: dict[str, type[RestartBackoffTimeStrategy]] = {
    "none": NoRestartBackoffTimeStrategy,
    "fixed-delay": FixedDelayRestartBackoffTimeStrategy,
    "failure-rate": FailureRateRestartBackoffTimeStrategy,
    "exponential-delay": ExponentialDelayRestartBackoffTimeStrategy,
}


def restart_strategy(config: RestartStrategyConfiguration) -> RestartBackoffTimeStrategy:
    """The strategy ``config`` names; raises :class:`~strom.errors.ConfigError` for an unknown kind."""
    if config.kind not in _STRATEGIES:
        raise ConfigError(f"unknown restart strategy {config.kind!r}")
    return _STRATEGIES[config.kind](config)


class Failover:
    """The failover decisions of one job: the restart strategy, when the restart is due, the
    failures seen (newest last, shown in REST and kept in the job record) and the checkpoints
    that failed to restore. Times: monotonic ms for the restart, wall-clock ms for failures."""

    def __init__(self, config: RestartStrategyConfiguration) -> None:
        self.config = config
        self.restart_strategy = restart_strategy(config)
        self.failure_history: list[str] = []
        self.bad_checkpoints: set[int] = set()
        self.unrecoverable = False  # a task failed in a way a restart repeats: fail the job
        self._restart_at_ms = 0.0

    def restart_after(self, now_ms: float, delay_ms: float) -> None:
        """The job waits to restart from ``now_ms`` for ``delay_ms`` (the strategy's backoff)."""
        self._restart_at_ms = now_ms + delay_ms

    def restart_due(self, now_ms: float, stopped: bool) -> bool:
        """Whether to redeploy now: the backoff is over and the failed attempt's tasks ``stopped``,
        or CANCEL_WAIT_MS more passed. As Flink, a restart waits for the old tasks: one of them
        still starting would fence the new attempt's sink transactions."""
        return now_ms >= self._restart_at_ms and (stopped or now_ms >= self._restart_at_ms + CANCEL_WAIT_MS)

    def record(self, reason: str) -> None:
        """Remember a failure (or why a JobManager failover restarted the job)."""
        self.failure_history.append(reason)

    def on_failure(self, reason: str, now_ms: int) -> int | None:
        """Record a failure at ``now_ms``; ms to wait before restarting, None to fail the job."""
        self.record(reason)
        if self.unrecoverable:
            return None
        return self.restart_strategy.on_failure(now_ms)

    def final_error(self, reason: str) -> str:
        """The job's error once the strategy gave up on ``reason`` (or the failure was unrecoverable)."""
        if self.config.kind == "none" or self.unrecoverable:
            return reason
        return f"{reason} ({self.restart_strategy.reason_exhausted})"

    def on_task_failed(self, cause: TaskFailureCause, restored_from: int | None) -> None:
        """A task failed with ``cause``: a corrupted restore marks the checkpoint it restored bad;
        an unrecoverable failure stops restarts (the next :meth:`on_failure` fails the job)."""
        if cause is TaskFailureCause.CHECKPOINT_CORRUPTED and restored_from:
            self.bad_checkpoints.add(restored_from)
        self.unrecoverable = self.unrecoverable or cause is TaskFailureCause.UNRECOVERABLE

    def checkpoint_to_restore(self, checkpoints: CheckpointStore, vertices: list[tuple[str, int]]) -> int | None:
        """The newest completed checkpoint with every snapshot of ``vertices`` ((id, parallelism))
        there and not known bad, None for none; each one passed over is recorded as a failure."""
        for checkpoint_id in reversed(checkpoints.completed_ids()):
            problem = (f"checkpoint {checkpoint_id} failed to restore before"
                       if checkpoint_id in self.bad_checkpoints
                       else checkpoints.verify(checkpoint_id, vertices))
            if problem is None:
                return checkpoint_id
            log.error("cannot restore checkpoint; falling back to the previous one", problem=problem)
            self.record(problem)
            self.bad_checkpoints.add(checkpoint_id)
        return None

    def recent_failures(self) -> list[str]:
        """The newest :data:`FAILURES_SHOWN` failure reasons, oldest first."""
        return self.failure_history[-FAILURES_SHOWN:]
