"""Chained operators: each takes an element and pushes results to the next ``Output``.

A task's operator chain is built tail first: sink or edge writers at the end,
then each operator wrapping the one after it, so processing one element is a
few plain Python calls with no Kafka hop between chained operators.
"""

from __future__ import annotations

import pickle
from itertools import count
from typing import Any, Callable, Protocol

from confluent_kafka import Producer

from strom.graph.stream_graph import FILTER, FLAT_MAP, FORWARD, HASH, MAP, REDUCE, StreamNode
from strom.runtime.keygroups import key_bytes

END_OF_INPUT = [("strom.marker", b"end-of-input")]


class Output(Protocol):
    def collect(self, element: Any) -> None: ...


def produce(producer: Producer, topic: str, value: bytes | None, **kwargs: Any) -> None:
    """``producer.produce`` that waits for room when librdkafka's queue is full."""
    while True:
        try:
            producer.produce(topic, value, **kwargs)
            return
        except BufferError:
            producer.poll(0.05)  # deliver some of the queue, then try again


class MapOperator:
    def __init__(self, function: Callable[[Any], Any], out: Output) -> None:
        self.function, self.out = function, out

    def collect(self, element: Any) -> None:
        self.out.collect(self.function(element))


class FlatMapOperator:
    def __init__(self, function: Callable[[Any], Any], out: Output) -> None:
        self.function, self.out = function, out

    def collect(self, element: Any) -> None:
        for result in self.function(element):
            self.out.collect(result)


class FilterOperator:
    def __init__(self, function: Callable[[Any], bool], out: Output) -> None:
        self.function, self.out = function, out

    def collect(self, element: Any) -> None:
        if self.function(element):
            self.out.collect(element)


class KeyedReduceOperator:
    """Running ``reduce`` per key; emits the new accumulator for every element (Flink's reduce)."""

    def __init__(self, key_selector: Callable[[Any], Any], function: Callable[[Any, Any], Any],
                 out: Output) -> None:
        self.key_selector, self.function, self.out = key_selector, function, out
        self.state: dict[Any, Any] = {}

    def collect(self, element: Any) -> None:
        key = self.key_selector(element)
        previous = self.state.get(key, _ABSENT)
        value = element if previous is _ABSENT else self.function(previous, element)
        self.state[key] = value
        self.out.collect(value)


_ABSENT = object()


class KafkaSinkWriter:
    """Writes elements to the sink topic with the sink's key/value serializers."""

    def __init__(self, producer: Producer, sink: Any) -> None:
        schema = sink.record_serializer
        self.producer, self.topic = producer, schema.topic
        self.key, self.value = schema.key_serializer, schema.value_serializer

    def collect(self, element: Any) -> None:
        key = self.key(element) if self.key is not None else None
        produce(self.producer, self.topic, self.value(element), key=key)


class EdgeWriter:
    """Writes elements to a Kafka edge topic (pickled), partitioned as the edge says.

    HASH: key bytes + librdkafka's murmur2 partitioner => partition = key group.
    FORWARD: partition = own subtask index. REBALANCE: round-robin from it.
    """

    def __init__(self, producer: Producer, topic: str, partitioner: str, partitions: int,
                 subtask_index: int, key_selector: Callable[[Any], Any] | None) -> None:
        self.producer, self.topic, self.partitions = producer, topic, partitions
        self.partitioner, self.key_selector = partitioner, key_selector
        self.subtask_index = subtask_index
        self._round_robin = count(subtask_index)

    def collect(self, element: Any) -> None:
        value = pickle.dumps(element, protocol=5)
        if self.partitioner == HASH:
            produce(self.producer, self.topic, value, key=key_bytes(self.key_selector(element)))
        elif self.partitioner == FORWARD:
            produce(self.producer, self.topic, value, partition=self.subtask_index)
        else:
            produce(self.producer, self.topic, value, partition=next(self._round_robin) % self.partitions)

    def end_of_input(self) -> None:
        """Tell every downstream subtask that this subtask is done (one marker per partition)."""
        headers = END_OF_INPUT + [("strom.subtask", str(self.subtask_index).encode())]
        for partition in range(self.partitions):
            produce(self.producer, self.topic, None, partition=partition, headers=headers)


class Broadcast:
    """Several outputs of one chain tail."""

    def __init__(self, outputs: list[Output]) -> None:
        self.outputs = outputs

    def collect(self, element: Any) -> None:
        for output in self.outputs:
            output.collect(element)


def chain_operator(node: StreamNode, out: Output) -> Output:
    """Wrap ``out`` with the runtime operator for ``node`` (not SOURCE or SINK)."""
    if node.kind == MAP:
        return MapOperator(node.function, out)
    if node.kind == FLAT_MAP:
        return FlatMapOperator(node.function, out)
    if node.kind == FILTER:
        return FilterOperator(node.function, out)
    if node.kind == REDUCE:
        return KeyedReduceOperator(node.key_selector, node.function, out)
    raise ValueError(f"operator kind {node.kind!r} cannot be chained here")

