"""The StreamGraph: one node per operator the user wrote, edges with their partitioner."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Operator kinds a StreamNode can hold.
SOURCE, MAP, FLAT_MAP, FILTER, REDUCE, SINK = "source", "map", "flat_map", "filter", "reduce", "sink"
WINDOW, PROCESS, CO_PROCESS = "window", "process", "co_process"

# Edge partitioners (Flink's StreamPartitioner names).
FORWARD, REBALANCE, HASH = "forward", "rebalance", "hash"


class ErrorPolicy(enum.StrEnum):
    """What a task does when a user function (or a sink's serializer) raises on a record.

    FAIL: the task fails and the job restarts as its restart strategy says (a record that always
    raises fails the job once the strategy's budget is spent). DEAD_LETTER: the record goes to the
    job's dead-letter topic with the operator chain, the exception and its input position, and the
    task goes on (Kafka Streams' processing-exception handler, KIP-1033). What the chain emitted for
    that record before the exception stays emitted.
    """

    FAIL = "fail"
    DEAD_LETTER = "dead-letter"


@dataclass
class StreamNode:
    """One operator: ``kind`` plus its user function (or connector) and settings.

    ``function`` is the user's callable (map/flat_map/filter/reduce, or the
    window function); ``connector`` is the KafkaSource or KafkaSink;
    ``key_selector`` is set on operators of a keyed stream.
    """

    id: int
    kind: str
    name: str
    parallelism: int
    function: Callable[..., Any] | None = None
    connector: Any = None
    key_selector: Callable[[Any], Any] | None = None
    uid: str | None = None
    chaining: bool = True
    start_new_chain: bool = False
    watermark_strategy: Any = None      # SOURCE: a WatermarkStrategy
    window: Any = None                  # WINDOW: the window assigner
    window_function: str | None = None  # WINDOW: "reduce", "aggregate" or "process"
    window_process: Any = None          # WINDOW: a ProcessWindowFunction after reduce/aggregate
    trigger: Any = None                 # WINDOW: None = the assigner's default trigger
    evictor: Any = None                 # WINDOW
    allowed_lateness_ms: int = 0        # WINDOW
    late_output_tag: str | None = None  # WINDOW: side output of late elements
    key_selector2: Callable[[Any], Any] | None = None  # CO_PROCESS: key of input 2 (key_selector: input 1)
    error_policy: ErrorPolicy | None = None  # None: the job's


@dataclass
class StreamEdge:
    source_id: int
    target_id: int
    partitioner: str
    key_selector: Callable[[Any], Any] | None = None
    side_output: str | None = None  # carries the source's side output of this tag, not its main output
    type_number: int = 0  # a two-input target's input (1 or 2); 0 for one-input targets


@dataclass
class StreamGraph:
    job_name: str
    max_parallelism: int
    chaining: bool = True
    nodes: dict[int, StreamNode] = field(default_factory=dict)
    edges: list[StreamEdge] = field(default_factory=list)

    def inputs(self, node_id: int) -> list[StreamEdge]:
        return [e for e in self.edges if e.target_id == node_id]

    def outputs(self, node_id: int) -> list[StreamEdge]:
        return [e for e in self.edges if e.source_id == node_id]
