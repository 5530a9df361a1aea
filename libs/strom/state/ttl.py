"""State time-to-live (Flink's StateTtlConfig): keyed state values that expire in processing time.

>>> from strom.state.api import ValueStateDescriptor
>>> ttl = StateTtlConfig.new_builder(60_000).update_ttl_on_read_and_write().build()
>>> descriptor = ValueStateDescriptor("last-seen")
>>> descriptor.enable_time_to_live(ttl)
>>> descriptor.ttl_config.ttl_ms
60000

A value with TTL is stored with the ms it was last written (or read, with
``OnReadAndWrite``); once ``ttl_ms`` has passed, reading it returns nothing
and removes it (``NeverReturnExpired``, the default), or still returns it
until it is cleaned up (``ReturnExpiredIfNotCleanedUp``). Expiry covers a
state's whole value: a ListState's list, a MapState's map (Flink expires
list elements and map entries one by one). Cleanup is on read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from strom.clock import wall_ms


def current_time_ms() -> int:
    """The TTL clock: wall-clock ms (Flink's TTL is processing time only)."""
    return wall_ms()


class UpdateType(Enum):
    """When the last-access time of a value is refreshed."""

    Disabled = 0
    OnCreateAndWrite = 1
    OnReadAndWrite = 2


class StateVisibility(Enum):
    """Whether an expired value not yet removed may still be read."""

    ReturnExpiredIfNotCleanedUp = 0
    NeverReturnExpired = 1


@dataclass(frozen=True)
class StateTtlConfig:
    """``ttl_ms``: how long (ms) a value lives after its last refresh."""

    ttl_ms: int
    update_type: UpdateType = UpdateType.OnCreateAndWrite
    state_visibility: StateVisibility = StateVisibility.NeverReturnExpired

    UpdateType = UpdateType
    StateVisibility = StateVisibility

    @staticmethod
    def new_builder(ttl_ms: int) -> StateTtlConfig.Builder:
        if ttl_ms <= 0:
            raise ValueError(f"state TTL must be > 0 ms, got {ttl_ms}")
        return StateTtlConfig.Builder(StateTtlConfig(int(ttl_ms)))

    def is_expired(self, last_access_ms: int, now_ms: int) -> bool:
        return now_ms - last_access_ms >= self.ttl_ms

    class Builder:
        def __init__(self, config: StateTtlConfig) -> None:
            self._config = config

        def set_update_type(self, update_type: UpdateType) -> StateTtlConfig.Builder:
            self._config = replace(self._config, update_type=update_type)
            return self

        def update_ttl_on_create_and_write(self) -> StateTtlConfig.Builder:
            return self.set_update_type(UpdateType.OnCreateAndWrite)

        def update_ttl_on_read_and_write(self) -> StateTtlConfig.Builder:
            return self.set_update_type(UpdateType.OnReadAndWrite)

        def set_state_visibility(self, visibility: StateVisibility) -> StateTtlConfig.Builder:
            self._config = replace(self._config, state_visibility=visibility)
            return self

        def never_return_expired(self) -> StateTtlConfig.Builder:
            return self.set_state_visibility(StateVisibility.NeverReturnExpired)

        def return_expired_if_not_cleaned_up(self) -> StateTtlConfig.Builder:
            return self.set_state_visibility(StateVisibility.ReturnExpiredIfNotCleanedUp)

        def build(self) -> StateTtlConfig:
            return self._config
