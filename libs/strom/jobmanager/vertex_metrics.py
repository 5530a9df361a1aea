"""Flink's REST bodies for a job vertex, from the TaskManagers' metric samples
(:class:`~strom.metrics.fetcher.MetricFetcher`). Pure functions over samples.

>>> from strom.metrics.fetcher import Sample
>>> samples = [Sample("strom_task_backPressuredTimeMsPerSecond", {"task_id": "v1", "subtask_index": i}, ms)
...            for i, ms in (("0", 50.0), ("1", 700.0))]
>>> body = backpressure(samples, "v1", now_ms=0)
>>> body["backpressure-level"], [s["backpressure-level"] for s in body["subtasks"]]
('high', ['ok', 'high'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from strom.metrics.fetcher import Sample

#: Flink's thresholds on the back-pressured ratio: <= 0.1 ok, <= 0.5 low, above high.
BACKPRESSURE_LEVELS = ((0.10, "ok"), (0.50, "low"))


def flink_name(prometheus_name: str) -> str:
    """``strom_task_numRecordsIn_total`` -> ``numRecordsIn``; ``..._seconds`` loses its unit too."""
    name = prometheus_name.removeprefix("strom_task_").removeprefix("strom_source_")
    for suffix in ("_total", "_seconds", "_bytes"):
        name = name.removesuffix(suffix)
    return name


def _of_vertex(samples: Iterable[Sample], vertex_id: str) -> list[Sample]:
    return [s for s in samples if s.labels.get("task_id") == vertex_id]


def subtask_values(samples: Iterable[Sample], vertex_id: str) -> dict[int, dict[str, float]]:
    """subtask index -> Flink metric name -> value (watermarks in ms, as Flink shows them); NaN
    (no watermark yet) is left out, as JSON has no NaN."""
    values: dict[int, dict[str, float]] = {}
    for sample in _of_vertex(samples, vertex_id):
        if math.isnan(sample.value):
            continue
        name = flink_name(sample.name)
        value = sample.value * 1000 if name.endswith("Watermark") else sample.value
        per_subtask = values.setdefault(int(sample.labels["subtask_index"]), {})
        if sample.name == "strom_source_pendingRecords":  # one per source partition: their sum
            value += per_subtask.get(name, 0.0)
        per_subtask[name] = value
    return values


def vertex_io_metrics(samples: Iterable[Sample], vertex_id: str) -> dict[str, float]:
    """The ``metrics`` of a vertex in ``GET /jobs/:id`` (Flink's keys), summed over subtasks."""
    per_subtask = subtask_values(samples, vertex_id).values()

    def total(name: str) -> float:
        return sum(values.get(name, 0.0) for values in per_subtask)
    return {"read-records": total("numRecordsIn"), "write-records": total("numRecordsOut"),
            "read-bytes": total("numBytesIn"), "write-bytes": total("numBytesOut"),
            "read-records-per-second": total("numRecordsInPerSecond"),
            "write-records-per-second": total("numRecordsOutPerSecond"),
            "pending-records": total("pendingRecords")}


def aggregate(samples: Iterable[Sample], vertex_id: str, names: list[str] | None) -> list[dict[str, Any]]:
    """``GET .../subtasks/metrics?get=a,b``: min/max/avg/sum of each metric over the subtasks;
    without ``names`` the list of available ids (Flink's shape)."""
    per_subtask = subtask_values(samples, vertex_id)
    available = sorted({name for values in per_subtask.values() for name in values})
    if not names:
        return [{"id": name} for name in available]
    result = []
    for name in names:
        values = [v[name] for v in per_subtask.values() if name in v]
        if values:
            result.append({"id": name, "min": min(values), "max": max(values),
                           "avg": sum(values) / len(values), "sum": sum(values)})
    return result


def _level(ratio: float) -> str:
    return next((level for bound, level in BACKPRESSURE_LEVELS if ratio <= bound), "high")


def backpressure(samples: Iterable[Sample], vertex_id: str, now_ms: int) -> dict[str, Any]:
    """``GET .../backpressure``: per subtask the share of time blocked on output (Flink 1.13+
    measures it the same way, as backPressuredTimeMsPerSecond / 1000), and the worst level."""
    subtasks: list[dict[str, Any]] = []
    worst = 0.0
    for index, values in sorted(subtask_values(samples, vertex_id).items()):
        ratio = values.get("backPressuredTimeMsPerSecond", 0.0) / 1000
        worst = max(worst, ratio)
        subtasks.append({"subtask": index, "backpressure-level": _level(ratio), "ratio": ratio,
                         "idleRatio": values.get("idleTimeMsPerSecond", 0.0) / 1000,
                         "busyRatio": values.get("busyTimeMsPerSecond", 0.0) / 1000})
    return {"status": "ok", "backpressure-level": _level(worst), "end-timestamp": now_ms, "subtasks": subtasks}


def watermarks(samples: Iterable[Sample], vertex_id: str) -> list[dict[str, str]]:
    """``GET .../watermarks``: ``[{"id": "0.currentInputWatermark", "value": "<ms>"}]``."""
    result = []
    for index, values in sorted(subtask_values(samples, vertex_id).items()):
        for name in ("currentInputWatermark", "currentOutputWatermark"):
            if name in values:
                result.append({"id": f"{index}.{name}", "value": str(int(values[name]))})
    return result
