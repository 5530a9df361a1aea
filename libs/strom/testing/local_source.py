"""A source subtask run in-process (:mod:`strom.testing.local`): elements of a collection, or
values standing in for a KafkaSource's records, one at a time into the source's chain.

Watermarks come after every element: a ``WatermarkStrategy``'s (the cluster's
:class:`~strom.runtime.watermarks.SourceWatermarks`: largest timestamp seen minus the bound
minus 1), or the explicit ones given to ``from_collection``. The cluster emits them every
200 ms instead; results that do not depend on that timing (no element judged late by one
watermark and not by a later one) are the same.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from strom.api.connectors import CollectionSource
from strom.graph.stream_graph import StreamNode
from strom.runtime.timers import MIN_TIME
from strom.runtime.watermarks import SourceWatermarks
from strom.testing.local_chain import LocalOperatorChain


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A record the job could not take: ``source``, the name of the source it did not deserialize
    in, or of the operator chain that raised on it (ErrorPolicy.DEAD_LETTER); ``value``, the record
    (a source's value, or the element a chain got); ``reason``, the exception; ``element``, the
    element, when it was decoded."""

    source: str
    value: Any
    reason: str
    element: Any = None


def split(values: Any, subtask: int, parallelism: int) -> list[Any]:
    """Subtask ``subtask``'s share of a list: every ``parallelism``-th value from its index
    (the way a topic's records spread round-robin over partitions, one per subtask)."""
    return list(values)[subtask::parallelism]


class LocalSource:
    """One source subtask. ``values``: the whole source's elements (a CollectionSource's) or
    record values (bytes, or str taken as UTF-8) for a KafkaSource, deserialized with its
    deserializer; ``position``: elements of this subtask already read (from a snapshot);
    ``dead_letter_errors``: the chain's ErrorPolicy is DEAD_LETTER (an element a user function
    raises on becomes a dead letter; else the exception is raised)."""

    def __init__(self, node: StreamNode, values: list[Any], subtask: int, parallelism: int,
                 chain: LocalOperatorChain, position: int, dead_letters: list[DeadLetter],
                 dead_letter_errors: bool = False) -> None:
        self.node, self.chain, self.position, self.dead_letters = node, chain, position, dead_letters
        self.dead_letter_errors = dead_letter_errors
        connector, strategy = node.connector, node.watermark_strategy
        self.collection = isinstance(connector, CollectionSource)
        self.values = split(values, subtask, parallelism)
        self.deserialize = None if self.collection else connector.value_deserializer.deserialize
        timestamps = connector.timestamps if self.collection else None
        self.timestamps = split(timestamps, subtask, parallelism) if isinstance(timestamps, list | tuple) else None
        self.timestamp_of = timestamps if callable(timestamps) else None
        explicit = connector.watermarks if self.collection else None
        self.explicit = split(explicit, subtask, parallelism) if isinstance(explicit, list | tuple) else None
        self.assigner = strategy.timestamp_assigner if strategy is not None else None
        bound = strategy.max_out_of_orderness_ms if strategy is not None and self.explicit is None else None
        self.watermarks = SourceWatermarks([0], bound, None, 0) if bound is not None else None

    @property
    def pending(self) -> bool:
        return self.position < len(self.values)

    def emit_next(self) -> None:
        """Read the next element into the chain, then emit the watermark it brings."""
        index = self.position
        self.position += 1
        value = self.values[index]
        try:
            element = self._decode(value)
            timestamp = self._timestamp(index, element)
        except Exception as exc:
            self.dead_letters.append(DeadLetter(self.node.name, value, f"{type(exc).__name__}: {exc}"))
            return
        self.chain.clock.timestamp = timestamp
        if self.watermarks is not None:
            self.watermarks.on_record(0, timestamp)
        try:
            self.chain.head.collect(element)
        except Exception as exc:
            if not self.dead_letter_errors:
                exc.add_note(f"in {self.chain.vertex.name!r} on element {index} of source {self.node.name!r}: "
                             f"{element!r}")
                raise
            self.dead_letters.append(DeadLetter(self.chain.vertex.name, value, f"{type(exc).__name__}: {exc}",
                                                element))
        self._emit_watermark(index)

    def _decode(self, value: Any) -> Any:
        if self.deserialize is None:
            return value
        return self.deserialize(value.encode() if isinstance(value, str) else value)

    def _timestamp(self, index: int, element: Any) -> int | None:
        if self.timestamps is not None:
            return self.timestamps[index]
        if self.timestamp_of is not None:
            return int(self.timestamp_of(element))
        if self.assigner is not None:
            return int(self.assigner(element, -1))
        return None

    def _emit_watermark(self, index: int) -> None:
        if self.explicit is not None:
            if self.explicit[index] is not None:
                self.chain.watermarks.emit_watermark(int(self.explicit[index]))
        elif self.watermarks is not None:
            watermark = self.watermarks.current(0)
            if watermark is not None and watermark > MIN_TIME:
                self.chain.watermarks.emit_watermark(watermark)
