"""Writing a subtask's output to one Kafka edge (Flink's RecordWriter)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count
from typing import Any

from confluent_kafka import Producer

from strom.graph.stream_graph import FORWARD, HASH
from strom.io.kafka import produce
from strom.runtime.deployment import OutputEdge
from strom.runtime.io.events import Event, encode_event, encode_record
from strom.runtime.windows import RecordClock
from strom.state.keygroups import key_bytes


def _no_key_selector(element: Any) -> Any:
    raise TypeError(f"a hash-partitioned edge needs a key selector (element {element!r})")


class RecordWriter:
    """Writes elements to an edge topic as stream records (:mod:`strom.runtime.io.events`).

    HASH: key bytes + librdkafka's murmur2 partitioner => partition = key group.
    FORWARD: partition = own subtask index. REBALANCE: round-robin from it.
    Events (barriers, watermarks, end of partition) go to every partition.
    ``records_out`` (elements) and ``back_pressured_s`` (blocked on a full producer queue) are
    the task's metrics.
    """

    def __init__(self, producer: Producer, edge: OutputEdge, subtask_index: int, attempt: int,
                 key_selector: Callable[[Any], Any] | None, clock: RecordClock) -> None:
        self.producer, self.topic, self.partitions, self.clock = producer, edge.topic, edge.partitions, clock
        self.partitioner = edge.partitioner
        self.key_selector: Callable[[Any], Any] = key_selector or _no_key_selector
        self.subtask_index, self.attempt = subtask_index, attempt
        self._round_robin = count(subtask_index)
        self.records_out, self.back_pressured_s = 0, 0.0

    def collect(self, element: Any) -> None:
        value = encode_record((self.attempt, self.subtask_index, self.clock.timestamp, element))
        self.records_out += 1
        if self.partitioner == HASH:
            blocked = produce(self.producer, self.topic, value, key=key_bytes(self.key_selector(element)))
        elif self.partitioner == FORWARD:
            blocked = produce(self.producer, self.topic, value, partition=self.subtask_index)
        else:
            blocked = produce(self.producer, self.topic, value, partition=next(self._round_robin) % self.partitions)
        if blocked:
            self.back_pressured_s += blocked

    def broadcast_event(self, event: Event) -> None:
        """``event`` into every partition of the edge."""
        headers = encode_event(event, self.subtask_index, self.attempt)
        for partition in range(self.partitions):
            produce(self.producer, self.topic, None, partition=partition, headers=headers)
