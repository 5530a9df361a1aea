"""Run a whole job in this process, with no Kafka, ZooKeeper or Redis: ``run_locally(env)``
(Flink's MiniCluster for tests, Bytewax's ``bytewax.testing``).

The job is built into the JobGraph the cluster would run, and every subtask runs the
cluster's own operator chain, keyed state, timers and watermark code
(:mod:`strom.testing.local_chain`); edges between vertices are in-memory queues routed as the
cluster routes them. Sources are read one element at a time, round-robin over the source
subtasks, and after each element everything it caused downstream is processed, so a run is
deterministic and ``stop_after=k`` snapshots a consistent state: the job after exactly k
source elements, nothing in flight (what an aligned checkpoint holds). A snapshot restores
into a fresh job (``restore=``), matched by operator uids or vertex ids like a savepoint;
keyed state follows its key groups to the subtasks that own them, so a keyed operator may
change its parallelism (its sources may not).

>>> from strom.api import StreamExecutionEnvironment, CollectSink
>>> def job():
...     env = StreamExecutionEnvironment.get_execution_environment()
...     words = env.from_collection(["a", "b", "a", "a"])
...     words.map(lambda w: (w, 1)).key_by(lambda p: p[0]).sum(1).sink_to(CollectSink("counts"))
...     return env
>>> run_locally(job())["counts"]
[('a', 1), ('b', 1), ('a', 2), ('a', 3)]
>>> first = run_locally(job(), stop_after=2)        # a checkpoint after element 2, then a crash
>>> first["counts"]
[('a', 1), ('b', 1)]
>>> run_locally(job(), restore=first.snapshot)["counts"]   # recovered: state survived
[('a', 2), ('a', 3)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from strom.api.connectors import CollectionSource, CollectSink
from strom.api.datastream import StreamExecutionEnvironment
from strom.api.executor import ExecutionContext, execution_context
from strom.graph.job_graph import JobGraph
from strom.graph.stream_graph import SINK, StreamNode
from strom.testing.local_chain import SinkRecord
from strom.testing.local_job import LocalJob, LocalSnapshot
from strom.testing.local_source import DeadLetter

__all__ = ["DeadLetter", "LocalResults", "LocalSnapshot", "SinkRecord", "run_locally", "run_main_locally"]


@dataclasses.dataclass
class LocalResults:
    """What a local run produced, in the order it was produced.

    ``outputs``: sink name -> ``(element, timestamp ms | None)``; a CollectSink's name is the one it
    was given, a KafkaSink's is its topic. ``kafka_records``: topic -> the
    :class:`~strom.testing.local_chain.SinkRecord` a KafkaSink would have written (key and value
    bytes). ``dead_letters``: records that did not deserialize. ``snapshot``: with ``stop_after``,
    the state to restore from (else None). Side outputs are returned by the sinks the job sends
    them to (``stream.get_side_output(tag).sink_to(CollectSink("late"))``).
    """

    outputs: dict[str, list[tuple[Any, int | None]]]
    kafka_records: dict[str, list[SinkRecord]]
    dead_letters: list[DeadLetter]
    snapshot: LocalSnapshot | None = None

    def __getitem__(self, sink: str) -> list[Any]:
        """The elements that reached ``sink``; KeyError naming the job's sinks if there is none."""
        return [element for element, _timestamp in self.timestamped(sink)]

    def timestamped(self, sink: str) -> list[tuple[Any, int | None]]:
        """``(element, timestamp ms | None)`` that reached ``sink``."""
        if sink not in self.outputs:
            raise KeyError(f"no sink {sink!r}; the job's sinks: {sorted(self.outputs)}")
        return list(self.outputs[sink])

    def records(self, topic: str) -> list[SinkRecord]:
        """What the KafkaSink writing ``topic`` would have written."""
        if topic not in self.kafka_records:
            raise KeyError(f"no KafkaSink writes {topic!r}; topics: {sorted(self.kafka_records)}")
        return list(self.kafka_records[topic])


def sink_name(node: StreamNode) -> str:
    """Where a sink's output is found in :class:`LocalResults`: a CollectSink's name, a KafkaSink's topic."""
    connector = node.connector
    if isinstance(connector, CollectSink):
        return connector.name
    return connector.record_serializer.topic


