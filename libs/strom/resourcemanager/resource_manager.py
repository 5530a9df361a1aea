"""The ResourceManager's main-thread logic (Flink's ``ResourceManager`` with its ``SlotManager``).

Every instance keeps the slot table from TaskManager reports (so a standby
is warm); only the leader answers registrations, serves slot requests and
declares TaskManagers lost.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client.core import Metric

from strom.cluster.endpoint import ControlEndpoint, Handler
from strom.config import Configuration, HeartbeatOptions
from strom.control.codec import ControlMessage
from strom.control.gateways import JobMasterGateway, TaskExecutorGateway
from strom.control.messages import ControlPayload, Heartbeat, RegisterTaskManager, SlotRequest, TaskManagerInfo
from strom.control.roles import Role
from strom.errors import NoSlotAvailableError
from strom.metrics.cluster import slot_families
from strom.resourcemanager.slot_manager import SlotManager

HEARTBEAT_CHECK_INTERVAL_S = 0.1  # s between looks for TaskManagers silent past heartbeat.timeout


class ResourceManager(ControlEndpoint):
    """One ResourceManager process, leader or standby."""

    role = Role.RESOURCEMANAGER
    leader_scoped = True

    def __init__(self, config: Configuration, instance_id: str | None = None) -> None:
        super().__init__(config, instance_id)
        self.slots = SlotManager(config.get(HeartbeatOptions.TIMEOUT) / 1000.0)
        self.task_executors = TaskExecutorGateway(self.channel)
        self.job_masters = JobMasterGateway(self.channel)
        self.every(HEARTBEAT_CHECK_INTERVAL_S, self.check_heartbeats)

    def handlers(self) -> Mapping[type[ControlPayload], Handler]:
        return {**super().handlers(),
                RegisterTaskManager: self.on_register_task_manager,
                Heartbeat: self.on_heartbeat,
                SlotRequest: self.on_slot_request}

    def on_register_task_manager(self, message: ControlMessage) -> None:
        registration = message.payload(RegisterTaskManager)
        replaced = self.slots.register(registration.tm_id, registration.host, registration.pid, registration.slots,
                                       time.monotonic(), registration.session)
        if self.is_leader and replaced is not None:
            reason = f"restarted as a new process (pid {replaced.pid} on {replaced.host} -> {registration.pid})"
            self.log.warning("taskmanager lost", tm_id=replaced.tm_id, reason=reason)
            self.job_masters.task_manager_lost(replaced.tm_id, reason, 0, replaced.slots)
        if self.is_leader:
            self.log.info("taskmanager registered", tm_id=registration.tm_id, slots=len(registration.slots))
            self.task_executors.confirm_registration(registration.tm_id)

    def on_heartbeat(self, message: ControlMessage) -> None:
        heartbeat = message.payload(Heartbeat)
        if not self.slots.report(heartbeat.tm_id, heartbeat.host, heartbeat.pid, heartbeat.slots,
                                 time.monotonic(), heartbeat.session) and self.is_leader:
            self.task_executors.disconnect_task_manager(
                heartbeat.tm_id, "declared lost after missing heartbeats; register again")

    def check_heartbeats(self) -> None:
        for tm, silent_s in self.slots.expire(time.monotonic()):
            if not self.is_leader:
                continue
            self.log.warning("taskmanager lost", tm_id=tm.tm_id, silent_ms=int(silent_s * 1000))
            self.job_masters.task_manager_lost(
                tm.tm_id,
                f"no heartbeat for {silent_s * 1000:.0f} ms "
                f"(heartbeat.timeout {self.slots.heartbeat_timeout_s * 1000:.0f} ms)",
                int(silent_s * 1000), tm.slots)

    def on_slot_request(self, message: ControlMessage) -> None:
        if not self.is_leader:
            return
        request = message.payload(SlotRequest)
        try:
            slot = self.slots.allocate(request.job_id, request.allocation_id)
        except NoSlotAvailableError as exc:
            self.job_masters.slot_request_failed(request.job_id, request.allocation_id, str(exc))
            return
        self.log.info("slot allocated", job_id=request.job_id, allocation_id=request.allocation_id,
                      tm_id=slot.tm_id, slot_index=slot.slot_index)
        self.task_executors.allocate_slot(slot.tm_id, slot.slot_index, request.job_id, request.allocation_id)

    def status_rows(self) -> list[TaskManagerInfo]:
        return self.slots.rows(time.monotonic())

    def metric_families(self) -> list[Metric]:
        """The leader adds the cluster's TaskManagers and slots."""
        families = super().metric_families()
        if self.is_leader:
            families += slot_families(self.status_rows())
        return families
