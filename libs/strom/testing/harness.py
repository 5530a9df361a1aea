"""Testing one operator by hand, without Kafka, ZooKeeper or Redis (Flink's operator test
harnesses): :class:`KeyedOneInputStreamOperatorTestHarness`, :class:`KeyedTwoInputStreamOperatorTestHarness`
(``process_element1`` / ``process_element2``: a KeyedCoProcessFunction, an interval join), and
without keys :class:`OneInputStreamOperatorTestHarness` and :class:`TwoInputStreamOperatorTestHarness`.
A whole job runs in one process with :func:`strom.testing.local.run_locally`.

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
from strom.graph.stream_graph import CO_PROCESS, PROCESS, StreamNode
from strom.runtime.operators import chain_operator
from strom.runtime.timers import MIN_TIME, PROCESSING_TIME, TIMERS_STATE, InternalTimerService
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


class _OperatorHarness:
    """What every harness shares: the runtime's operator for ``node`` in front of collected
    output, with keyed state and timers when ``keyed``."""

    def __init__(self, node: StreamNode, max_parallelism: int, keyed: bool) -> None:
        self.node, self.max_parallelism = node, max_parallelism
        self.clock = RecordClock()
        self.backend = HeapKeyedStateBackend() if keyed else None
        self.timer_service = InternalTimerService(self.backend) if self.backend is not None else None
        self.watermark = MIN_TIME
        self.output = _Collected(self.clock)
        self.side_outputs = _SideOutputs(self.clock)
        context = RuntimeContext(self.backend, self.node.name, 0, 1, max_parallelism, 0)
        self.operator: Any = chain_operator(self.node, self.output, self.backend, self.timer_service, context,
                                            self.clock, self.side_outputs)

    def _process(self, entry: Callable[[Any], None], key: Any, value: Any, timestamp: int | None) -> None:
        if self.backend is not None:
            self._use_key(key)
        self.clock.timestamp = timestamp
        entry(value)

    # -- driving it -------------------------------------------------------------------------
    def process_watermark(self, watermark: int) -> None:
        """Event time moves to ``watermark`` (ms): due event-time timers fire, windows close."""
        self.watermark = max(self.watermark, watermark)
        if self.timer_service is not None:
            self.operator.on_watermark(watermark)

    def set_processing_time(self, now_ms: int) -> None:
        """Processing time moves to ``now_ms``: due processing-time timers fire."""
        if self.timer_service is not None and self.timer_service.has_timers(PROCESSING_TIME):
            self.operator.on_processing_time(now_ms)

    # -- reading it -------------------------------------------------------------------------
    def extract_output(self) -> list[tuple[Any, int | None]]:
        """(element, timestamp ms) emitted so far, oldest first."""
        return list(self.output.records)

    def get_side_output(self, tag: Any) -> list[tuple[Any, int | None]]:
        """(element, timestamp) sent to side output ``tag`` (an OutputTag, or its name)."""
        return list(self.side_outputs.get(getattr(tag, "name", tag)).records)

    def state(self, key: Any) -> dict[str, Any]:
        """Every state of ``key`` by name (timers left out: see :meth:`timers`)."""
        backend = self._keyed_backend()
        self._use_key(key)
        return {name: groups[backend.current_key_group][key] for name, groups in backend.tables.items()
                if name != TIMERS_STATE and key in groups.get(backend.current_key_group, {})}

    def timers(self, key: Any) -> list[tuple[int, int]]:
        """``key``'s timers as sorted (domain, time ms): domain 0 event time, 1 processing time."""
        backend = self._keyed_backend()
        self._use_key(key)
        return sorted((domain, time) for domain, time, _namespace in backend.get(TIMERS_STATE, set()))

    # -- checkpoints ------------------------------------------------------------------------
    def snapshot(self) -> HarnessSnapshot:
        """Keyed state (timers included) by key group, and the watermark."""
        key_groups = self.backend.snapshot() if self.backend is not None else {}
        return HarnessSnapshot(key_groups, self.watermark)

    def restore(self, snapshot: HarnessSnapshot) -> None:
        """Load a snapshot into this (fresh) harness, as a restarted task would."""
        self.watermark = snapshot.watermark
        if self.backend is not None and self.timer_service is not None:
            self.backend.restore(snapshot.key_groups.items())
            self.timer_service.restore()
            self.timer_service.watermark = snapshot.watermark

    def _keyed_backend(self) -> HeapKeyedStateBackend:
        if self.backend is None:
            raise ValueError(f"{self.node.kind} operator {self.node.name!r} is not keyed: it has no keyed state")
        return self.backend

    def _use_key(self, key: Any) -> None:
        backend = self._keyed_backend()
        backend.current_key = key
        backend.current_key_group = key_group_for(key, self.max_parallelism)


