"""A new JobManager leader re-attaches a job as soon as every subtask was reported."""

from strom.api import (
    KafkaRecordSerializationSchema, KafkaSink, KafkaSource, StreamExecutionEnvironment)
from strom.jobmanager.job_master import JobMaster


def job_master() -> JobMaster:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    (env.from_source(KafkaSource.builder().set_topics("in").build(), source_name="lines")
        .flat_map(str.split).key_by(lambda w: w).sum(1)
        .sink_to(KafkaSink.builder().set_record_serializer(
            KafkaRecordSerializationSchema.builder().set_topic("out").build()).build()))
    return JobMaster(env.get_job_graph("wc"), None, "c", "127.0.0.1:1", 1.0,
                     persist=lambda *_a, **_k: None, on_terminal=lambda _jm: None, checkpoints=None)


def report(jm: JobMaster, execution_id: str, job_id: str | None = None) -> dict:
    return {"job_id": job_id or jm.job_id, "execution_id": execution_id, "tm_id": "tm",
            "allocation_id": "a", "slot_index": 0, "state": "RUNNING", "end_of_data": False}


def test_reported_all_needs_every_subtask_of_this_job():
    jm = job_master()
    executions = [s.execution_id for s in jm.graph.subtasks()]
    assert len(executions) == 4
    assert not jm.reported_all([])
    assert not jm.reported_all([report(jm, e) for e in executions[:-1]])
    # Another job's report of the same execution id does not count.
    assert not jm.reported_all([report(jm, e) for e in executions[:-1]]
                               + [report(jm, executions[-1], job_id="other")])
    assert jm.reported_all([report(jm, e) for e in executions])


def test_reports_of_an_older_attempt_do_not_count():
    jm = job_master()
    old = [report(jm, s.execution_id) for s in jm.graph.subtasks()]
    for subtask in jm.graph.subtasks():
        subtask.attempt = 1  # the job restarted since: v1[0]#1 ...
    assert not jm.reported_all(old)
