"""The TaskManager service loop (Flink's TaskExecutor).

Registers with whichever ResourceManager leads (again after every change of
leader or a DisconnectTaskManager), heartbeats its full slot report every
``heartbeat.interval`` ms, and takes slot allocations from the ResourceManager
leader, offering them to the JobManager leader.
"""

from __future__ import annotations

from strom.config import Configuration, HeartbeatOptions, TaskManagerOptions
from strom.cluster.endpoint import ControlEndpoint
from strom.control.codec import ControlMessage
from strom.coordination.leader_election import LeaderInfo
from strom.resourcemanager.slot_manager import SlotReport


class TaskManager(ControlEndpoint):
    role = "TASKMANAGER"

    def __init__(self, config: Configuration, instance_id: str | None = None) -> None:
        super().__init__(config, instance_id)
        self.slots = [SlotReport(i) for i in range(config.get(TaskManagerOptions.NUM_SLOTS))]
        self.registered_token: int | None = None  # RM leader epoch that accepted us
        self.every(config.get(HeartbeatOptions.INTERVAL) / 1000.0, self.heartbeat)

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
        for slot in self.slots:
            if slot.allocation_id == message.body["allocation_id"]:
                self.log.info("slot freed", slot_index=slot.slot_index, job_id=slot.job_id)
                slot.allocation_id = slot.job_id = None
                self.heartbeat()

    def status_rows(self) -> list[dict]:
        return [{"tm_id": self.id, "host": self.host, "pid": self.pid,
                 "state": "REGISTERED" if self.registered_token is not None else "LOST",
                 "last_heartbeat_age_ms": 0, "slots": self._slot_records()}]
