"""The TaskManager's main-thread logic (Flink's ``TaskExecutor``).

Registers with whichever ResourceManager leads (again after every change of
leader or a DisconnectTaskManager), heartbeats its full slot report every
``heartbeat.interval`` ms, and takes slot allocations from the ResourceManager
leader, offering them to the JobManager leader. Deployed subtasks run as
threads (:class:`~strom.runtime.task.Task`); the job artifact is loaded once
per job (:class:`~strom.taskmanager.artifacts.JobArtifacts`).
"""

from __future__ import annotations

from collections.abc import Mapping

import redis
from prometheus_client.core import GaugeMetricFamily, Metric

from strom.cluster.endpoint import ControlEndpoint, Handler
from strom.config import Configuration, HeartbeatOptions, KafkaOptions, TaskManagerOptions
from strom.control.codec import ControlMessage
from strom.control.gateways import JobMasterGateway, ResourceManagerGateway
from strom.control.messages import (
    AllocateSlot,
    CancelTask,
    ControlPayload,
    DeployTask,
    DisconnectTaskManager,
    FreeSlot,
    NotifyCheckpointComplete,
    RequestTaskReports,
    TaskManagerInfo,
    TaskManagerRegistered,
    TaskManagerState,
    TriggerCheckpoint,
)
from strom.control.roles import Role
from strom.coordination.leader_election import LeaderInfo
from strom.errors import TaskFailureCause
from strom.graph.execution_graph import DEPLOYING, FAILED
from strom.io.redis import check_redis_settings
from strom.metrics.task import task_families
from strom.runtime.checkpointing import TaskCallbacks
from strom.runtime.deployment import TaskDeploymentDescriptor
from strom.runtime.settings import TaskSettings
from strom.runtime.task import Task
from strom.taskmanager.artifacts import JobArtifacts
from strom.taskmanager.slot_table import TaskSlotTable

REAP_INTERVAL_S = 0.5  # s between sweeps of ended tasks whose slot was freed


