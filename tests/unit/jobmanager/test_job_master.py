"""A JobMaster through its life: deploy, task reports, failover, cancel, record.

It runs on in-memory stores, a recording control channel and a ManualClock: no Kafka, no Redis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from strom.api import (
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    RestartStrategies,
    StreamExecutionEnvironment,
)
from strom.checkpoint.memory_store import InMemoryCheckpointStore
from strom.clock import ManualClock
from strom.control.roles import Role
from strom.errors import IllegalTransitionError, JobStateError
from strom.io.kafka import KafkaPartition
from strom.jobmanager.failover import CANCEL_WAIT_MS
from strom.jobmanager.job_master import JobMaster
from strom.jobmanager.job_store import InMemoryJobStore
from strom.states import JobStatus


@dataclass
class Sent:
    to_role: str
    kind: str
    body: dict[str, Any]
    target_id: str | None


class RecordingChannel:
    """Keeps what the JobMaster sends (through its gateways), in order."""

    sender_role = Role.JOBMANAGER

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def send(self, to_role, kind, body, *, target_id=None, fenced=False):
        assert fenced, f"{kind} must carry the leader's fencing token"
        self.sent.append(Sent(to_role, kind, dict(body), target_id))

    def take(self, kind: str) -> list[Sent]:
        """The messages of ``kind`` sent since the last take of it."""
        taken = [m for m in self.sent if m.kind == kind]
        self.sent = [m for m in self.sent if m.kind != kind]
        return taken


@dataclass
class FakeResources:
    """JobResources without Kafka: topics are 'created' and 'deleted' in lists."""

    marker_topic: str = "strom.c.sink-markers"
    created: int = 0
    deleted: int = 0
    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    trimmed: list[dict[tuple[str, int], int]] = field(default_factory=list)

    def create_topics(self) -> None:
        self.created += 1

    def intermediate_ends(self) -> dict[tuple[str, int], int]:
        return dict(self.ends)

    def delete_intermediate_topics(self) -> None:
        self.deleted += 1

    def trim_intermediate(self, offsets: dict[tuple[str, int], int]) -> None:
        self.trimmed.append(dict(offsets))


class Harness:
    """Drives one JobMaster the way the JobManager endpoint and the TaskManagers would."""

    def __init__(self, checkpointing: bool = False, restart=None) -> None:
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        if checkpointing:
            env.enable_checkpointing(500)
        env.set_restart_strategy(restart or RestartStrategies.fixed_delay_restart(3, 1000))
        (env.from_source(KafkaSource.builder().set_topics("in").build(), source_name="lines")
            .flat_map(str.split).key_by(lambda w: w).sum(1)
            .sink_to(KafkaSink.builder().set_record_serializer(
                KafkaRecordSerializationSchema.builder().set_topic("out").build()).build()))
        self.job_graph = env.get_job_graph("wc")
        self.clock = ManualClock(wall_ms=1_700_000_000_000)
        self.channel = RecordingChannel()
        self.store = InMemoryJobStore()
        self.checkpoints = InMemoryCheckpointStore(self.clock)
        self.resources = FakeResources()
        self.ended: list[JobMaster] = []
        self.jm = self.job_master()

    def job_master(self) -> JobMaster:
        jm = JobMaster(self.job_graph, self.channel, "c", "127.0.0.1:1", 10_000, store=self.store,
                       on_terminal=self.ended.append, checkpoints=self.checkpoints, clock=self.clock,
                       resources=self.resources)
        jm.attempt.deployments.read_ends = lambda _bootstrap, topics, *_: {t: {0: (0, 0), 1: (0, 0)} for t in topics}
        jm.attempt.deployments.read_limits = lambda _bootstrap, topics: {t: 200 for t in topics}
        return jm

    def grant_slots(self, tm_id: str = "tm-1") -> list[Sent]:
        """Offer a slot for every SlotRequest sent; returns the DeployTask messages."""
        for i, request in enumerate(self.channel.take("SlotRequest")):
            self.jm.on_slot_offer({"allocation_id": request.body["allocation_id"], "tm_id": tm_id,
                                   "slot_index": i, "job_id": self.jm.job_id})
        return self.channel.take("DeployTask")

    def executions(self) -> list[str]:
        return [s.execution_id for s in self.jm.attempt.graph.subtasks()]

    def report(self, execution_id: str, state: str, error: str | None = None, tm_id: str = "tm-1",
               cause: str | None = None) -> None:
        """A TaskExecutionState body as the codec decodes it (``cause``: the Avro enum's symbol)."""
        self.jm.on_task_state({"execution_id": execution_id, "state": state, "error": error, "tm_id": tm_id,
                               "cause": cause or ("EXCEPTION" if state == "FAILED" else None)})

    def report_all(self, state: str) -> None:
        for execution_id in self.executions():
            self.report(execution_id, state)

    def complete_checkpoint(self, offsets=lambda subtask: b"{}") -> int:
        """The sources start a checkpoint, every task stores its snapshot (``offsets(subtask)``: the
        JSON of its input offsets) and acks (as in Redis)."""
        attempt = self.jm.attempt.generation
        newest_started = self.checkpoints.progress()[0]  # a source that took part in it starts the next
        checkpoint_id = self.checkpoints.claim(attempt, newest_started, self.clock.wall_ms(), 60_000)
        tasks = self.jm.attempt.graph.subtasks()
        for subtask in tasks:
            self.checkpoints.write_snapshot(checkpoint_id, subtask.vertex_id, subtask.subtask_index,
                                            {"offsets": offsets(subtask)})
            completed = self.checkpoints.acknowledge(attempt, checkpoint_id, subtask.execution_id, 2,
                                                     len(tasks), self.clock.wall_ms())
            self.jm.on_acknowledge({"checkpoint_id": checkpoint_id, "completed": completed})
        return checkpoint_id


def descriptor(message: Sent) -> dict[str, Any]:
    return json.loads(message.body["descriptor_json"])


@pytest.fixture
def harness() -> Harness:
    return Harness()



def test_deploys_once_every_slot_is_granted_and_finishes_when_every_task_did(harness: Harness):
    jm = harness.jm
    jm.start()
    assert jm.state == JobStatus.RUNNING and harness.resources.created == 1
    requests = [m.body["allocation_id"] for m in harness.channel.sent if m.kind == "SlotRequest"]
    assert requests == [f"{jm.job_id[:12]}-g0-slot0", f"{jm.job_id[:12]}-g0-slot1"]
    deployed = harness.grant_slots()
    assert sorted(m.body["execution_id"] for m in deployed) == sorted(harness.executions())
    assert {m.target_id for m in deployed} == {"tm-1"}
    harness.report_all("RUNNING")
    assert harness.store.record(jm.job_id).status == JobStatus.RUNNING
    harness.report_all("FINISHED")
    assert jm.state == JobStatus.FINISHED and harness.ended == [jm]
    assert jm.end_time == harness.clock.wall_ms() and harness.resources.deleted == 1
    assert len(harness.channel.take("FreeSlot")) == 2
    assert harness.store.details(jm.job_id)["state"] == "FINISHED"


def test_a_task_failure_restarts_from_the_latest_checkpoint_once_the_old_tasks_stopped():
    harness = Harness(checkpointing=True)
    jm = harness.jm
    jm.start()
    harness.grant_slots()
    harness.report_all("RUNNING")
    first, latest = harness.complete_checkpoint(), harness.complete_checkpoint()
    assert harness.checkpoints.completed_ids() == [first, latest]
    assert harness.channel.take("NotifyCheckpointComplete")
    failed, *others = harness.executions()
    harness.report(failed, "FAILED", "ValueError: bad record")
    assert jm.state == JobStatus.RESTARTING
    assert sorted(m.body["execution_id"] for m in harness.channel.take("CancelTask")) == sorted(others)
    harness.clock.advance(1000)  # the fixed delay
    jm.tick()
    assert jm.state == JobStatus.RESTARTING  # the failed attempt's tasks have not stopped yet
    for execution_id in others:
        harness.report(execution_id, "CANCELED")
    jm.tick()
    assert jm.state == JobStatus.RUNNING and jm.attempt.generation == 1 and jm.attempt.restored_from == latest
    deployed = harness.grant_slots()
    assert {descriptor(m)["restore"]["checkpoint_id"] for m in deployed} == {latest}
    assert all(m.body["execution_id"].endswith("#1") for m in deployed)
    assert harness.checkpoints.progress()[2] == 1  # only the new attempt may checkpoint
    details = jm.details()
    assert (details["restarts"], details["restored-checkpoint"]) == (1, latest)
    assert details["failures"] == [f"task {failed} failed on tm-1: ValueError: bad record"]


def test_a_completed_checkpoint_trims_the_intermediate_partitions_its_readers_passed():
    harness = Harness(checkpointing=True)
    harness.jm.start()
    harness.grant_slots()
    harness.report_all("RUNNING")
    (edge,) = [e.topic("c", harness.jm.job_id) for e in harness.job_graph.edges]
    sources = {v.id for v in harness.job_graph.vertices if v.is_source}

    def offsets(subtask) -> bytes:
        if subtask.vertex_id in sources:
            return b'{"in:0": 3}'
        return f'{{"{edge}:{subtask.subtask_index}": {7 + subtask.subtask_index}}}'.encode()
    harness.complete_checkpoint(offsets)
    # The readers' input offsets: sources' inputs are the user's topics, never trimmed.
    assert harness.resources.trimmed == [{KafkaPartition(edge, 0): 7, KafkaPartition(edge, 1): 8}]


def test_a_corrupted_checkpoint_is_passed_over_at_the_next_restart():
    harness = Harness(checkpointing=True)
    jm = harness.jm
    jm.start()
    harness.grant_slots()
    harness.report_all("RUNNING")
    older, newer = harness.complete_checkpoint(), harness.complete_checkpoint()
    harness.report(harness.executions()[0], "FAILED", "ValueError: x")
    harness.clock.advance(CANCEL_WAIT_MS + 1000)  # the others never answer: go on after CANCEL_WAIT_MS
    jm.tick()
    assert jm.attempt.restored_from == newer
    harness.grant_slots()
    harness.report(harness.executions()[0], "FAILED", f"CheckpointCorruptedError: chk {newer} of v1[0]",
                   cause="CHECKPOINT_CORRUPTED")
    harness.clock.advance(CANCEL_WAIT_MS + 1000)
    jm.tick()
    assert jm.attempt.generation == 2 and jm.attempt.restored_from == older


def test_the_restart_strategy_gives_up_and_the_job_fails():
    harness = Harness(restart=RestartStrategies.no_restart())
    jm = harness.jm
    jm.start()
    harness.grant_slots()
    harness.report_all("RUNNING")
    failed, *others = harness.executions()
    harness.report(failed, "FAILED", "ValueError: x")
    assert jm.state == JobStatus.FAILING and jm.error == f"task {failed} failed on tm-1: ValueError: x"
    for execution_id in others:
        harness.report(execution_id, "CANCELED")
    assert jm.state == JobStatus.FAILED and harness.ended == [jm]


def test_cancel_cancels_every_task_then_the_job(harness: Harness):
    jm = harness.jm
    jm.start()
    harness.grant_slots()
    harness.report_all("RUNNING")
    jm.cancel()
    assert jm.state == JobStatus.CANCELING
    assert len(harness.channel.take("CancelTask")) == len(harness.executions())
    jm.cancel()  # again: nothing more
    assert not harness.channel.take("CancelTask")
    harness.report_all("CANCELED")
    assert jm.state == JobStatus.CANCELED and harness.ended == [jm]
    with pytest.raises(JobStateError, match="is CANCELED"):
        jm.trigger_savepoint()
    with pytest.raises(IllegalTransitionError):
        jm._transition(JobStatus.RUNNING)


def test_slots_not_granted_in_time_fail_the_attempt(harness: Harness):
    jm = harness.jm
    jm.start()
    request = harness.channel.take("SlotRequest")[0]
    jm.on_slot_request_failed({"allocation_id": request.body["allocation_id"], "reason": "no free slot"})
    harness.clock.advance(500)
    jm.tick()
    assert [m.body["allocation_id"] for m in harness.channel.take("SlotRequest")] == [request.body["allocation_id"]]
    harness.clock.advance(10_000)
    jm.tick()
    assert jm.state == JobStatus.RESTARTING
    assert jm.failover.failure_history == ["not enough slots: need 2, have 0 after 10 s (no free slot)"]


def test_an_offer_nobody_asked_for_is_freed(harness: Harness):
    harness.jm.start()
    harness.jm.on_slot_offer({"allocation_id": "someone-else", "tm_id": "tm-9", "slot_index": 0})
    assert [(m.target_id, m.body["allocation_id"]) for m in harness.channel.take("FreeSlot")] == \
        [("tm-9", "someone-else")]


def test_the_record_is_what_recovery_reads_and_the_rest_body_is_apart(harness: Harness):
    jm = harness.jm
    jm.start()
    harness.grant_slots()
    harness.report_all("RUNNING")
    record = harness.store.record(jm.job_id)
    assert record == jm.record()
    assert (record.status, record.attempt, record.start_time) == (JobStatus.RUNNING, 0, jm.start_time)
    assert record.source_partitions == jm.attempt.source_partitions
    details = harness.store.details(jm.job_id)
    assert {"jid", "state", "vertices", "restored-checkpoint", "source-partitions"} <= set(details)
    # A new leader takes the job over from the record alone (the REST body could say anything).
    harness.store.stored_details[jm.job_id] = {"renamed": True}
    successor = harness.job_master()
    successor.recover(harness.store.record(jm.job_id))
    assert successor.state == JobStatus.RECONCILING and successor.start_time == jm.start_time
    reports = [{"job_id": jm.job_id, "execution_id": s.execution_id, "tm_id": "tm-1",
                "allocation_id": jm.slot_pool.grants[s.slot_index].allocation_id, "slot_index": s.slot_index,
                "state": "RUNNING", "end_of_data": False} for s in jm.attempt.graph.subtasks()]
    assert successor.reported_all(reports)
    successor.reconcile(reports)
    assert successor.state == JobStatus.RUNNING and successor.attempt.generation == 0
    assert not harness.channel.take("FreeSlot")
    assert [g.allocation_id for g in successor.slot_pool.grants] == [g.allocation_id for g in jm.slot_pool.grants]
