"""State descriptors and handles, with Flink's names.

Every handle reads and writes the value of the backend's *current key* (set
by the runtime before each element of a keyed stream). Handles are thin views
over :class:`~strom.state.backend.HeapKeyedStateBackend`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from strom.state import ttl

T = TypeVar("T")


class AggregateFunction(Generic[T]):
    """Flink's AggregateFunction: accumulator in, result out."""

    def create_accumulator(self) -> Any:
        raise TypeError("AggregateFunction must define create_accumulator()")

    def add(self, value: T, accumulator: Any) -> Any:
        raise TypeError("AggregateFunction must define add(value, accumulator)")

    def get_result(self, accumulator: Any) -> Any:
        raise TypeError("AggregateFunction must define get_result(accumulator)")

    def merge(self, a: Any, b: Any) -> Any:
        raise TypeError("AggregateFunction must define merge(a, b)")


class _Descriptor:
    ttl_config: Any = None

    def enable_time_to_live(self, ttl_config: Any) -> None:
        """Let this state's values expire: a :class:`~strom.state.ttl.StateTtlConfig`."""
        self.ttl_config = ttl_config


@dataclass
class ValueStateDescriptor(_Descriptor):
    name: str
    default: Any = None


@dataclass
class ListStateDescriptor(_Descriptor):
    name: str


@dataclass
class MapStateDescriptor(_Descriptor):
    name: str


@dataclass
class ReducingStateDescriptor(_Descriptor):
    name: str
    reduce_function: Callable[[Any, Any], Any]


@dataclass
class AggregatingStateDescriptor(_Descriptor):
    name: str
    aggregate_function: AggregateFunction


_ABSENT = object()


class _State:
    def __init__(self, backend: Any, descriptor: Any) -> None:
        self._backend, self._name, self._ttl = backend, descriptor.name, descriptor.ttl_config

    def _get(self, default: Any = _ABSENT) -> Any:
        stored = self._backend.get(self._name, _ABSENT)
        if stored is _ABSENT:
            return default
        if self._ttl is None:
            return stored
        value, last_access = stored
        now = ttl.current_time_ms()
        if self._ttl.is_expired(last_access, now):
            if self._ttl.state_visibility is ttl.StateVisibility.NeverReturnExpired:
                self._backend.remove(self._name)
                return default
        elif self._ttl.update_type is ttl.UpdateType.OnReadAndWrite:
            self._backend.put(self._name, (value, now))
        return value

    def _set(self, value: Any) -> None:
        if self._ttl is None:
            self._backend.put(self._name, value)
        else:
            self._backend.put(self._name, (value, ttl.current_time_ms()))

    def clear(self) -> None:
        """Remove the current key's value."""
        self._backend.remove(self._name)


class ValueState(_State):
    def __init__(self, backend: Any, descriptor: ValueStateDescriptor) -> None:
        super().__init__(backend, descriptor)
        self._default = descriptor.default

    def value(self) -> Any:
        value = self._get()
        return self._default if value is _ABSENT else value

    def update(self, value: Any) -> None:
        self._set(value)


class ListState(_State):
    def get(self) -> list:
        value = self._get()
        return [] if value is _ABSENT else list(value)

    def add(self, value: Any) -> None:
        self._set([*self.get(), value])

    def add_all(self, values: Iterable[Any]) -> None:
        self._set(self.get() + list(values))

    def update(self, values: Iterable[Any]) -> None:
        self._set(list(values))


class MapState(_State):
    def _map(self) -> dict:
        value = self._get()
        return {} if value is _ABSENT else value

    def get(self, key: Any) -> Any:
        return self._map().get(key)

    def put(self, key: Any, value: Any) -> None:
        self._set({**self._map(), key: value})

    def put_all(self, mapping: dict) -> None:
        self._set({**self._map(), **mapping})

    def contains(self, key: Any) -> bool:
        return key in self._map()

    def remove(self, key: Any) -> None:
        rest = {k: v for k, v in self._map().items() if k != key}
        if rest:
            self._set(rest)
        else:
            self.clear()  # an empty map takes no state

    def keys(self) -> Iterator[Any]:
        return iter(list(self._map()))

    def values(self) -> Iterator[Any]:
        return iter(list(self._map().values()))

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter(list(self._map().items()))

    def is_empty(self) -> bool:
        return not self._map()


class ReducingState(_State):
    def __init__(self, backend: Any, descriptor: ReducingStateDescriptor) -> None:
        super().__init__(backend, descriptor)
        self._reduce = descriptor.reduce_function

    def get(self) -> Any:
        value = self._get()
        return None if value is _ABSENT else value

    def add(self, value: Any) -> None:
        current = self._get()
        self._set(value if current is _ABSENT else self._reduce(current, value))


class AggregatingState(_State):
    def __init__(self, backend: Any, descriptor: AggregatingStateDescriptor) -> None:
        super().__init__(backend, descriptor)
        self._function = descriptor.aggregate_function

    def get(self) -> Any:
        accumulator = self._get()
        return None if accumulator is _ABSENT else self._function.get_result(accumulator)

    def add(self, value: Any) -> None:
        accumulator = self._get()
        if accumulator is _ABSENT:
            accumulator = self._function.create_accumulator()
        self._set(self._function.add(value, accumulator))


class RuntimeContext:
    """What ``open(runtime_context)`` receives: subtask facts and keyed state."""

    def __init__(self, backend: Any, task_name: str, subtask_index: int, parallelism: int,
                 max_parallelism: int, attempt: int) -> None:
        self._backend = backend
        self._task_name, self._subtask_index, self._parallelism = task_name, subtask_index, parallelism
        self._max_parallelism, self._attempt = max_parallelism, attempt

    def get_task_name(self) -> str:
        return self._task_name

    def get_index_of_this_subtask(self) -> int:
        return self._subtask_index

    def get_number_of_parallel_subtasks(self) -> int:
        return self._parallelism

    def get_max_number_of_parallel_subtasks(self) -> int:
        return self._max_parallelism

    def get_attempt_number(self) -> int:
        return self._attempt

    def _keyed(self) -> Any:
        if self._backend is None:
            raise RuntimeError("keyed state is only available on a KeyedStream (after key_by)")
        return self._backend

    def get_state(self, descriptor: ValueStateDescriptor) -> ValueState:
        return ValueState(self._keyed(), descriptor)

    def get_list_state(self, descriptor: ListStateDescriptor) -> ListState:
        return ListState(self._keyed(), descriptor)

    def get_map_state(self, descriptor: MapStateDescriptor) -> MapState:
        return MapState(self._keyed(), descriptor)

    def get_reducing_state(self, descriptor: ReducingStateDescriptor) -> ReducingState:
        return ReducingState(self._keyed(), descriptor)

    def get_aggregating_state(self, descriptor: AggregatingStateDescriptor) -> AggregatingState:
        return AggregatingState(self._keyed(), descriptor)
