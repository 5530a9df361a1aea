"""The ResourceManager service loop.

Every instance keeps the slot table from TaskManager reports (so a standby
is warm); only the leader answers registrations, serves slot requests and
declares TaskManagers lost.
"""

from __future__ import annotations

import time

from strom.cluster.endpoint import ControlEndpoint
from strom.config import Configuration, HeartbeatOptions
from strom.control.codec import ControlMessage
from strom.errors import NoSlotAvailableError
from strom.resourcemanager.slot_manager import SlotManager


class ResourceManager(ControlEndpoint):
    role = "RESOURCEMANAGER"
    leader_scoped = True

    def __init__(self, config: Configuration, instance_id: str | None = None) -> None:
        super().__init__(config, instance_id)
        self.slots = SlotManager(config.get(HeartbeatOptions.TIMEOUT) / 1000.0)
        self.every(0.1, self.check_heartbeats)

    def on_RegisterTaskManager(self, message: ControlMessage) -> None:
        body = message.body
        self.slots.register(body["tm_id"], body["host"], body["pid"], body["slots"], time.monotonic())
        if self.is_leader:
            self.log.info("taskmanager registered", tm_id=body["tm_id"], slots=len(body["slots"]))
            self.channel.send("TASKMANAGER", "TaskManagerRegistered", {"tm_id": body["tm_id"]},
                              target_id=body["tm_id"], fenced=True)

    def on_Heartbeat(self, message: ControlMessage) -> None:
        body = message.body
        if not self.slots.report(body["tm_id"], body["host"], body["pid"], body["slots"],
                                 time.monotonic()) and self.is_leader:
            self.channel.send("TASKMANAGER", "DisconnectTaskManager", {
                "tm_id": body["tm_id"],
                "reason": "declared lost after missing heartbeats; register again"},
                target_id=body["tm_id"], fenced=True)

    def check_heartbeats(self) -> None:
        for tm, silent_s in self.slots.expire(time.monotonic()):
            if not self.is_leader:
                continue
            self.log.warning("taskmanager lost", tm_id=tm.tm_id, silent_ms=int(silent_s * 1000))
            self.channel.send("JOBMANAGER", "TaskManagerLost", {
                "tm_id": tm.tm_id,
                "reason": f"no heartbeat for {silent_s * 1000:.0f} ms "
                          f"(heartbeat.timeout {self.slots.heartbeat_timeout_s * 1000:.0f} ms)",
                "silent_ms": int(silent_s * 1000),
                "lost_slots": [s.as_record() for s in tm.slots],
            }, fenced=True)

    def on_SlotRequest(self, message: ControlMessage) -> None:
        if not self.is_leader:
            return
        job_id, allocation_id = message.body["job_id"], message.body["allocation_id"]
        try:
            slot = self.slots.allocate(job_id, allocation_id)
        except NoSlotAvailableError as exc:
            self.channel.send("JOBMANAGER", "SlotRequestFailed", {
                "job_id": job_id, "allocation_id": allocation_id, "reason": str(exc)}, fenced=True)
            return
        self.log.info("slot allocated", job_id=job_id, allocation_id=allocation_id,
                      tm_id=slot.tm_id, slot_index=slot.slot_index)
        self.channel.send("TASKMANAGER", "AllocateSlot", {
            "tm_id": slot.tm_id, "slot_index": slot.slot_index,
            "job_id": job_id, "allocation_id": allocation_id}, target_id=slot.tm_id, fenced=True)

    def status_rows(self) -> list[dict]:
        return self.slots.rows(time.monotonic())
