"""Metrics of the subtasks running in a TaskManager (see :mod:`strom.metrics` for the names).

A task's thread only adds to plain numbers: records per batch, seconds spent
waiting in ``consume`` (idle) or on a full producer queue (back-pressured),
and librdkafka's statistics callbacks (bytes, source partition ends), which
run in that thread every ``metrics.kafka-statistics-interval`` ms. Rates and
time ratios are taken over the last ~5 s from samples a TaskManager thread
takes every second (:meth:`TaskMetrics.sample`), so they do not depend on
who scrapes how often.

>>> m = TaskMetrics()
>>> m.sample(records_in=0, records_out=0, idle_s=0.0, back_pressured_s=0.0, now_s=0.0)
>>> m.sample(records_in=2_000, records_out=6_000, idle_s=0.5, back_pressured_s=1.0, now_s=2.0)
>>> m.rates()
{'in': 1000.0, 'out': 3000.0, 'idle_ms': 250.0, 'back_pressured_ms': 500.0, 'busy_ms': 250.0}
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from strom.logs import get_logger

log = get_logger(__name__)

RATE_WINDOW_SAMPLES = 6  # one a second: rates over the last ~5 s
TASK_LABELS = ["job_id", "job_name", "task_id", "task_name", "subtask_index", "tm_id"]  # task_id: vertex id


class TaskMetrics:
    """librdkafka statistics of one subtask (its thread) and samples of its counters (the
    TaskManager's main thread); read at scrape time from other threads (plain numbers: no locks)."""

    def __init__(self) -> None:
        self.bytes_in = 0             # librdkafka rxmsg_bytes of the task's consumer
        self.bytes_out: dict[str, int] = {}  # librdkafka client name -> txmsg_bytes
        self.partition_ends: dict[tuple[str, int], int] = {}  # consumer's view of each partition's end
        self._samples: deque[tuple[float, int, int, float, float]] = deque(maxlen=RATE_WINDOW_SAMPLES)

    # -- librdkafka statistics (stats_cb), in the task's thread -------------------------------
    def on_consumer_statistics(self, stats_json: str) -> None:
        """Bytes read and, per partition, the end a read_committed reader can reach (last stable
        offset, else the high watermark)."""
        stats = json.loads(stats_json)
        self.bytes_in = stats.get("rxmsg_bytes", self.bytes_in)
        for topic, topic_stats in stats.get("topics", {}).items():
            for partition, p in topic_stats.get("partitions", {}).items():
                end = p.get("ls_offset", -1) if p.get("ls_offset", -1) >= 0 else p.get("hi_offset", -1)
                if partition != "-1" and end >= 0:
                    self.partition_ends[(topic, int(partition))] = end

    def on_producer_statistics(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        self.bytes_out[stats.get("name", "")] = stats.get("txmsg_bytes", 0)

    # -- rates -------------------------------------------------------------------------------
    def sample(self, records_in: int, records_out: int, idle_s: float, back_pressured_s: float,
               now_s: float | None = None) -> None:
        """About once a second (the TaskManager's main thread): the task's counters so far (records;
        seconds waiting for input and blocked on full producer queues)."""
        now_s = time.monotonic() if now_s is None else now_s
        self._samples.append((now_s, records_in, records_out, idle_s, back_pressured_s))

    def rates(self) -> dict[str, float]:
        """Records/s in and out and ms/s idle, back-pressured and busy over the sampled window
        (zeros before two samples)."""
        if len(self._samples) < 2:
            return dict.fromkeys(("in", "out", "idle_ms", "back_pressured_ms", "busy_ms"), 0.0)
        (t0, in0, out0, idle0, bp0), (t1, in1, out1, idle1, bp1) = self._samples[0], self._samples[-1]
        span = max(t1 - t0, 1e-9)
        idle = min(1000.0, (idle1 - idle0) / span * 1000)
        back_pressured = min(1000.0 - idle, (bp1 - bp0) / span * 1000)
        return {"in": (in1 - in0) / span, "out": (out1 - out0) / span, "idle_ms": idle,
                "back_pressured_ms": back_pressured, "busy_ms": max(0.0, 1000.0 - idle - back_pressured)}


def watermark_seconds(watermark_ms: int | None) -> float:
    """A watermark (ms) as Prometheus' unix seconds; NaN for None (none yet)."""
    return math.nan if watermark_ms is None else watermark_ms / 1000


def task_families(tasks: Iterable[Any], tm_id: str) -> list[Metric]:
    """The metric families of the running :class:`~strom.runtime.task.Task` objects of TaskManager
    ``tm_id`` (built on its main thread at each scrape)."""
    families = _TaskFamilies()
    for task in tasks:
        try:
            families.add(task, tm_id)
        except Exception as exc:  # a task tearing down while read: skip it this scrape
            log.debug("task metrics skipped", error=str(exc))
    return families.all()


class _TaskFamilies:
    def __init__(self) -> None:
        def counter(name: str, doc: str) -> CounterMetricFamily:
            return CounterMetricFamily(f"strom_task_{name}", doc, labels=TASK_LABELS)

        def gauge(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=TASK_LABELS + list(extra))
        self.records_in = counter("numRecordsIn", "Kafka records a subtask read")
        self.records_out = counter("numRecordsOut", "Elements a subtask wrote to its edges and sinks")
        self.bytes_in = counter("numBytesIn", "Bytes a subtask's consumer read (librdkafka rxmsg_bytes)")
        self.bytes_out = counter("numBytesOut", "Bytes a subtask's producers sent (librdkafka txmsg_bytes)")
        self.late = counter("numLateRecordsDropped", "Elements window operators dropped as late")
        self.in_rate = gauge("strom_task_numRecordsInPerSecond", "Records read per second, last ~5 s")
        self.out_rate = gauge("strom_task_numRecordsOutPerSecond", "Elements written per second, last ~5 s")
        self.busy = gauge("strom_task_busyTimeMsPerSecond", "ms per second neither idle nor back-pressured")
        self.idle = gauge("strom_task_idleTimeMsPerSecond", "ms per second waiting for input")
        self.back_pressured = gauge("strom_task_backPressuredTimeMsPerSecond",
                                    "ms per second blocked on a full producer queue")
        self.input_wm = gauge("strom_task_currentInputWatermark_seconds", "Input watermark (unix s)")
        self.output_wm = gauge("strom_task_currentOutputWatermark_seconds", "Output watermark (unix s)")
        self.alignment = gauge("strom_task_checkpointAlignmentTime_seconds", "The last checkpoint alignment")
        self.pending = gauge("strom_source_pendingRecords", "Records behind the source partition's end",
                             ("topic", "partition"))

    def add(self, task: Any, tm_id: str) -> None:
        descriptor, metrics = task.descriptor, task.metrics
        labels = [descriptor.job_id, task.job_name, descriptor.vertex_id, task.vertex.name,
                  str(descriptor.subtask_index), tm_id]
        rates = metrics.rates()
        self.records_in.add_metric(labels, task.records_in)
        self.records_out.add_metric(labels, task.records_out)
        self.bytes_in.add_metric(labels, metrics.bytes_in)
        self.bytes_out.add_metric(labels, sum(metrics.bytes_out.values()))
        self.late.add_metric(labels, task.late_records_dropped)
        self.in_rate.add_metric(labels, rates["in"])
        self.out_rate.add_metric(labels, rates["out"])
        self.busy.add_metric(labels, rates["busy_ms"])
        self.idle.add_metric(labels, rates["idle_ms"])
        self.back_pressured.add_metric(labels, rates["back_pressured_ms"])
        input_wm, output_wm = task.watermarks()
        self.input_wm.add_metric(labels, watermark_seconds(input_wm))
        self.output_wm.add_metric(labels, watermark_seconds(output_wm))
        self.alignment.add_metric(labels, task.last_alignment_s)
        for (topic, partition), position in task.source_positions().items():
            end = metrics.partition_ends.get((topic, partition))
            if end is not None:
                self.pending.add_metric([*labels, topic, str(partition)], max(0, end - position))

    def all(self) -> list[Metric]:
        return [self.records_in, self.records_out, self.bytes_in, self.bytes_out, self.late, self.in_rate,
                self.out_rate, self.busy, self.idle, self.back_pressured, self.input_wm, self.output_wm,
                self.alignment, self.pending]
