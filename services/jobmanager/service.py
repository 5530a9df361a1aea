"""The JobManager service loop: leader election and cluster events.

The Dispatcher, JobMaster and REST API hang off this loop (see the job
runtime); here it leads or stands by and tracks TaskManager losses.
"""

from __future__ import annotations

from strom.config import Configuration
from strom.cluster.endpoint import ControlEndpoint
from strom.control.codec import ControlMessage


class JobManager(ControlEndpoint):
    role = "JOBMANAGER"
    leader_scoped = True

    def __init__(self, config: Configuration, instance_id: str | None = None) -> None:
        super().__init__(config, instance_id)
        self.lost_task_managers: list[str] = []

    def on_TaskManagerLost(self, message: ControlMessage) -> None:
        if self.is_leader:
            self.lost_task_managers.append(message.body["tm_id"])
            self.log.warning("taskmanager lost", tm_id=message.body["tm_id"],
                             reason=message.body["reason"])