def _source_values(job_graph: JobGraph, sources: Mapping[str, Sequence[Any]]) -> dict[int, list[Any]]:
    """Source node id -> its elements: a collection's, or those given in ``sources`` by the
    source's name (or one of its Kafka topics). Raises ValueError for a source without any and
    for a name in ``sources`` that is not a source of the job."""
    values: dict[int, list[Any]] = {}
    used = set()
    for vertex in job_graph.vertices:
        node = vertex.operators[0]
        if not vertex.is_source:
            continue
        names = [node.name, *getattr(node.connector, "topics", [])]
        given = next((name for name in names if name in sources), None)
        if given is not None:
            values[node.id] = list(sources[given])
            used.add(given)
        elif isinstance(node.connector, CollectionSource):
            values[node.id] = node.connector.elements
        else:
            raise ValueError(f"source {node.name!r} reads Kafka topics {names[1:]}: give its records as "
                             f"run_locally(..., sources={{{node.name!r}: [...]}})")
    unknown = set(sources) - used
    if unknown:
        raise ValueError(f"sources={sorted(unknown)} are not sources of the job (its sources: "
                         f"{[v.operators[0].name for v in job_graph.vertices if v.is_source]})")
    return values


def run_locally(job: StreamExecutionEnvironment | JobGraph, *, sources: Mapping[str, Sequence[Any]] | None = None,
                stop_after: int | None = None, restore: LocalSnapshot | None = None,
                job_name: str = "Local Job") -> LocalResults:
    """Run ``job`` (an environment with its streams, or the JobGraph ``env.execute()`` hands its
    executor) to the end of its input in this process and return what its sinks got.

    ``sources``: elements for sources that read Kafka, by source name (``source_name=``) or topic:
    record values (bytes, or str as UTF-8) that the source's deserializer decodes; its watermark
    strategy's timestamp assigner gets ``(element, -1)``; undecodable ones end in ``dead_letters``.
    ``stop_after``: stop after that many source elements (over all sources) and return a
    ``snapshot``; ``restore``: a snapshot to start from. Raises ValueError for a source without
    elements or a snapshot that does not fit the job; InvalidJobGraphError as ``env.execute()``
    would; what a user function raises (with a note naming the operator chain and element).
    """
    job_graph = job.get_job_graph(job_name) if isinstance(job, StreamExecutionEnvironment) else job
    if stop_after is not None and stop_after < 0:
        raise ValueError(f"stop_after must be >= 0 elements, got {stop_after}")
    values = _source_values(job_graph, sources or {})
    sinks = [op for vertex in job_graph.vertices for op in vertex.operators if op.kind == SINK]
    results = LocalResults({sink_name(node): [] for node in sinks},
                           {sink_name(node): [] for node in sinks if not isinstance(node.connector, CollectSink)}, [])
    local = LocalJob(job_graph, values, results.outputs, results.kafka_records, results.dead_letters, sink_name)
    if restore is not None:
        local.restore(restore)
    results.snapshot = local.run(stop_after)
    return results


def run_main_locally(main: Callable[[list[str]], Any], argv: Sequence[str] = (), *, parallelism: int | None = None,
                     **options: Any) -> LocalResults:
    """Run a job file's ``main(argv)`` (which builds its environment and calls ``env.execute()``)
    with :func:`run_locally` as its executor; ``options`` go to :func:`run_locally`. ``parallelism``:
    the default of its environments, as ``strom run -p``. Raises RuntimeError if ``main`` did not
    call ``execute()``.

    >>> import examples.wordcount as wordcount                     # doctest: +SKIP
    >>> run_main_locally(wordcount.main, ["--output", "counts"],
    ...                  sources={"lines": ["to be or not to be"]}).records("counts")   # doctest: +SKIP
    """
    ran: list[LocalResults] = []

    def executor(job_graph: JobGraph) -> LocalResults:
        ran.append(run_locally(job_graph, **options))
        return ran[-1]

    with execution_context(ExecutionContext(executor=executor, parallelism=parallelism)):
        main(list(argv))
    if not ran:
        raise RuntimeError(f"{getattr(main, '__qualname__', main)} did not call env.execute()")
    return ran[-1]
