"""Job and cluster metric families of the JobManager and ResourceManager leaders (names in
:mod:`strom.metrics`). Built on the service's main thread at each scrape."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from strom.control.messages import TaskManagerInfo, TaskManagerState

JOB_LABELS = ["job_id", "job_name"]


def job_families(job_masters: Iterable[Any], now_ms: int) -> list[Metric]:
    """Per job of this JobManager leader (``JobMaster`` objects), plus ``strom_cluster_numRunningJobs``."""
    restarts = CounterMetricFamily("strom_job_numRestarts", "Restarts of the job", labels=JOB_LABELS)
    uptime = GaugeMetricFamily("strom_job_uptime_seconds", "Since the job was submitted", labels=JOB_LABELS)
    completed = CounterMetricFamily("strom_job_numberOfCompletedCheckpoints", "Completed checkpoints",
                                    labels=JOB_LABELS)
    failed = CounterMetricFamily("strom_job_numberOfFailedCheckpoints", "Failed checkpoints", labels=JOB_LABELS)
    duration = GaugeMetricFamily("strom_job_lastCheckpointDuration_seconds",
                                 "Trigger to completion of the latest completed checkpoint", labels=JOB_LABELS)
    size = GaugeMetricFamily("strom_job_lastCheckpointSize_bytes", "State size of the latest completed checkpoint",
                             labels=JOB_LABELS)
    running = 0
    for job_master in job_masters:
        labels = [job_master.job_id, job_master.job_graph.job_name]
        running += str(job_master.state) == "RUNNING"
        restarts.add_metric(labels, job_master.attempt.generation)
        uptime.add_metric(labels, max(0, now_ms - job_master.start_time) / 1000)
        coordinator = job_master.checkpointing.coordinator
        completed.add_metric(labels, coordinator.counts["completed"])
        failed.add_metric(labels, coordinator.counts["failed"])
        if coordinator.latest is not None:
            duration.add_metric(labels, coordinator.latest.get("duration", 0) / 1000)
            size.add_metric(labels, coordinator.latest.get("state-size", 0))
    jobs = GaugeMetricFamily("strom_cluster_numRunningJobs", "Jobs RUNNING on this JobManager leader")
    jobs.add_metric([], running)
    return [restarts, uptime, completed, failed, duration, size, jobs]


def slot_families(task_managers: Iterable[TaskManagerInfo]) -> list[Metric]:
    """The ResourceManager leader's slot table: registered TaskManagers, their slots, the free ones."""
    registered = [tm for tm in task_managers if tm.state == TaskManagerState.REGISTERED]
    slots = [slot for tm in registered for slot in tm.slots]
    values = {"numRegisteredTaskManagers": ("TaskManagers registered", len(registered)),
              "taskSlotsTotal": ("Slots of registered TaskManagers", len(slots)),
              "taskSlotsAvailable": ("Free slots", sum(slot.allocation_id is None for slot in slots))}
    families: list[Metric] = []
    for name, (doc, value) in values.items():
        family = GaugeMetricFamily(f"strom_cluster_{name}", doc)
        family.add_metric([], value)
        families.append(family)
    return families