class TaskExecutor(ControlEndpoint):
    """One TaskManager process: ``taskmanager.numberOfTaskSlots`` slots, tasks as threads.

    ``artifacts`` loads job graphs; ``redis_client`` is handed to every task (checkpoints).
    """

    role = Role.TASKMANAGER

    def __init__(self, config: Configuration, instance_id: str | None, artifacts: JobArtifacts,
                 redis_client: redis.Redis) -> None:
        super().__init__(config, instance_id)
        self.slot_table: TaskSlotTable[Task] = TaskSlotTable(config.get(TaskManagerOptions.NUM_SLOTS))
        self.registered_token: int | None = None  # RM leader epoch that accepted us
        self.redis = redis_client
        self.artifacts = artifacts
        self.resource_manager = ResourceManagerGateway(self.channel)
        self.job_master = JobMasterGateway(self.channel)
        self.every(config.get(HeartbeatOptions.INTERVAL) / 1000.0, self.heartbeat)
        self.every(REAP_INTERVAL_S, self._reap_tasks)
        self.every(1.0, self._sample_task_metrics)

    def start(self) -> None:
        """Refuse a Redis that may evict checkpoints (StorageConfigError), then register."""
        check_redis_settings(self.redis)
        super().start()

    def handlers(self) -> Mapping[type[ControlPayload], Handler]:
        return {**super().handlers(),
                TaskManagerRegistered: self.on_registered,
                DisconnectTaskManager: self.on_disconnect,
                AllocateSlot: self.on_allocate_slot,
                FreeSlot: self.on_free_slot,
                DeployTask: self.on_deploy_task,
                CancelTask: self.on_cancel_task,
                TriggerCheckpoint: self.on_trigger_checkpoint,
                NotifyCheckpointComplete: self.on_notify_checkpoint_complete,
                RequestTaskReports: self.on_request_task_reports}

    # -- the ResourceManager ------------------------------------------------------------------
    def register(self) -> None:
        self.resource_manager.register_task_manager(self.id, self.host, self.pid, self.slot_table.slot_report(),
                                                    self.session)

    def heartbeat(self) -> None:
        rm = self.leaders[Role.RESOURCEMANAGER]
        if rm is None:
            return
        if self.registered_token != rm.token:
            self.register()  # not acknowledged by the current leader yet: ask again
        self.resource_manager.heartbeat(self.id, self.host, self.pid, self.slot_table.slot_report(), self.session)

    def on_leader_change(self, role: Role, info: LeaderInfo | None) -> None:
        if role == Role.RESOURCEMANAGER and info is not None and info.token != self.registered_token:
            self.log.info("resourcemanager leader changed; registering", rm=info.id, token=info.token)
            self.register()

    def on_registered(self, message: ControlMessage) -> None:
        self.registered_token = message.fencing_token
        self.log.info("registered with resourcemanager", rm=message.sender_id, token=message.fencing_token)

    def on_disconnect(self, message: ControlMessage) -> None:
        self.log.warning("disconnected by resourcemanager; releasing all slots",
                         reason=message.payload(DisconnectTaskManager).reason)
        for task in self.slot_table.free_all():
            task.cancel()
        self.registered_token = None
        self.register()

    # -- slots ----------------------------------------------------------------------------------
    def on_allocate_slot(self, message: ControlMessage) -> None:
        request = message.payload(AllocateSlot)
        refused = self.slot_table.allocate_slot(request.slot_index, request.job_id, request.allocation_id)
        if refused is not None:
            self.log.warning("cannot take allocation", slot_index=request.slot_index,
                             allocation_id=request.allocation_id, held_by=refused)
            return
        self.log.info("slot allocated", slot_index=request.slot_index, job_id=request.job_id,
                      allocation_id=request.allocation_id)
        self.job_master.offer_slot(request.job_id, request.allocation_id, self.id, request.slot_index)
        self.heartbeat()  # report the allocation now, not in up to one interval

    def on_free_slot(self, message: ControlMessage) -> None:
        freed, tasks = self.slot_table.free_slot(message.payload(FreeSlot).allocation_id)
        for task in tasks:
            task.cancel()
        for slot in freed:
            self.log.info("slot freed", slot_index=slot.slot_index, job_id=slot.job_id)
            self.heartbeat()

    # -- tasks ----------------------------------------------------------------------------------
    def _report(self, job_id: str, execution_id: str, state: str, error: str | None,
                records_in: int = 0, cause: TaskFailureCause | None = None) -> None:
        # Called from task threads too: ControlChannel.send is thread-safe.
        self.job_master.update_task_execution_state(job_id, execution_id, self.id, state, error,
                                                    records_in, cause)

    def on_deploy_task(self, message: ControlMessage) -> None:
        deployment = message.payload(DeployTask)
        job_id, execution_id = deployment.job_id, deployment.execution_id
        if not self.slot_table.is_allocated(deployment.allocation_id):
            self._report(job_id, execution_id, FAILED,
                         f"slot {deployment.allocation_id} is not allocated on {self.id}",
                         cause=TaskFailureCause.DEPLOYMENT)
            return
        try:
            descriptor = TaskDeploymentDescriptor.from_json(deployment.descriptor_json)
            vertex = self.artifacts.job_graph(job_id).vertex(descriptor.vertex_id)
        except Exception as exc:
            self._report(job_id, execution_id, FAILED, f"deployment on {self.id} failed: {type(exc).__name__}: {exc}",
                         cause=TaskFailureCause.DEPLOYMENT)
            return
        self._report(job_id, execution_id, DEPLOYING, None)

        def acknowledge(checkpoint_id: int, size: int, completed: bool) -> None:
            self.job_master.acknowledge_checkpoint(job_id, execution_id, self.id, checkpoint_id, size, completed)

        def decline(checkpoint_id: int, reason: str) -> None:
            self.job_master.decline_checkpoint(job_id, execution_id, self.id, checkpoint_id, reason)

        task = Task(descriptor, vertex, self.config.get(KafkaOptions.BOOTSTRAP), self.redis, TaskCallbacks(
            report=lambda state, error, cause: self._report(job_id, execution_id, state, error,
                                                            task.records_in, cause),
            acknowledge=acknowledge, decline=decline), TaskSettings.from_config(self.config),
            self.artifacts.job_graph(job_id).job_name)
        self.slot_table.add_task(job_id, execution_id, deployment.allocation_id, task)
        self.log.info("deploying task", job_id=job_id, execution_id=execution_id, name=vertex.name)
        task.start()

    def on_cancel_task(self, message: ControlMessage) -> None:
        request = message.payload(CancelTask)
        task = self.slot_table.task(request.job_id, request.execution_id)
        if task is not None:
            task.cancel()

    def on_trigger_checkpoint(self, message: ControlMessage) -> None:
        trigger = message.payload(TriggerCheckpoint)
        task = self.slot_table.task(trigger.job_id, trigger.execution_id)
        if task is None or not task.is_alive():
            self.job_master.decline_checkpoint(trigger.job_id, trigger.execution_id, self.id,
                                               trigger.checkpoint_id, "task is not running")
            return
        task.trigger_checkpoint(trigger.checkpoint_id)

    def on_notify_checkpoint_complete(self, message: ControlMessage) -> None:
        notification = message.payload(NotifyCheckpointComplete)
        for task in self.slot_table.tasks_of_job(notification.job_id):
            task.notify_checkpoint_complete(notification.checkpoint_id, notification.final)

    def on_request_task_reports(self, message: ControlMessage) -> None:
        self.job_master.report_tasks(message.payload(RequestTaskReports).request_id, self.id,
                                     self.slot_table.task_reports())

    def _reap_tasks(self) -> None:
        self.slot_table.remove_ended_tasks()
        self.artifacts.retain(self.slot_table.active_jobs())

    # -- metrics ----------------------------------------------------------------------------------
    def _sample_task_metrics(self) -> None:
        for task in self.slot_table.all_tasks():
            task.sample_metrics()

    def metric_families(self) -> list[Metric]:
        """Adds every running subtask's metrics and this TaskManager's slots."""
        families = super().metric_families()
        families += task_families(self.slot_table.all_tasks(), self.id)
        report = self.slot_table.slot_report()
        for name, doc, value in (("taskSlotsTotal", "Slots of this TaskManager", len(report)),
                                 ("taskSlotsAvailable", "Free slots of this TaskManager",
                                  sum(slot.allocation_id is None for slot in report))):
            family = GaugeMetricFamily(f"strom_taskmanager_{name}", doc, labels=["tm_id"])
            family.add_metric([self.id], value)
            families.append(family)
        return families

    def shutdown(self) -> None:
        for task in self.slot_table.all_tasks():
            task.cancel()
        super().shutdown()

    def status_rows(self) -> list[TaskManagerInfo]:
        state = TaskManagerState.REGISTERED if self.registered_token is not None else TaskManagerState.LOST
        return [TaskManagerInfo(self.id, self.host, self.pid, state, 0, self.slot_table.slot_report())]
