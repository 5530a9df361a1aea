"""Chained operators: each takes an element and pushes results to the next ``Output``.

A task's operator chain is built tail first: sink writer or record writers at
the end, then each operator wrapping the one after it, so processing one
element is a few plain Python calls with no Kafka hop between chained
operators. The head operator of a keyed vertex sets the state backend's
current key before calling the user function.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from strom.api.functions import RichFunction
from strom.graph.stream_graph import CO_PROCESS, FILTER, FLAT_MAP, MAP, PROCESS, REDUCE, WINDOW, StreamNode
from strom.runtime.process import ProcessOperator
from strom.runtime.timers import InternalTimerService
from strom.runtime.windows import RecordClock, WindowOperator
from strom.state.api import RuntimeContext
from strom.state.backend import HeapKeyedStateBackend


class Output(Protocol):
    def collect(self, element: Any) -> None: ...


def _resolve(function: Any, method: str, ctx: RuntimeContext) -> Callable[..., Any]:
    """A plain callable as is; a rich function opened with the runtime context, its ``method``."""
    if isinstance(function, RichFunction):
        function.open(ctx)
        return getattr(function, method)
    return function


class _Keyed:
    """Sets the current key from the element before the wrapped operator runs."""

    def __init__(self, key_selector: Callable[[Any], Any], backend: HeapKeyedStateBackend,
                 inner: Output) -> None:
        self.key_selector, self.backend, self.inner = key_selector, backend, inner

    def __getattr__(self, name: str) -> Any:  # on_watermark, on_processing_time of a timed operator
        return getattr(self.inner, name)

    def collect(self, element: Any) -> None:
        self.backend.current_key = self.key_selector(element)
        self.inner.collect(element)


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


_ABSENT = object()


class ReduceOperator:
    """Running ``reduce`` of the current key (keyed state "reduce"); emits every new value."""

    def __init__(self, function: Callable[[Any, Any], Any], backend: HeapKeyedStateBackend,
                 out: Output) -> None:
        self.function, self.backend, self.out = function, backend, out

    def collect(self, element: Any) -> None:
        table, key = self.backend.table("reduce"), self.backend.current_key
        previous = table.get(key, _ABSENT)
        table[key] = value = element if previous is _ABSENT else self.function(previous, element)
        self.out.collect(value)


def chain_operator(node: StreamNode, out: Output, backend: HeapKeyedStateBackend | None,
                   timers: InternalTimerService | None, ctx: RuntimeContext, clock: RecordClock,
                   side_outputs: dict[str, Output]) -> Output:
    """The runtime operator for ``node`` (not SOURCE or SINK) in front of ``out``.

    ``side_outputs``: output tag name -> where that side output goes (late
    window data, a process function's ``ctx.output``).
    """
    if node.kind == WINDOW:
        late = side_outputs.get(node.late_output_tag) if node.late_output_tag is not None else None
        operator: Output = WindowOperator(node, _keyed_state(node, backend), _timers(node, timers), out, clock,
                                          ctx, late)
    elif node.kind in (PROCESS, CO_PROCESS):
        function = node.function
        if isinstance(function, RichFunction):
            function.open(ctx)
        keys = (node.key_selector, node.key_selector2) if node.kind == CO_PROCESS else (None, None)
        keyed = node.key_selector is not None  # only a keyed process function has keys and timers
        operator = ProcessOperator(function, backend if keyed else None, timers if keyed else None,
                                   out, clock, side_outputs, keys)
        if node.kind == CO_PROCESS:
            return operator  # sets the key itself, per input
    elif node.kind == MAP:
        operator = MapOperator(_resolve(node.function, "map", ctx), out)
    elif node.kind == FLAT_MAP:
        operator = FlatMapOperator(_resolve(node.function, "flat_map", ctx), out)
    elif node.kind == FILTER:
        operator = FilterOperator(_resolve(node.function, "filter", ctx), out)
    elif node.kind == REDUCE:
        operator = ReduceOperator(_resolve(node.function, "reduce", ctx), _keyed_state(node, backend), out)
    else:
        raise ValueError(f"operator kind {node.kind!r} cannot be chained here")
    if node.key_selector is not None:
        return _Keyed(node.key_selector, _keyed_state(node, backend), operator)
    return operator


def _keyed_state(node: StreamNode, backend: HeapKeyedStateBackend | None) -> HeapKeyedStateBackend:
    """The backend a keyed operator needs; ValueError for one deployed without keyed state."""
    if backend is None:
        raise ValueError(f"{node.kind} operator {node.name!r} needs keyed state: it must follow key_by")
    return backend


def _timers(node: StreamNode, timers: InternalTimerService | None) -> InternalTimerService:
    if timers is None:
        raise ValueError(f"{node.kind} operator {node.name!r} needs timers: it must follow key_by")
    return timers


class Broadcast:
    """Several outputs of one chain tail."""

    def __init__(self, outputs: Sequence[Output]) -> None:
        self.outputs = outputs

    def collect(self, element: Any) -> None:
        for output in self.outputs:
            output.collect(element)