class KeyedOneInputStreamOperatorTestHarness(_OperatorHarness):
    """One keyed operator, run by hand (see the module docstring for an example).

    ``operator``: a keyed stream's operator as built by the DataStream API (``key_by(...)``
    then ``process``, ``window(...).reduce/aggregate/process``, ``reduce``...), or a
    KeyedProcessFunction with its ``key_selector``. ``max_parallelism``: key groups (128).
    """

    def __init__(self, operator: DataStream | Any, key_selector: Callable[[Any], Any] | None = None, *,
                 max_parallelism: int = 128) -> None:
        if isinstance(operator, DataStream):
            node = operator._node
        else:
            if key_selector is None:
                raise ValueError("a function needs its key_selector (the key_by of the stream it runs on)")
            node = StreamNode(1, PROCESS, type(operator).__name__, 1, function=operator, key_selector=key_selector)
        if node.key_selector is None or node.kind == CO_PROCESS:
            raise ValueError(f"{node.kind} operator {node.name!r} is not keyed: build it after key_by"
                             if node.kind != CO_PROCESS else
                             f"{node.name!r} has two inputs: use KeyedTwoInputStreamOperatorTestHarness")
        super().__init__(node, max_parallelism, keyed=True)

    def process_element(self, value: Any, timestamp: int | None = None) -> None:
        """One element with its event timestamp (ms), as a task would hand it over."""
        self._process(self.operator.collect, self.node.key_selector(value), value, timestamp)  # type: ignore[misc]


class OneInputStreamOperatorTestHarness(_OperatorHarness):
    """One operator that is not keyed (map, flat_map, filter, a ProcessFunction), run by hand.

    >>> from strom.api import StreamExecutionEnvironment
    >>> env = StreamExecutionEnvironment.get_execution_environment()
    >>> words = env.from_collection([]).flat_map(str.split)
    >>> harness = OneInputStreamOperatorTestHarness(words)
    >>> harness.process_element("to be", timestamp=5)
    >>> harness.extract_output()
    [('to', 5), ('be', 5)]
    """

    def __init__(self, operator: DataStream | Any, *, max_parallelism: int = 128) -> None:
        node = (operator._node if isinstance(operator, DataStream)
                else StreamNode(1, PROCESS, type(operator).__name__, 1, function=operator))
        if node.key_selector is not None or node.kind == CO_PROCESS:
            raise ValueError(f"{node.kind} operator {node.name!r} is keyed or has two inputs: use "
                             f"KeyedOneInputStreamOperatorTestHarness or a two-input harness")
        super().__init__(node, max_parallelism, keyed=False)

    def process_element(self, value: Any, timestamp: int | None = None) -> None:
        """One element with its event timestamp (ms)."""
        self._process(self.operator.collect, None, value, timestamp)


class TwoInputStreamOperatorTestHarness(_OperatorHarness):
    """A two-input operator (``a.connect(b).process(CoProcessFunction)``) run by hand:
    ``process_element1`` / ``process_element2`` feed its inputs. Keyed: see
    :class:`KeyedTwoInputStreamOperatorTestHarness`."""

    keyed = False

    def __init__(self, operator: DataStream | Any, key_selector1: Callable[[Any], Any] | None = None,
                 key_selector2: Callable[[Any], Any] | None = None, *, max_parallelism: int = 128) -> None:
        if isinstance(operator, DataStream):
            node = operator._node
        else:
            node = StreamNode(1, CO_PROCESS, type(operator).__name__, 1, function=operator,
                              key_selector=key_selector1, key_selector2=key_selector2)
        if node.kind != CO_PROCESS:
            raise ValueError(f"{node.kind} operator {node.name!r} has one input: use a one-input harness")
        keyed = node.key_selector is not None and node.key_selector2 is not None
        if keyed != self.keyed:
            raise ValueError(f"{node.name!r}: a keyed two-input operator needs both key selectors and "
                             f"KeyedTwoInputStreamOperatorTestHarness; one without keys "
                             f"TwoInputStreamOperatorTestHarness")
        super().__init__(node, max_parallelism, keyed=keyed)

    def process_element1(self, value: Any, timestamp: int | None = None) -> None:
        """An element of input 1 (the stream ``connect`` was called on) with its timestamp (ms)."""
        key = self.node.key_selector(value) if self.keyed else None  # type: ignore[misc]
        self._process(self.operator.collect, key, value, timestamp)

    def process_element2(self, value: Any, timestamp: int | None = None) -> None:
        """An element of input 2 with its timestamp (ms)."""
        key = self.node.key_selector2(value) if self.keyed else None  # type: ignore[misc]
        self._process(self.operator.collect2, key, value, timestamp)


class KeyedTwoInputStreamOperatorTestHarness(TwoInputStreamOperatorTestHarness):
    """A keyed two-input operator run by hand (Flink's KeyedTwoInputStreamOperatorTestHarness): a
    KeyedCoProcessFunction or an interval join as the DataStream API built it, or a
    KeyedCoProcessFunction with the key selectors of its two inputs.

    >>> from strom.api import StreamExecutionEnvironment
    >>> env = StreamExecutionEnvironment.get_execution_environment()
    >>> orders, payments = env.from_collection([]), env.from_collection([])
    >>> joined = (orders.key_by(lambda o: o[0]).interval_join(payments.key_by(lambda p: p[0]))
    ...           .between(0, 1_000).process(lambda order, payment: (order[1], payment[1])))
    >>> harness = KeyedTwoInputStreamOperatorTestHarness(joined)
    >>> harness.process_element1(("o1", "order"), timestamp=100)
    >>> harness.process_element2(("o1", "paid"), timestamp=600)
    >>> harness.process_element2(("o1", "too late"), timestamp=1_200)
    >>> harness.extract_output()
    [(('order', 'paid'), 600)]
    >>> harness.process_watermark(2_000)   # the cleanup timers fire: the buffers are empty
    >>> harness.timers("o1"), harness.state("o1")
    ([], {})
    """

    keyed = True
