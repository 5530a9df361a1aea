"""The TaskManager service loop (Flink's TaskExecutor).

Registers with whichever ResourceManager leads (again after every change of
leader or a DisconnectTaskManager), heartbeats its full slot report every
``heartbeat.interval`` ms, and takes slot allocations from the ResourceManager
leader, offering them to the JobManager leader. Deployed subtasks run as
threads (:class:`~strom.runtime.task.Task`); the job artifact is loaded from
Redis once per job.
"""

from __future__ import annotations

from strom.cluster.endpoint import ControlEndpoint
from strom.config import ClusterOptions, Configuration, HeartbeatOptions, KafkaOptions, TaskManagerOptions
from strom.control.codec import ControlMessage
from strom.coordination.leader_election import LeaderInfo
from strom.graph.artifact import load_artifact
from strom.graph.execution_graph import DEPLOYING, FAILED
from strom.graph.job_graph import JobGraph
from strom.io.redis import redis_client
from strom.jobmanager.job_store import JobStore
from strom.resourcemanager.slot_manager import SlotReport
from strom.runtime.task import Task, TaskCallbacks, TaskDeploymentDescriptor


class TaskManager(ControlEndpoint):
    role = "TASKMANAGER"

    def __init__(self, config: Configuration, instance_id: str | None = None) -> None:
        super().__init__(config, instance_id)
        self.slots = [SlotReport(i) for i in range(config.get(TaskManagerOptions.NUM_SLOTS))]
        self.registered_token: int | None = None  # RM leader epoch that accepted us
        self.redis = redis_client(config)
        self.store = JobStore(self.redis, config.get(ClusterOptions.CLUSTER_ID))
        # (job id, execution id) -> (allocation id, task). Execution ids (v1[0]#0) repeat across
        # jobs, so two jobs sharing this TaskManager must not be keyed by execution id alone.
        self.tasks: dict[tuple[str, str], tuple[str, Task]] = {}
        self._artifacts: dict[str, bytes] = {}  # job id -> cloudpickled JobGraph
        self.every(config.get(HeartbeatOptions.INTERVAL) / 1000.0, self.heartbeat)
        self.every(0.5, self._reap_tasks)

    def _slot_records(self) -> list[dict]:
        return [s.as_record() for s in self.slots]

    def _identity(self) -> dict:
        return {"tm_id": self.id, "host": self.host, "pid": self.pid, "slots": self._slot_records()}

    def register(self) -> None:
        self.channel.send("RESOURCEMANAGER", "RegisterTaskManager", self._identity())

    def heartbeat(self) -> None:
        rm = self.leaders["RESOURCEMANAGER"]
        if rm is None:
            return
        if self.registered_token != rm.token:
            self.register()  # not acknowledged by the current leader yet: ask again
        self.channel.send("RESOURCEMANAGER", "Heartbeat", self._identity())

    def on_leader_change(self, role: str, info: LeaderInfo | None) -> None:
        if role == "RESOURCEMANAGER" and info is not None and info.token != self.registered_token:
            self.log.info("resourcemanager leader changed; registering", rm=info.id, token=info.token)
            self.register()

    def on_TaskManagerRegistered(self, message: ControlMessage) -> None:
        self.registered_token = message.fencing_token
        self.log.info("registered with resourcemanager", rm=message.sender_id,
                      token=message.fencing_token)

    def on_DisconnectTaskManager(self, message: ControlMessage) -> None:
        self.log.warning("disconnected by resourcemanager; releasing all slots",
                         reason=message.body["reason"])
        for _allocation, task in self.tasks.values():
            task.cancel()
        self.tasks.clear()
        self.slots = [SlotReport(s.slot_index) for s in self.slots]
        self.registered_token = None
        self.register()

    def on_AllocateSlot(self, message: ControlMessage) -> None:
        body = message.body
        slot = self.slots[body["slot_index"]] if body["slot_index"] < len(self.slots) else None
        if slot is None or slot.allocation_id not in (None, body["allocation_id"]):
            self.log.warning("cannot take allocation", slot_index=body["slot_index"],
                             allocation_id=body["allocation_id"],
                             held_by=slot.allocation_id if slot else "no such slot")
            return
        slot.allocation_id, slot.job_id = body["allocation_id"], body["job_id"]
        self.log.info("slot allocated", slot_index=slot.slot_index, job_id=slot.job_id,
                      allocation_id=slot.allocation_id)
        self.channel.send("JOBMANAGER", "SlotOffer", {
            "job_id": slot.job_id, "allocation_id": slot.allocation_id,
            "tm_id": self.id, "slot_index": slot.slot_index})
        self.heartbeat()  # report the allocation now, not in up to one interval

    def on_FreeSlot(self, message: ControlMessage) -> None:
        for key, (allocation_id, task) in list(self.tasks.items()):
            if allocation_id == message.body["allocation_id"]:
                task.cancel()
                del self.tasks[key]
        for slot in self.slots:
            if slot.allocation_id == message.body["allocation_id"]:
                self.log.info("slot freed", slot_index=slot.slot_index, job_id=slot.job_id)
                slot.allocation_id = slot.job_id = None
                self.heartbeat()

    # -- tasks ----------------------------------------------------------------------------
    def _job_graph(self, job_id: str) -> JobGraph:
        """A fresh copy of the job's graph: every task gets its own user function objects (as Flink
        deserializes them per task); subtasks sharing one would share the state handles ``open`` sets."""
        if job_id not in self._artifacts:
            artifact = self.store.artifact(job_id)
            if artifact is None:
                raise LookupError(f"no artifact for job {job_id} in Redis")
            self._artifacts[job_id] = artifact
        return load_artifact(self._artifacts[job_id])

    def _report(self, job_id: str, execution_id: str, state: str, error: str | None,
                records_in: int = 0) -> None:
        # Called from task threads too: ControlChannel.send is thread-safe.
        self.channel.send("JOBMANAGER", "TaskExecutionState", {
            "job_id": job_id, "execution_id": execution_id, "tm_id": self.id, "state": state,
            "error": error, "records_in": records_in})

    def on_DeployTask(self, message: ControlMessage) -> None:
        body = message.body
        job_id, execution_id = body["job_id"], body["execution_id"]
        if not any(s.allocation_id == body["allocation_id"] for s in self.slots):
            self._report(job_id, execution_id, FAILED,
                         f"slot {body['allocation_id']} is not allocated on {self.id}")
            return
        try:
            descriptor = TaskDeploymentDescriptor.from_json(body["descriptor_json"])
            vertex = self._job_graph(job_id).vertex(descriptor.vertex_id)
        except Exception as exc:
            self._report(job_id, execution_id, FAILED, f"deployment failed: {type(exc).__name__}: {exc}")
            return
        self._report(job_id, execution_id, DEPLOYING, None)

        def acknowledge(checkpoint_id: int, size: int, completed: bool) -> None:
            self.channel.send("JOBMANAGER", "AcknowledgeCheckpoint", {
                "job_id": job_id, "execution_id": execution_id, "tm_id": self.id,
                "checkpoint_id": checkpoint_id, "state_size": size, "completed": completed})

        def decline(checkpoint_id: int, reason: str) -> None:
            self.channel.send("JOBMANAGER", "DeclineCheckpoint", {
                "job_id": job_id, "execution_id": execution_id, "tm_id": self.id,
                "checkpoint_id": checkpoint_id, "reason": reason})

        task = Task(descriptor, vertex, self.config.get(KafkaOptions.BOOTSTRAP), self.redis, TaskCallbacks(
            report=lambda state, error: self._report(job_id, execution_id, state, error, task.records_in),
            acknowledge=acknowledge, decline=decline))
        self.tasks[(job_id, execution_id)] = (body["allocation_id"], task)
        self.log.info("deploying task", job_id=job_id, execution_id=execution_id, name=vertex.name)
        task.start()

    def on_TriggerCheckpoint(self, message: ControlMessage) -> None:
        body = message.body
        entry = self.tasks.get((body["job_id"], body["execution_id"]))
        if entry is None or not entry[1].is_alive():
            self.channel.send("JOBMANAGER", "DeclineCheckpoint", {
                "job_id": body["job_id"], "execution_id": body["execution_id"], "tm_id": self.id,
                "checkpoint_id": body["checkpoint_id"], "reason": "task is not running"})
            return
        entry[1].trigger_checkpoint(body["checkpoint_id"])

    def on_NotifyCheckpointComplete(self, message: ControlMessage) -> None:
        prefix = message.body["job_id"]
        for (job_id, _execution_id), (_allocation, task) in self.tasks.items():
            if job_id == prefix:
                task.notify_checkpoint_complete(message.body["checkpoint_id"], message.body["final"])

    def on_RequestTaskReports(self, message: ControlMessage) -> None:
        slot_of = {s.allocation_id: s.slot_index for s in self.slots if s.allocation_id}
        self.channel.send("JOBMANAGER", "TaskReports", {
            "request_id": message.body["request_id"], "tm_id": self.id,
            "tasks": [{"job_id": job_id, "execution_id": execution_id, "allocation_id": allocation_id,
                       "slot_index": slot_of.get(allocation_id, -1), "state": task.state,
                       "end_of_data": task.end_of_data}
                      for (job_id, execution_id), (allocation_id, task) in self.tasks.items()]})

    def on_CancelTask(self, message: ControlMessage) -> None:
        entry = self.tasks.get((message.body["job_id"], message.body["execution_id"]))
        if entry is not None:
            entry[1].cancel()

    def _reap_tasks(self) -> None:
        # Ended tasks stay listed (for TaskReports to a new JobManager) until their slot is freed.
        held = {s.allocation_id for s in self.slots if s.allocation_id}
        for key, (allocation_id, task) in list(self.tasks.items()):
            if allocation_id not in held and not task.is_alive():
                del self.tasks[key]
        live_jobs = {s.job_id for s in self.slots if s.job_id}
        for job_id in list(self._artifacts):
            if job_id not in live_jobs:
                del self._artifacts[job_id]

    def shutdown(self) -> None:
        for _allocation, task in self.tasks.values():
            task.cancel()
        super().shutdown()

    def status_rows(self) -> list[dict]:
        return [{"tm_id": self.id, "host": self.host, "pid": self.pid,
                 "state": "REGISTERED" if self.registered_token is not None else "LOST",
                 "last_heartbeat_age_ms": 0, "slots": self._slot_records()}]
