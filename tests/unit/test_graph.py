"""StreamGraph -> JobGraph chaining and ExecutionGraph shape, without a cluster."""

import pytest

from strom.api import (
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    StreamExecutionEnvironment,
)
from strom.errors import InvalidJobGraphError
from strom.graph.execution_graph import ExecutionGraph


def source(topic="in"):
    return KafkaSource.builder().set_topics(topic).build()


def sink(topic="out"):
    return KafkaSink.builder().set_record_serializer(
        KafkaRecordSerializationSchema.builder().set_topic(topic).build()).build()


def env(parallelism=2):
    e = StreamExecutionEnvironment.get_execution_environment()
    e.set_parallelism(parallelism)
    return e


def names(job_graph):
    return [[op.name for op in v.operators] for v in job_graph.vertices]


def test_wordcount_chains_source_with_flat_map_and_sum_with_sink():
    e = env()
    (e.from_source(source(), source_name="lines").flat_map(str.split).name("split")
      .key_by(lambda w: w).sum(1).name("count").sink_to(sink()).name("out"))
    job = e.get_job_graph("wc")
    assert names(job) == [["lines", "split"], ["count", "out"]]
    (edge,) = job.edges
    assert edge.partitioner == "hash" and edge.partitions == 128
    assert job.vertices[1].inputs == [edge] and job.vertices[0].outputs == [edge]
    assert edge.topic("c1", job.job_id) == f"strom.c1.job.{job.job_id}.{edge.id}"


def test_parallelism_change_breaks_the_chain_with_a_rebalance_edge():
    e = env(2)
    e.from_source(source()).map(str.upper).set_parallelism(3).sink_to(sink()).set_parallelism(3)
    job = e.get_job_graph("j")
    assert names(job) == [["Kafka Source"], ["Map", "Kafka Sink"]]
    (edge,) = job.edges
    assert edge.partitioner == "rebalance" and edge.partitions == 3


def test_chaining_can_be_disabled_per_job_and_per_operator():
    e = env()
    e.disable_operator_chaining()
    e.from_source(source()).map(str.upper).sink_to(sink())
    assert len(e.get_job_graph("j").vertices) == 3
    e = env()
    e.from_source(source()).map(str.upper).start_new_chain().filter(bool).sink_to(sink())
    job = e.get_job_graph("j")
    assert names(job) == [["Kafka Source"], ["Map", "Filter", "Kafka Sink"]]
    assert job.edges[0].partitioner == "forward" and job.edges[0].partitions == 2


def test_union_and_fan_out_are_not_chained():
    e = env()
    a, b = e.from_source(source("a")), e.from_source(source("b"))
    merged = a.union(b).map(str.upper)
    merged.sink_to(sink("x"))
    merged.sink_to(sink("y"))
    job = e.get_job_graph("j")
    assert sorted(map(tuple, names(job))) == [("Kafka Sink",), ("Kafka Sink",), ("Kafka Source",),
                                              ("Kafka Source",), ("Map",)]
    assert len(job.edges) == 4


def test_execution_graph_of_three_operators_at_mixed_parallelism():
    e = env()
    (e.from_source(source()).set_parallelism(1)
      .map(str.upper).set_parallelism(3)
      .sink_to(sink()).set_parallelism(2))
    job = e.get_job_graph("j")
    graph = ExecutionGraph.from_job_graph(job)
    shape = [(jv.job_vertex.name, [s.execution_id for s in jv.subtasks]) for jv in graph.job_vertices]
    v1, v2, v3 = (v.id for v in job.vertices)
    assert shape == [("Kafka Source", [f"{v1}[0]#0"]),
                     ("Map", [f"{v2}[0]#0", f"{v2}[1]#0", f"{v2}[2]#0"]),
                     ("Kafka Sink", [f"{v3}[0]#0", f"{v3}[1]#0"])]
    assert job.slots_needed == 3
    assert [s.slot_index for s in graph.subtasks()] == [0, 0, 1, 2, 0, 1]
    assert all(s.state == "CREATED" for s in graph.subtasks())


