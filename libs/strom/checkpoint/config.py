"""Checkpoint and restart configuration as the user sets it (Flink's CheckpointConfig, RestartStrategies)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CheckpointingMode(enum.Enum):
    """EXACTLY_ONCE aligns barriers; AT_LEAST_ONCE processes past them (no buffering)."""

    EXACTLY_ONCE = "exactly-once"
    AT_LEAST_ONCE = "at-least-once"


@dataclass
class CheckpointConfig:
    """``interval_ms`` 0 = checkpointing off. Times in ms."""

    interval_ms: int = 0
    mode: CheckpointingMode = CheckpointingMode.EXACTLY_ONCE
    timeout_ms: int = 60_000
    min_pause_ms: int = 0
    max_concurrent: int = 1
    tolerable_failures: int = 0
    num_retained: int = 2

    @property
    def enabled(self) -> bool:
        return self.interval_ms > 0

    def set_checkpoint_interval(self, interval_ms: int) -> CheckpointConfig:
        self.interval_ms = interval_ms
        return self

    def set_checkpointing_mode(self, mode: CheckpointingMode) -> CheckpointConfig:
        self.mode = mode
        return self

    def set_checkpoint_timeout(self, timeout_ms: int) -> CheckpointConfig:
        self.timeout_ms = timeout_ms
        return self

    def set_min_pause_between_checkpoints(self, min_pause_ms: int) -> CheckpointConfig:
        self.min_pause_ms = min_pause_ms
        return self

    def set_max_concurrent_checkpoints(self, max_concurrent: int) -> CheckpointConfig:
        if max_concurrent != 1:
            raise ValueError("Strom runs at most 1 concurrent checkpoint")
        return self

    def set_tolerable_checkpoint_failure_number(self, failures: int) -> CheckpointConfig:
        self.tolerable_failures = failures
        return self

    def set_num_retained_checkpoints(self, retained: int) -> CheckpointConfig:
        """Completed checkpoints kept in Redis (Flink: state.checkpoints.num-retained)."""
        if retained < 1:
            raise ValueError("at least 1 checkpoint must be retained")
        self.num_retained = retained
        return self


#: Restarts in a row (no failure-free hour between) before exponential-delay gives up.
DEFAULT_ATTEMPTS_BEFORE_RESET = 30


@dataclass(frozen=True)
class RestartStrategyConfiguration:
    """Which restart strategy and its parameters (ms); see :class:`RestartStrategies`."""

    kind: str
    attempts: int = 0
    delay_ms: int = 0
    max_failures_per_interval: int = 0
    failure_interval_ms: int = 0
    initial_backoff_ms: int = 0
    max_backoff_ms: int = 0
    multiplier: float = 2.0
    reset_threshold_ms: int = 0


class RestartStrategies:
    """Factories with PyFlink's names.

    >>> RestartStrategies.fixed_delay_restart(3, 1000).kind
    'fixed-delay'
    """

    @staticmethod
    def no_restart() -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration("none")

    @staticmethod
    def fixed_delay_restart(restart_attempts: int, delay_between_attempts_ms: int) -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration("fixed-delay", attempts=restart_attempts,
                                            delay_ms=delay_between_attempts_ms)

    @staticmethod
    def failure_rate_restart(max_failures_per_interval: int, failure_interval_ms: int,
                             delay_between_attempts_ms: int) -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration("failure-rate", delay_ms=delay_between_attempts_ms,
                                            max_failures_per_interval=max_failures_per_interval,
                                            failure_interval_ms=failure_interval_ms)

    @staticmethod
    def exponential_delay_restart(initial_backoff_ms: int = 1000, max_backoff_ms: int = 60_000,
                                  backoff_multiplier: float = 2.0, reset_backoff_threshold_ms: int = 3_600_000,
                                  attempts: int = DEFAULT_ATTEMPTS_BEFORE_RESET) -> RestartStrategyConfiguration:
        """Flink's default when checkpointing is on (Flink 1.19+): backoff ``initial_backoff_ms ×
        backoff_multiplier^n`` up to ``max_backoff_ms``; the job fails after ``attempts`` restarts
        with no ``reset_backoff_threshold_ms`` (ms) of failure-free running in between, which also
        resets the backoff (Flink's ``restart-strategy.exponential-delay.attempts-before-reset-backoff``).

        Flink's default attempts are unlimited; Strom's are :data:`DEFAULT_ATTEMPTS_BEFORE_RESET`, so a
        record that always raises stops the job instead of restarting it forever, while outages of
        Kafka, Redis or a TaskManager that heal within minutes are ridden out (with the job's
        default backoff, 100 ms doubling to 10 s, 30 attempts span about 4 minutes of failures).
        """
        return RestartStrategyConfiguration("exponential-delay", attempts=attempts,
                                            initial_backoff_ms=initial_backoff_ms,
                                            max_backoff_ms=max_backoff_ms, multiplier=backoff_multiplier,
                                            reset_threshold_ms=reset_backoff_threshold_ms)
