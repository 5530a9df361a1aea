"""Time, injectable (Flink's ``org.apache.flink.util.clock.Clock``).

Wall-clock time (ms since the epoch) stamps what crosses processes and is
shown to users: checkpoint trigger and completion times, job start and end,
control-message timestamps, state TTL. Monotonic time (ms, arbitrary origin)
measures intervals inside one process: checkpoint intervals, timeouts,
heartbeats. Code that decides on time takes a :class:`Clock`, so unit tests
drive it with a :class:`ManualClock`.

>>> clock = ManualClock(wall_ms=1_000)
>>> clock.advance(250)
>>> clock.wall_ms(), clock.monotonic_ms()
(1250, 250.0)
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock and monotonic time."""

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch (may jump when the system clock is set)."""
        ...

    def monotonic_ms(self) -> float:
        """Milliseconds since an arbitrary origin; never goes back."""
        ...


class SystemClock:
    """The machine's clocks: ``time.time()`` and ``time.monotonic()``."""

    def wall_ms(self) -> int:
        return int(time.time() * 1000)

    def monotonic_ms(self) -> float:
        return time.monotonic() * 1000


class ManualClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, wall_ms: int = 0, monotonic_ms: float = 0.0) -> None:
        self._wall, self._monotonic = wall_ms, monotonic_ms

    def wall_ms(self) -> int:
        return self._wall

    def monotonic_ms(self) -> float:
        return self._monotonic

    def advance(self, ms: float) -> None:
        """Move both clocks forward by ``ms`` milliseconds."""
        self._wall += int(ms)
        self._monotonic += ms


SYSTEM_CLOCK = SystemClock()


def wall_ms() -> int:
    """Milliseconds since the Unix epoch on the system clock (shorthand for ``SYSTEM_CLOCK.wall_ms()``)."""
    return SYSTEM_CLOCK.wall_ms()
