"""The DataStream API: Flink's names and shapes, recorded into a StreamGraph.

>>> env = StreamExecutionEnvironment.get_execution_environment()
>>> env = env.set_parallelism(2)
>>> lines = env.from_source(source, source_name="lines")          # doctest: +SKIP
>>> counts = (lines.flat_map(lambda line: [(w, 1) for w in line.split()])
...                .key_by(lambda wc: wc[0])
...                .sum(1))                                        # doctest: +SKIP
>>> counts.sink_to(sink)                                          # doctest: +SKIP
>>> env.execute("WordCount")                                      # doctest: +SKIP
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

from strom.api.connectors import CollectionSource, CollectSink, DeliveryGuarantee, KafkaSink, KafkaSource
from strom.api.evictors import CountEvictor, Evictor
from strom.api.executor import current_context, resolve_executor
from strom.api.functions import (
    CoProcessFunction,
    KeyedCoProcessFunction,
    KeyedProcessFunction,
)
from strom.api.joins import (
    IntervalJoinFunction,
    WindowJoinFunction,
    tag_input,
    tagged_key,
)
from strom.api.triggers import CountTrigger, PurgingTrigger, Trigger
from strom.api.windowing import GlobalWindows, WindowAssigner
from strom.checkpoint.config import (
    CheckpointConfig,
    CheckpointingMode,
    RestartStrategies,
    RestartStrategyConfiguration,
)
from strom.errors import InvalidJobGraphError
from strom.graph.job_graph import JobGraph, build_job_graph
from strom.graph.stream_graph import (
    CO_PROCESS,
    FILTER,
    FLAT_MAP,
    FORWARD,
    HASH,
    MAP,
    PROCESS,
    REBALANCE,
    REDUCE,
    SINK,
    SOURCE,
    WINDOW,
    ErrorPolicy,
    StreamEdge,
    StreamGraph,
    StreamNode,
)

DEFAULT_MAX_PARALLELISM = 128  # Flink's default for parallelism <= 128


def _resolve_sink_guarantees(graph: StreamGraph, checkpoint_config: CheckpointConfig) -> None:
    for node in graph.nodes.values():
        if node.kind != SINK:
            continue
        sink = node.connector
        if sink.delivery_guarantee is None:
            sink.delivery_guarantee = (DeliveryGuarantee.EXACTLY_ONCE if checkpoint_config.enabled
                                       else DeliveryGuarantee.AT_LEAST_ONCE)
        elif sink.delivery_guarantee is DeliveryGuarantee.EXACTLY_ONCE and not checkpoint_config.enabled:
            raise InvalidJobGraphError(f"sink {node.name!r}: DeliveryGuarantee.EXACTLY_ONCE needs "
                                       f"checkpointing: env.enable_checkpointing(interval_ms)")



class StreamExecutionEnvironment:
    """Collects the job's operators; :meth:`execute` submits it to the cluster.

    ``strom run --parallelism N`` sets the default parallelism of every
    environment created while the job's ``main`` runs (:mod:`strom.api.executor`).
    """

    def __init__(self) -> None:
        self._parallelism = current_context().parallelism or 1
        self._max_parallelism = DEFAULT_MAX_PARALLELISM
        self._chaining = True
        self._dead_letter_topic: str | None = None
        self._checkpoint_config = CheckpointConfig()
        self._restart_strategy: RestartStrategyConfiguration | None = None
        self._error_policy = ErrorPolicy.FAIL
        self._buffer_timeout_ms: int | None = None
        self._nodes: dict[int, StreamNode] = {}
        self._edges: list[StreamEdge] = []

    @staticmethod
    def get_execution_environment() -> StreamExecutionEnvironment:
        return StreamExecutionEnvironment()

    def set_parallelism(self, parallelism: int) -> StreamExecutionEnvironment:
        self._parallelism = parallelism
        return self

    def get_parallelism(self) -> int:
        return self._parallelism

    def set_max_parallelism(self, max_parallelism: int) -> StreamExecutionEnvironment:
        """Number of key groups = partitions of every keyed edge topic."""
        self._max_parallelism = max_parallelism
        return self

    def disable_operator_chaining(self) -> StreamExecutionEnvironment:
        self._chaining = False
        return self

    def set_buffer_timeout(self, timeout_ms: int) -> StreamExecutionEnvironment:
        """How long a network buffer that is not full may wait before it goes out, in ms (Flink's
        ``setBufferTimeout``; default: the TaskManagers' ``execution.buffer-timeout``, 100 ms).
        0: a buffer per element, for the lowest latency. Raises ValueError below 0."""
        if timeout_ms < 0:
            raise ValueError(f"buffer timeout {timeout_ms} ms: must be 0 or more")
        self._buffer_timeout_ms = timeout_ms
        return self

    def set_dead_letter_topic(self, topic: str) -> StreamExecutionEnvironment:
        """Where undecodable input goes (default ``<job name>-dlq``)."""
        self._dead_letter_topic = topic
        return self

    def set_error_policy(self, policy: ErrorPolicy) -> StreamExecutionEnvironment:
        """What tasks do with a record a user function raises on (default FAIL; see
        :class:`~strom.graph.stream_graph.ErrorPolicy`); operators may set their own."""
        self._error_policy = ErrorPolicy(policy)
        return self

    def enable_checkpointing(self, interval_ms: int,
                             mode: CheckpointingMode = CheckpointingMode.EXACTLY_ONCE
                             ) -> StreamExecutionEnvironment:
        """Checkpoint every ``interval_ms``; makes KafkaSink default to EXACTLY_ONCE."""
        self._checkpoint_config.interval_ms = interval_ms
        self._checkpoint_config.mode = mode
        return self

    def get_checkpoint_config(self) -> CheckpointConfig:
        return self._checkpoint_config

    def set_restart_strategy(self, strategy: RestartStrategyConfiguration) -> StreamExecutionEnvironment:
        """Default: exponential-delay with checkpointing, no restart without (as Flink)."""
        self._restart_strategy = strategy
        return self

    def from_source(self, source: KafkaSource, watermark_strategy: Any = None,
                    source_name: str = "Kafka Source") -> DataStream:
        node = self._add(SOURCE, source_name, [], connector=source, watermark_strategy=watermark_strategy)
        return DataStream(self, [(node.id, None)])

    def from_collection(self, elements: Iterable[Any], timestamps: Any = None, watermarks: Any = None,
                        source_name: str = "Collection Source") -> DataStream:
        """A stream of ``elements`` given in code, for tests run by :func:`strom.testing.local.run_locally`
        (not on a cluster). ``timestamps``: event time (ms) per element, a list or a function
        ``element -> ms``; ``watermarks``: a WatermarkStrategy, or the watermark (ms or None) to emit
        after each element (see :class:`~strom.api.connectors.CollectionSource`). Parallelism 1, as
        Flink's ``fromCollection``.

        >>> env = StreamExecutionEnvironment.get_execution_environment()
        >>> env.from_collection(["a", "b"], timestamps=[1_000, 2_000]).map(str.upper)  # doctest: +ELLIPSIS
        <strom.api.datastream.DataStream object at ...>
        """
        source = CollectionSource(list(elements), timestamps, watermarks)
        strategy = watermarks if not isinstance(watermarks, (list, tuple)) else None
        node = self._add(SOURCE, source_name, [], connector=source, watermark_strategy=strategy)
        node.parallelism = 1
        return DataStream(self, [(node.id, None)])

    def _add(self, kind: str, name: str, inputs: list[tuple[int, str | None]], *,
             partitioner: str | None = None, key_selector: Callable | None = None,
             **fields: Any) -> StreamNode:
        parallelism = self._parallelism
        node = StreamNode(id=len(self._nodes) + 1, kind=kind, name=name, parallelism=parallelism,
                          key_selector=key_selector if partitioner == HASH else None, **fields)
        self._nodes[node.id] = node
        self._connect(inputs, node, partitioner, key_selector, 0)
        return node

    def _connect(self, inputs: list[tuple[int, str | None]], node: StreamNode, partitioner: str | None,
                 key_selector: Callable | None, type_number: int) -> None:
        """One edge per input: (upstream node id, side output tag or None for its main output)."""
        for source_id, side_output in inputs:
            self._edges.append(StreamEdge(source_id, node.id, partitioner or FORWARD,
                                          key_selector if partitioner == HASH else None, side_output,
                                          type_number))

    def _add_two_input(self, name: str, first: DataStream, second: DataStream, function: Any,
                       key_selectors: tuple[Callable, Callable] | None) -> StreamNode:
        """A CO_PROCESS node; keyed (both inputs HASH-partitioned) when ``key_selectors`` is given."""
        k1, k2 = key_selectors or (None, None)
        node = StreamNode(id=len(self._nodes) + 1, kind=CO_PROCESS, name=name, parallelism=self._parallelism,
                          function=function, key_selector=k1, key_selector2=k2)
        self._nodes[node.id] = node
        for number, stream, key in ((1, first, k1), (2, second, k2)):
            partitioner = HASH if key is not None else stream._partitioner
            self._connect(stream._inputs, node, partitioner, key, number)
        return node

    def _fix_partitioners(self) -> None:
        # Flink: FORWARD only between equal parallelism, else REBALANCE.
        for edge in self._edges:
            if edge.partitioner == FORWARD and (self._nodes[edge.source_id].parallelism
                                                != self._nodes[edge.target_id].parallelism):
                edge.partitioner = REBALANCE

    def get_stream_graph(self, job_name: str) -> StreamGraph:
        self._fix_partitioners()
        return StreamGraph(job_name, self._max_parallelism, self._chaining,
                           dict(self._nodes), list(self._edges))

    def get_job_graph(self, job_name: str) -> JobGraph:
        """Raises :class:`~strom.graph.job_graph.InvalidJobGraphError`."""
        restart = self._restart_strategy or (
            RestartStrategies.exponential_delay_restart(initial_backoff_ms=100, max_backoff_ms=10_000)
            if self._checkpoint_config.enabled else RestartStrategies.no_restart())
        stream_graph = self.get_stream_graph(job_name)
        _resolve_sink_guarantees(stream_graph, self._checkpoint_config)
        return build_job_graph(stream_graph, checkpoint_config=self._checkpoint_config,
                               restart_strategy=restart, dead_letter_topic=self._dead_letter_topic,
                               savepoint=current_context().savepoint, error_policy=self._error_policy,
                               buffer_timeout_ms=self._buffer_timeout_ms)

    def execute(self, job_name: str = "Strom Job") -> Any:
        """Build the JobGraph and run it with the current executor (:mod:`strom.api.executor`);
        returns what the executor returns (with ``strom run`` or the default: the job's final
        details). Raises :class:`~strom.errors.InvalidJobGraphError` for a graph that cannot run."""
        job_graph = self.get_job_graph(job_name)
        return resolve_executor(current_context())(job_graph)


class DataStream:
    """A stream of elements; each method adds one operator and returns the new stream."""

    def __init__(self, env: StreamExecutionEnvironment, inputs: list[tuple[int, str | None]],
                 partitioner: str | None = None) -> None:
        """``inputs``: (operator id, side output tag or None) of each stream this one is a union of."""
        self._env = env
        self._inputs = inputs
        self._partitioner = partitioner

    @property
    def _node(self) -> StreamNode:
        if len(self._inputs) != 1:
            raise ValueError("a union of streams has no single operator to configure")
        return self._env._nodes[self._inputs[0][0]]

    def _then(self, kind: str, name: str, **fields: Any) -> DataStream:
        node = self._env._add(kind, name, self._inputs, partitioner=self._partitioner, **fields)
        return DataStream(self._env, [(node.id, None)])

    def get_side_output(self, tag: Any) -> DataStream:
        """The elements this operator sent to side output ``tag`` (e.g. a window's late data)."""
        return DataStream(self._env, [(self._node.id, tag.name)], self._partitioner)

    def map(self, func: Callable[[Any], Any]) -> DataStream:
        """One output per element. ``ds.map(str.lower)``"""
        return self._then(MAP, "Map", function=func)

    def flat_map(self, func: Callable[[Any], Iterable[Any]]) -> DataStream:
        """Zero or more outputs per element. ``ds.flat_map(str.split)``"""
        return self._then(FLAT_MAP, "FlatMap", function=func)

    def filter(self, func: Callable[[Any], bool]) -> DataStream:
        """Keep elements for which ``func`` is true."""
        return self._then(FILTER, "Filter", function=func)

    def key_by(self, key_selector: Callable[[Any], Any]) -> KeyedStream:
        """Partition by key: the next operator's edge is a topic of max_parallelism key groups."""
        return KeyedStream(self._env, self._inputs, key_selector)

    def rebalance(self) -> DataStream:
        """Spread elements round-robin over the next operator's subtasks."""
        return DataStream(self._env, self._inputs, REBALANCE)

    def union(self, *streams: DataStream) -> DataStream:
        """Elements of this and ``streams``, unordered between inputs."""
        return DataStream(self._env, self._inputs + [i for s in streams for i in s._inputs])

    def process(self, function: Any) -> DataStream:
        """A ProcessFunction: ``process_element(value, ctx)`` yields outputs; ``ctx.output(tag, v)``
        for side outputs. Timers need a keyed stream (``key_by(...).process(...)``)."""
        if isinstance(function, KeyedProcessFunction):
            raise InvalidJobGraphError(f"{type(function).__name__} is a KeyedProcessFunction: "
                                       f"call key_by(...) before process(...)")
        return self._then(PROCESS, "Process", function=function)

    def connect(self, other: DataStream) -> ConnectedStreams:
        """Two streams into one operator with two inputs: ``a.connect(b).process(CoProcessFunction)``;
        key both (``.key_by(ka, kb)``, or connect two KeyedStreams) for shared keyed state and timers."""
        return ConnectedStreams(self, other)

    def join(self, other: DataStream) -> JoinedStreams:
        """Window join: ``a.join(b).where(ka).equal_to(kb).window(assigner).apply(join_function)``
        emits ``join_function(x, y)`` for every pair of a key's elements in the same window."""
        return JoinedStreams(self, other)

    def sink_to(self, sink: KafkaSink | CollectSink) -> DataStream:
        """Write the stream to ``sink``: a KafkaSink, or in tests a CollectSink (``results[name]``)."""
        name = sink.name if isinstance(sink, CollectSink) else "Kafka Sink"
        return self._then(SINK, name, connector=sink)

    def set_parallelism(self, parallelism: int) -> DataStream:
        self._node.parallelism = parallelism
        return self

    def name(self, name: str) -> DataStream:
        self._node.name = name
        return self

    def uid(self, uid: str) -> DataStream:
        """Stable operator id (savepoints match state by it)."""
        self._node.uid = uid
        return self

    def disable_chaining(self) -> DataStream:
        self._node.chaining = False
        return self

    def start_new_chain(self) -> DataStream:
        self._node.start_new_chain = True
        return self

    def set_error_policy(self, policy: ErrorPolicy) -> DataStream:
        """This operator's :class:`~strom.graph.stream_graph.ErrorPolicy`. It applies to the whole
        chain the operator runs in (FAIL wins when chained operators disagree): use
        ``start_new_chain()`` to give an operator a policy of its own."""
        self._node.error_policy = ErrorPolicy(policy)
        return self


def _field_aggregate(position: int | str, combine: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """A reduce function combining field ``position`` of tuples, lists or dicts."""

    def reduce(acc: Any, value: Any) -> Any:
        if isinstance(acc, dict):
            return {**acc, position: combine(acc[position], value[position])}
        if isinstance(acc, (tuple, list)):
            assert isinstance(position, int), f"field {position!r} of a tuple or list must be an index"
            merged = list(acc)
            merged[position] = combine(acc[position], value[position])
            return type(acc)(merged)
        return combine(acc, value)

    return reduce


class KeyedStream(DataStream):
    """A stream partitioned by key; reduce-style operators keep one state value per key."""

    def __init__(self, env: StreamExecutionEnvironment, inputs: list[tuple[int, str | None]],
                 key_selector: Callable[[Any], Any]) -> None:
        super().__init__(env, inputs, HASH)
        self._key_selector = key_selector

    def _then(self, kind: str, name: str, **fields: Any) -> DataStream:
        node = self._env._add(kind, name, self._inputs, partitioner=HASH,
                              key_selector=self._key_selector, **fields)
        return DataStream(self._env, [(node.id, None)])

    def reduce(self, func: Callable[[Any, Any], Any]) -> DataStream:
        """Emit the running reduction per key for every element: ``func(acc, element)``."""
        return self._then(REDUCE, "Reduce", function=func)

    def sum(self, position: int | str = 0) -> DataStream:
        """Running sum of field ``position`` per key (other fields from the first element)."""
        return self._then(REDUCE, "Sum", function=_field_aggregate(position, operator.add))

    def min(self, position: int | str = 0) -> DataStream:
        return self._then(REDUCE, "Min", function=_field_aggregate(position, min))

    def max(self, position: int | str = 0) -> DataStream:
        return self._then(REDUCE, "Max", function=_field_aggregate(position, max))

    def window(self, assigner: WindowAssigner) -> WindowedStream:
        """Group each key's elements into windows, e.g. ``TumblingEventTimeWindows.of(5000)``."""
        if not isinstance(assigner, WindowAssigner):
            raise InvalidJobGraphError(f"window(...) needs a WindowAssigner such as "
                                       f"TumblingEventTimeWindows.of(ms), got {assigner!r}")
        return WindowedStream(self, assigner)

    def count_window(self, size: int, slide: int | None = None) -> WindowedStream:
        """Windows of ``size`` elements per key (fired and purged when full); with ``slide``, the last
        ``size`` elements every ``slide`` elements. GlobalWindows with a CountTrigger, as Flink."""
        if slide is None:
            return self.window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(size)))
        return (self.window(GlobalWindows.create()).evictor(CountEvictor.of(size))
                .trigger(CountTrigger.of(slide)))

    def process(self, function: Any) -> DataStream:
        """A KeyedProcessFunction (or ProcessFunction) per key, with keyed state and timers."""
        return self._then(PROCESS, "KeyedProcess", function=function)

    def interval_join(self, other: KeyedStream) -> IntervalJoin:
        """Join each element of this stream with ``other``'s elements of the same key whose
        timestamps lie in ``[ts + lower, ts + upper]``: ``.between(lower_ms, upper_ms).process(f)``."""
        if not isinstance(other, KeyedStream):
            raise InvalidJobGraphError("interval_join needs a KeyedStream: other.key_by(...)")
        return IntervalJoin(self, other)


class WindowedStream:
    """A keyed stream cut into windows; a window function turns each window into results.

    Windows fire when the watermark passes their end; elements later than
    ``allowed_lateness`` behind the watermark are dropped (and counted).
    """

    def __init__(self, keyed: KeyedStream, assigner: WindowAssigner) -> None:
        self._keyed, self._assigner, self._lateness_ms = keyed, assigner, 0
        self._late_tag: str | None = None
        self._trigger: Trigger | None = None
        self._evictor: Evictor | None = None

    def trigger(self, trigger: Trigger) -> WindowedStream:
        """Replace the assigner's default trigger (e.g. ``CountTrigger.of(100)``)."""
        if getattr(self._assigner, "merging", False) and not trigger.can_merge():
            raise InvalidJobGraphError(f"{trigger!r} cannot be used with merging windows ({self._assigner!r})")
        self._trigger = trigger
        return self

    def evictor(self, evictor: Evictor) -> WindowedStream:
        """Remove elements before/after the window function runs (keeps all elements in state)."""
        self._evictor = evictor
        return self

    def allowed_lateness(self, lateness_ms: int) -> WindowedStream:
        """Keep window state this long past the window's end; late elements re-fire the window."""
        self._lateness_ms = int(lateness_ms)
        return self

    def side_output_late_data(self, tag: Any) -> WindowedStream:
        """Send elements later than the allowed lateness to side output ``tag`` instead of dropping them."""
        self._late_tag = tag.name
        return self

    def _function(self, kind: str, name: str, function: Any, window_function: Any = None) -> DataStream:
        if getattr(self._assigner, "event_time", True) is False and self._lateness_ms:
            raise InvalidJobGraphError("allowed_lateness applies to event-time windows only")
        return self._keyed._then(WINDOW, name, function=function, window=self._assigner,
                                 window_function=kind, window_process=window_function,
                                 allowed_lateness_ms=self._lateness_ms, late_output_tag=self._late_tag,
                                 trigger=self._trigger, evictor=self._evictor)

    def reduce(self, function: Callable[[Any, Any], Any], window_function: Any = None) -> DataStream:
        """One result per key and window: the reduction of its elements (incremental). With
        ``window_function`` (a ProcessWindowFunction), that gets ``[reduced]`` plus the window."""
        return self._function("reduce", "Window(Reduce)", function, window_function)

    def aggregate(self, function: Any, window_function: Any = None) -> DataStream:
        """An AggregateFunction (create_accumulator/add/get_result/merge) per key and window; with
        ``window_function``, a ProcessWindowFunction gets ``[result]`` plus the window."""
        return self._function("aggregate", "Window(Aggregate)", function, window_function)

    def process(self, function: Any) -> DataStream:
        """A ProcessWindowFunction: ``process(key, context, elements)`` with the whole window."""
        return self._function("process", "Window(Process)", function)

    def apply(self, function: Any) -> DataStream:
        """A WindowFunction: ``apply(key, window, elements)`` with the whole window."""
        return self._function("process", "Window(Apply)", function)


class ConnectedStreams:
    """Two streams feeding one two-input operator (``first.connect(second)``)."""

    def __init__(self, first: DataStream, second: DataStream) -> None:
        self.first, self.second = first, second

    def key_by(self, key_selector1: Callable[[Any], Any], key_selector2: Callable[[Any], Any]
               ) -> ConnectedStreams:
        """Partition both inputs by key, so one key's elements of both meet in one subtask."""
        return ConnectedStreams(self.first.key_by(key_selector1), self.second.key_by(key_selector2))

    def _keys(self) -> tuple[Callable, Callable] | None:
        keyed = [isinstance(s, KeyedStream) for s in (self.first, self.second)]
        if keyed[0] != keyed[1]:
            raise InvalidJobGraphError("connect: key both streams or neither (ConnectedStreams.key_by(k1, k2))")
        if not (isinstance(self.first, KeyedStream) and isinstance(self.second, KeyedStream)):
            return None
        return self.first._key_selector, self.second._key_selector

    def process(self, function: CoProcessFunction) -> DataStream:
        """A CoProcessFunction, or on keyed inputs a KeyedCoProcessFunction (keyed state, timers)."""
        keys = self._keys()
        if keys is None and isinstance(function, KeyedCoProcessFunction):
            raise InvalidJobGraphError(f"{type(function).__name__} is a KeyedCoProcessFunction: "
                                       f"connect two KeyedStreams or call key_by(k1, k2) first")
        name = "KeyedCoProcess" if keys else "CoProcess"
        node = self.first._env._add_two_input(name, self.first, self.second, function, keys)
        return DataStream(self.first._env, [(node.id, None)])


class JoinedStreams:
    """``a.join(b).where(ka).equal_to(kb).window(assigner).apply(f)``: Flink's window join, built
    as Flink builds it (both inputs tagged, unioned, keyed and windowed; pairs made per window)."""

    def __init__(self, first: DataStream, second: DataStream) -> None:
        self.first, self.second = first, second
        self._keys: list[Callable[[Any], Any]] = []
        self._assigner: WindowAssigner | None = None

    def where(self, key_selector: Callable[[Any], Any]) -> JoinedStreams:
        self._keys = [key_selector]
        return self

    def equal_to(self, key_selector: Callable[[Any], Any]) -> JoinedStreams:
        if len(self._keys) != 1:
            raise InvalidJobGraphError("join: call where(key_selector) before equal_to(key_selector)")
        self._keys.append(key_selector)
        return self

    def window(self, assigner: WindowAssigner) -> JoinedStreams:
        if len(self._keys) != 2:
            raise InvalidJobGraphError("join: call where(...).equal_to(...) before window(...)")
        self._assigner = assigner
        return self

    def apply(self, join_function: Any) -> DataStream:
        """``join_function(first, second)`` (or a JoinFunction) for every pair in a window."""
        if self._assigner is None:
            raise InvalidJobGraphError("join: call window(assigner) before apply(...)")
        first = self.first.map(tag_input(1)).name("Join(tag input 1)")
        second = self.second.map(tag_input(2)).name("Join(tag input 2)")
        return (first.union(second).key_by(tagged_key(*self._keys)).window(self._assigner)
                .process(WindowJoinFunction(join_function)).name("Window(Join)"))


class IntervalJoin:
    """``a.key_by(ka).interval_join(b.key_by(kb)).between(lower_ms, upper_ms).process(f)``."""

    def __init__(self, first: KeyedStream, second: KeyedStream) -> None:
        self.first, self.second = first, second
        self._bounds: tuple[int, int] | None = None
        self._exclusive = [False, False]
        self._late_tags: list[Any] = [None, None]

    def between(self, lower_ms: int, upper_ms: int) -> IntervalJoin:
        """Pair ``a`` at ts with ``b`` at ``ts + lower_ms <= b_ts <= ts + upper_ms``."""
        if lower_ms > upper_ms:
            raise InvalidJobGraphError(f"interval join: lower bound {lower_ms} ms > upper bound {upper_ms} ms")
        self._bounds = (int(lower_ms), int(upper_ms))
        return self

    def side_output_left_late_data(self, tag: Any) -> IntervalJoin:
        """Left elements behind the watermark go to side output ``tag`` instead of being dropped."""
        self._late_tags[0] = tag
        return self

    def side_output_right_late_data(self, tag: Any) -> IntervalJoin:
        self._late_tags[1] = tag
        return self

    def lower_bound_exclusive(self) -> IntervalJoin:
        self._exclusive[0] = True
        return self

    def upper_bound_exclusive(self) -> IntervalJoin:
        self._exclusive[1] = True
        return self

    def process(self, function: Any) -> DataStream:
        """A ProcessJoinFunction: ``process_element(left, right, ctx)`` yields outputs per pair."""
        if self._bounds is None:
            raise InvalidJobGraphError("interval_join: call between(lower_ms, upper_ms) before process(...)")
        lower, upper = self._bounds
        lower += self._exclusive[0]
        upper -= self._exclusive[1]
        return (ConnectedStreams(self.first, self.second)
                .process(IntervalJoinFunction(lower, upper, function, tuple(self._late_tags))).name("IntervalJoin"))
