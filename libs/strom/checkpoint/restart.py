"""Restart strategies: given failure times, how long to wait before restarting, or give up.

Formulas from Flink's RestartBackoffTimeStrategy implementations:

* fixed-delay: at most ``attempts`` restarts, each after ``delay_ms``.
* failure-rate: give up when more than ``max_failures_per_interval`` failures
  fall within ``failure_interval_ms``; else wait ``delay_ms``.
* exponential-delay: wait ``initial * multiplier**n`` capped at ``max_backoff``;
  ``n`` resets after ``reset_threshold_ms`` without failure.
"""

from __future__ import annotations

from strom.checkpoint.config import RestartStrategyConfiguration


class RestartStrategy:
    """``on_failure(now_ms)`` -> delay in ms, or None when restarting is exhausted."""

    def __init__(self, config: RestartStrategyConfiguration) -> None:
        self.config = config
        self.failures: list[int] = []
        self._exponent = 0
        self.reason_exhausted = ""

    def on_failure(self, now_ms: int) -> int | None:
        c = self.config
        previous = self.failures[-1] if self.failures else None
        self.failures.append(now_ms)
        if c.kind == "none":
            self.reason_exhausted = "restart strategy: no restart"
            return None
        if c.kind == "fixed-delay":
            if len(self.failures) > c.attempts:
                self.reason_exhausted = f"fixed-delay restart strategy exhausted after {c.attempts} restarts"
                return None
            return c.delay_ms
        if c.kind == "failure-rate":
            recent = [t for t in self.failures if now_ms - t <= c.failure_interval_ms]
            if len(recent) > c.max_failures_per_interval:
                self.reason_exhausted = (f"failure-rate restart strategy: {len(recent)} failures within "
                                         f"{c.failure_interval_ms} ms (max {c.max_failures_per_interval})")
                return None
            return c.delay_ms
        if c.kind == "exponential-delay":
            if len(self.failures) > c.attempts:
                self.reason_exhausted = f"exponential-delay restart strategy exhausted after {c.attempts} restarts"
                return None
            if previous is not None and now_ms - previous >= c.reset_threshold_ms:
                self._exponent = 0
            delay = min(c.initial_backoff_ms * c.multiplier ** self._exponent, c.max_backoff_ms)
            self._exponent += 1
            return int(delay)
        raise ValueError(f"unknown restart strategy {c.kind!r}")
