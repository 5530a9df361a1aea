"""Testing one keyed operator by hand, without Kafka, ZooKeeper or Redis (Flink's
``KeyedOneInputStreamOperatorTestHarness``).

The harness runs the cluster's own operator, keyed state and timer code
(:func:`~strom.runtime.operators.chain_operator`): elements go in with their
timestamps, watermarks and processing time move when the test says, and the
output (with timestamps), side outputs, state and timers can be read at any
point. :meth:`~KeyedOneInputStreamOperatorTestHarness.snapshot` and
:meth:`~KeyedOneInputStreamOperatorTestHarness.restore` (into a fresh harness)
test that state survives recovery as a checkpoint would carry it.

A KeyedProcessFunction with an event-time timer:

>>> from strom.api import KeyedProcessFunction, ValueStateDescriptor
>>> class CountThenEmit(KeyedProcessFunction):
...     def open(self, ctx):
...         self.count = ctx.get_state(ValueStateDescriptor("count"))
...     def process_element(self, value, ctx):
...         self.count.update((self.count.value() or 0) + 1)
...         ctx.timer_service().register_event_time_timer(ctx.timestamp() + 10)
...     def on_timer(self, timestamp, ctx):
...         yield (ctx.get_current_key(), self.count.value())
>>> harness = KeyedOneInputStreamOperatorTestHarness(CountThenEmit(), key_selector=lambda word: word)
>>> harness.process_element("a", timestamp=1); harness.process_element("a", timestamp=5)
>>> harness.process_element("b", timestamp=7)
>>> harness.state("a"), harness.timers("a")
({'count': 2}, [(0, 11), (0, 15)])
>>> saved = harness.snapshot()
>>> restored = KeyedOneInputStreamOperatorTestHarness(CountThenEmit(), key_selector=lambda word: word)
>>> restored.restore(saved)
>>> restored.process_watermark(16)
>>> restored.extract_output()
[(('a', 2), 11), (('a', 2), 15)]
>>> restored.timers("a"), restored.timers("b")
([], [(0, 17)])

Here ``(0, 11)`` is (event time domain, time ms); ``extract_output`` gives
(element, timestamp) pairs in the order they were emitted.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from strom.api.datastream import DataStream
from strom.graph.stream_graph import PROCESS, StreamNode
from strom.runtime.operators import chain_operator
from strom.runtime.timers import PROCESSING_TIME, TIMERS_STATE, InternalTimerService
from strom.runtime.windows import RecordClock
from strom.state.api import RuntimeContext
from strom.state.backend import HeapKeyedStateBackend
from strom.state.keygroups import key_group_for


class _Collected:
    """An operator's output: (element, timestamp) in emission order."""

    def __init__(self, clock: RecordClock) -> None:
        self.clock = clock
        self.records: list[tuple[Any, int | None]] = []

    def collect(self, element: Any) -> None:
        self.records.append((element, self.clock.timestamp))


class _SideOutputs(dict):
    """Side outputs by tag name, each collected as it is first used."""

    def __init__(self, clock: RecordClock) -> None:
        super().__init__()
        self.clock = clock

    def get(self, name: Any, default: Any = None) -> _Collected:
        return self.setdefault(name, _Collected(self.clock))


@dataclasses.dataclass(frozen=True)
class HarnessSnapshot:
    """What a checkpoint keeps of one keyed operator: its key groups (state and timers, as bytes)
    and its watermark (ms)."""

    key_groups: dict[int, bytes]
    watermark: int


class KeyedOneInputStreamOperatorTestHarness:
    """One keyed operator, run by hand (see the module docstring for an example).

    ``operator``: a keyed stream's operator as built by the DataStream API (``key_by(...)``
    then ``process``, ``window(...).reduce/aggregate/process``, ``reduce``...), or a
    KeyedProcessFunction with its ``key_selector``. ``max_parallelism``: key groups (128).
    """

    def __init__(self, operator: DataStream | Any, key_selector: Callable[[Any], Any] | None = None, *,
                 max_parallelism: int = 128) -> None:
        if isinstance(operator, DataStream):
            self.node = operator._node
        else:
            if key_selector is None:
                raise ValueError("a function needs its key_selector (the key_by of the stream it runs on)")
            self.node = StreamNode(1, PROCESS, type(operator).__name__, 1, function=operator,
                                   key_selector=key_selector)
        if self.node.key_selector is None:
            raise ValueError(f"{self.node.kind} operator {self.node.name!r} is not keyed: build it after key_by")
        self.max_parallelism = max_parallelism
        self.clock = RecordClock()
        self.backend = HeapKeyedStateBackend()
        self.timer_service = InternalTimerService(self.backend)
        self.output = _Collected(self.clock)
        self.side_outputs = _SideOutputs(self.clock)
        context = RuntimeContext(self.backend, self.node.name, 0, 1, max_parallelism, 0)
        self.operator = chain_operator(self.node, self.output, self.backend, self.timer_service, context,
                                       self.clock, self.side_outputs)

    # -- driving it -------------------------------------------------------------------------
    def process_element(self, value: Any, timestamp: int | None = None) -> None:
        """One element with its event timestamp (ms), as a task would hand it over."""
        self._use_key(self.node.key_selector(value))  # type: ignore[misc]
        self.clock.timestamp = timestamp
        self.operator.collect(value)

    def process_watermark(self, watermark: int) -> None:
        """Event time moves to ``watermark`` (ms): due event-time timers fire, windows close."""
        self.operator.on_watermark(watermark)  # type: ignore[attr-defined]

    def set_processing_time(self, now_ms: int) -> None:
        """Processing time moves to ``now_ms``: due processing-time timers fire."""
        if self.timer_service.has_timers(PROCESSING_TIME):
            self.operator.on_processing_time(now_ms)  # type: ignore[attr-defined]

    # -- reading it -------------------------------------------------------------------------
    def extract_output(self) -> list[tuple[Any, int | None]]:
        """(element, timestamp ms) emitted so far, oldest first."""
        return list(self.output.records)

    def get_side_output(self, tag: Any) -> list[tuple[Any, int | None]]:
        """(element, timestamp) sent to side output ``tag`` (an OutputTag, or its name)."""
        return list(self.side_outputs.get(getattr(tag, "name", tag)).records)

    def state(self, key: Any) -> dict[str, Any]:
        """Every state of ``key`` by name (timers left out: see :meth:`timers`)."""
        self._use_key(key)
        return {name: groups[self.backend.current_key_group][key] for name, groups in self.backend.tables.items()
                if name != TIMERS_STATE and key in groups.get(self.backend.current_key_group, {})}

    def timers(self, key: Any) -> list[tuple[int, int]]:
        """``key``'s timers as sorted (domain, time ms): domain 0 event time, 1 processing time."""
        self._use_key(key)
        return sorted((domain, time) for domain, time, _namespace in self.backend.get(TIMERS_STATE, set()))

    # -- checkpoints ------------------------------------------------------------------------
    def snapshot(self) -> HarnessSnapshot:
        return HarnessSnapshot(self.backend.snapshot(), self.timer_service.watermark)

    def restore(self, snapshot: HarnessSnapshot) -> None:
        """Load a snapshot into this (fresh) harness, as a restarted task would."""
        self.backend.restore(snapshot.key_groups.items())
        self.timer_service.restore()
        self.timer_service.watermark = snapshot.watermark

    def _use_key(self, key: Any) -> None:
        self.backend.current_key = key
        self.backend.current_key_group = key_group_for(key, self.max_parallelism)
