"""The heap keyed-state backend: values in dicts, snapshots per key group.

Layout: ``tables[state_name][key_group][key] = value``. A snapshot is one
pickled ``{state_name: {key: value}}`` per non-empty key group, so a restore
(or a rescale) takes exactly the key groups a subtask owns.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

_ABSENT = object()


class HeapKeyedStateBackend:
    """Keyed state of one subtask. Set :attr:`current_key` and :attr:`current_key_group` first."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[int, dict[Any, Any]]] = {}
        self.current_key: Any = None
        self.current_key_group: int = 0

    def table(self, name: str) -> dict[Any, Any]:
        """State ``name`` of the current key group: ``{key: value}``, created empty if new. The
        operators' hot path (a running reduce) reads and writes it directly: two dict lookups."""
        try:
            return self.tables[name][self.current_key_group]
        except KeyError:
            return self.tables.setdefault(name, {}).setdefault(self.current_key_group, {})

    def get(self, name: str, default: Any = _ABSENT) -> Any:
        return self.table(name).get(self.current_key, default)

    def put(self, name: str, value: Any) -> None:
        self.table(name)[self.current_key] = value

    def remove(self, name: str) -> None:
        self.table(name).pop(self.current_key, None)

    def snapshot(self) -> dict[int, bytes]:
        """``{key_group: pickled {state: {key: value}}}`` for every non-empty key group."""
        by_group: dict[int, dict[str, dict]] = {}
        for name, groups in self.tables.items():
            for key_group, table in groups.items():
                if table:
                    by_group.setdefault(key_group, {})[name] = table
        return {kg: pickle.dumps(states, protocol=5) for kg, states in by_group.items()}

    def restore(self, snapshots: Iterable[tuple[int, bytes]]) -> None:
        """Load key groups from :meth:`snapshot` output (pairs of key group, bytes)."""
        for key_group, data in snapshots:
            for name, table in pickle.loads(data).items():
                self.tables.setdefault(name, {})[key_group] = dict(table)

    def num_keys(self) -> int:
        return sum(len(t) for groups in self.tables.values() for t in groups.values())


class NamespacedBackend:
    """One namespace (e.g. a window) of the backend's current key: what a Trigger's
    ``get_partitioned_state`` reads. Stored as ``{namespace: value}`` under the state's name."""

    def __init__(self, backend: HeapKeyedStateBackend, namespace: Any) -> None:
        self.backend, self.namespace = backend, namespace

    def get(self, name: str, default: Any = _ABSENT) -> Any:
        return (self.backend.get(name, None) or {}).get(self.namespace, default)

    def put(self, name: str, value: Any) -> None:
        values = self.backend.get(name, None) or {}
        values[self.namespace] = value
        self.backend.put(name, values)

    def remove(self, name: str) -> None:
        values = self.backend.get(name, None) or {}
        values.pop(self.namespace, None)
        if values:
            self.backend.put(name, values)
        else:
            self.backend.remove(name)