@pytest.mark.parametrize("build, message", [
    (lambda e: e.from_source(source()).map(str.upper), "no sink"),
    (lambda e: None, "no source"),
    (lambda e: e.from_source(source()).set_parallelism(200).sink_to(sink()), "parallelism 200"),
    (lambda e: e.from_source(source()).uid("x").map(str).uid("x").sink_to(sink()), "uids must be unique"),
])
def test_invalid_graphs_are_rejected_with_the_reason(build, message):
    e = env()
    build(e)
    with pytest.raises(InvalidJobGraphError, match=message):
        e.get_job_graph("bad")


def test_keyed_sum_on_tuples_and_dicts():
    from strom.api.datastream import _field_aggregate
    add = _field_aggregate(1, lambda a, b: a + b)
    assert add(("god", 2), ("god", 1)) == ("god", 3)
    assert _field_aggregate("n", max)({"k": 1, "n": 2}, {"k": 1, "n": 5}) == {"k": 1, "n": 5}


def test_connect_makes_a_two_input_vertex_with_numbered_keyed_inputs():
    from strom.api import KeyedCoProcessFunction

    class Match(KeyedCoProcessFunction):
        def process_element1(self, value, ctx):
            yield value

        def process_element2(self, value, ctx):
            yield value

    e = env()
    a = e.from_source(source("a"), source_name="a")
    b = e.from_source(source("b"), source_name="b")
    a.connect(b).key_by(lambda x: x[0], lambda y: y[1]).process(Match()).sink_to(sink())
    job = e.get_job_graph("co")
    assert names(job) == [["a"], ["b"], ["KeyedCoProcess", "Kafka Sink"]]
    inputs = job.vertices[2].inputs
    assert [(edge.source_vertex, edge.type_number, edge.partitioner) for edge in inputs] == [
        ("v1", 1, "hash"), ("v2", 2, "hash")]
    node = job.vertices[2].operators[0]
    assert node.key_selector(("k", "z")) == "k" and node.key_selector2(("k", "z")) == "z"


def test_misused_multi_stream_and_window_apis_fail_with_a_named_cause():
    from strom.api import KeyedCoProcessFunction, KeyedProcessFunction
    e = env()
    a = e.from_source(source("a"))
    b = e.from_source(source("b"))
    with pytest.raises(InvalidJobGraphError, match="KeyedCoProcessFunction: connect two KeyedStreams"):
        a.connect(b).process(KeyedCoProcessFunction())
    with pytest.raises(InvalidJobGraphError, match="key both streams or neither"):
        a.key_by(lambda x: x).connect(b).process(KeyedCoProcessFunction())
    with pytest.raises(InvalidJobGraphError, match="call key_by"):
        a.process(KeyedProcessFunction())
    with pytest.raises(InvalidJobGraphError, match="needs a WindowAssigner"):
        a.key_by(lambda x: x).window(5000)
    with pytest.raises(InvalidJobGraphError, match="lower bound 5 ms > upper bound 1 ms"):
        a.key_by(lambda x: x).interval_join(b.key_by(lambda y: y)).between(5, 1)
    with pytest.raises(InvalidJobGraphError, match="before window"):
        a.join(b).where(lambda x: x).window(None)


def test_key_by_union_and_rebalance_of_a_side_output_read_that_side_output():
    from strom.api import OutputTag, ProcessFunction
    tag = OutputTag("odd")
    e = env()
    main = e.from_source(source(), source_name="src").process(ProcessFunction()).name("split")
    main.get_side_output(tag).key_by(lambda v: v).reduce(lambda a, b: a + b).name("keyed").sink_to(sink())
    main.get_side_output(tag).union(main).map(str).name("union").sink_to(sink())
    main.get_side_output(tag).rebalance().map(str).name("rebalanced").sink_to(sink())
    graph = e.get_stream_graph("side")
    into = {}
    for edge in graph.edges:
        if graph.nodes[edge.source_id].name == "split":
            into.setdefault(graph.nodes[edge.target_id].name, []).append(edge.side_output)
    assert into == {"keyed": ["odd"], "union": ["odd", None], "rebalanced": ["odd"]}
