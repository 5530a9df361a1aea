"""A new JobManager leader re-attaches a job as soon as every subtask was reported, or says why not."""

from strom.api import KafkaRecordSerializationSchema, KafkaSink, KafkaSource, StreamExecutionEnvironment
from strom.graph.execution_graph import ExecutionGraph
from strom.jobmanager.reconciler import Reconciler
from strom.states import ExecutionState, JobStatus


def graph(attempt: int = 0) -> ExecutionGraph:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    (env.from_source(KafkaSource.builder().set_topics("in").build(), source_name="lines")
        .flat_map(str.split).key_by(lambda w: w).sum(1)
        .sink_to(KafkaSink.builder().set_record_serializer(
            KafkaRecordSerializationSchema.builder().set_topic("out").build()).build()))
    return ExecutionGraph.from_job_graph(env.get_job_graph("wc"), attempt=attempt)


def report(execution_id: str, job_id: str = "job", state: str = "RUNNING") -> dict:
    return {"job_id": job_id, "execution_id": execution_id, "tm_id": "tm", "allocation_id": "a",
            "slot_index": 0, "state": state, "end_of_data": False}


def test_reported_all_needs_every_subtask_of_this_job():
    reconciler, execution_graph = Reconciler("job", JobStatus.RUNNING), graph()
    executions = [s.execution_id for s in execution_graph.subtasks()]
    assert len(executions) == 4
    assert not reconciler.reported_all(execution_graph, [])
    assert not reconciler.reported_all(execution_graph, [report(e) for e in executions[:-1]])
    # Another job's report of the same execution id does not count.
    assert not reconciler.reported_all(execution_graph, [report(e) for e in executions[:-1]]
                                       + [report(executions[-1], job_id="other")])
    assert reconciler.reported_all(execution_graph, [report(e) for e in executions])


def test_reports_of_an_older_attempt_do_not_count():
    reconciler = Reconciler("job", JobStatus.RUNNING)
    old = [report(s.execution_id) for s in graph(attempt=0).subtasks()]
    assert not reconciler.reported_all(graph(attempt=1), old)  # the job restarted since: v1[0]#1 ...


def test_re_attaches_when_everything_runs_where_reported():
    reconciler, execution_graph, locations = Reconciler("job", JobStatus.RUNNING), graph(), {}
    outcome = reconciler.reconcile(execution_graph, locations, [report(s.execution_id)
                                                                for s in execution_graph.subtasks()])
    assert (outcome.status, outcome.reason) == (JobStatus.RUNNING, None)
    assert set(locations.values()) == {"tm"}
    assert all(s.state == ExecutionState.RUNNING for s in execution_graph.subtasks())


def test_restarts_or_ends_the_job_when_it_cannot_re_attach():
    execution_graph = graph()
    first, *rest = [s.execution_id for s in execution_graph.subtasks()]
    reports = [report(first, state="FAILED")] + [report(e) for e in rest[:-1]]
    outcome = Reconciler("job", JobStatus.RUNNING).reconcile(execution_graph, {}, reports)
    assert outcome.status == JobStatus.RESTARTING
    assert outcome.reason == (f"cannot re-attach: job was RUNNING; missing {[rest[-1]]}; "
                              f"not running {sorted([first, rest[-1]])}")
    canceling = Reconciler("job", JobStatus.CANCELING).reconcile(graph(), {}, [])
    assert canceling.status == JobStatus.CANCELED and canceling.reason.startswith("cannot re-attach")
    assert Reconciler("job", JobStatus.FAILING).reconcile(graph(), {}, []).status == JobStatus.FAILED
