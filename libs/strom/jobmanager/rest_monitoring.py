"""The JobManager's monitoring REST API, in Flink's shapes (``rest_v1_dispatcher``):

    GET  /overview                      TaskManagers, slots, jobs by state
    GET  /config                        web UI settings (refresh interval, version)
    GET  /jobmanager/config             [{"key", "value"}], secrets redacted
    GET  /jobs/overview                 {"jobs": [{"jid", "name", "state", "start-time", ...}]}
    GET  /jobs/metrics?get=&agg=        job metrics aggregated over the running jobs
    GET  /jobs/{id}/plan | /config | /exceptions
    GET  /jobs/{id}/vertices/{vid}      subtasks with their metrics
    GET  /jobs/{id}/vertices/{vid}/subtasks/metrics?get=a,b   min/max/avg/sum over subtasks
    GET  /jobs/{id}/vertices/{vid}/watermarks | /backpressure
    GET  /jobs/{id}/checkpoints/config
    GET  /jobs/{id}/checkpoints/details/{cid}  (+ /subtasks/{vid}: per-subtask ack time and size)
    POST /jobs/{id}/stop                {"drain": false} -> 202 {"request-id"}: savepoint, then cancel
    GET  /taskmanagers                  (+ /{tmid}, /{tmid}/metrics?get=)
    GET  /metrics/targets               Prometheus HTTP service discovery: every /metrics endpoint

Task metrics come from the TaskManagers' ``/metrics`` (:class:`~strom.metrics.fetcher.MetricFetcher`),
job metrics from the JobMasters on the main thread (``call``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from fastapi import Body, FastAPI, Query
from fastapi.responses import JSONResponse

import strom
from strom.errors import JobStateError, UnknownJobError
from strom.jobmanager import vertex_metrics
from strom.metrics.cluster import job_families
from strom.metrics.fetcher import MetricFetcher
from strom.metrics.reporter import MetricEndpoints

Call = Callable[[Callable[[], Any]], Any]
STOP_REQUEST = Body(default={})  # POST /jobs/{id}/stop: {"drain": bool}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": [message]}, status_code=status)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _names(get: str | None) -> list[str] | None:
    return [name for name in get.split(",") if name] if get else None


def add_monitoring_routes(app: FastAPI, call: Call, dispatcher: Callable[[], Any], fetcher: MetricFetcher,
                          endpoints: MetricEndpoints, config_rows: Callable[[], list[tuple[str, str]]],
                          cluster_id: str, leader_address: Callable[[], str | None]) -> None:
    """Register the routes above on ``app``; ``config_rows()``: (key, shown value) of every option."""
    def details(job_id: str) -> dict[str, Any]:
        return call(lambda: dispatcher().details(job_id))

    _add_cluster_routes(app, call, dispatcher, fetcher, config_rows, cluster_id, leader_address)
    _add_metric_routes(app, call, dispatcher, endpoints, cluster_id)
    _add_stop_route(app, call, dispatcher)
    _add_job_info_routes(app, call, dispatcher, details)
    _add_vertex_routes(app, details, fetcher)
    _add_taskmanager_routes(app, fetcher)


def _add_cluster_routes(app: FastAPI, call: Call, dispatcher: Callable[[], Any], fetcher: MetricFetcher,
                        config_rows: Callable[[], list[tuple[str, str]]], cluster_id: str,
                        leader_address: Callable[[], str | None]) -> None:
    @app.get("/overview")
    def overview() -> dict[str, Any]:
        counts: dict[str, int] = {}
        for job in call(lambda: dispatcher().overview()):
            counts[job["status"]] = counts.get(job["status"], 0) + 1
        task_managers = [tm for tm in fetcher.task_managers() if tm.error is None]
        return {"taskmanagers": len(task_managers),
                "slots-total": int(sum(tm.value("strom_taskmanager_taskSlotsTotal") for tm in task_managers)),
                "slots-available": int(sum(tm.value("strom_taskmanager_taskSlotsAvailable") for tm in task_managers)),
                **{f"jobs-{state.lower()}": counts.get(state, 0)
                   for state in ("RUNNING", "FINISHED", "CANCELED", "FAILED")},
                "jobs-cancelled": counts.get("CANCELED", 0),  # Flink's spelling
                "strom-version": strom.__version__, "jobs": counts, "leader": leader_address()}

    @app.get("/config")
    def web_config() -> dict[str, Any]:
        return {"refresh-interval": 2000, "timezone-name": time.tzname[0], "timezone-offset": -time.timezone * 1000,
                "strom-version": strom.__version__, "cluster-id": cluster_id,
                "features": {"web-submit": False, "web-cancel": True, "web-history": False}}

    @app.get("/jobmanager/config")
    def jobmanager_config() -> list[dict[str, str]]:
        return [{"key": key, "value": value} for key, value in config_rows()]

    @app.get("/jobs/overview")
    def jobs_overview() -> dict[str, Any]:
        jobs = []
        for job in call(lambda: dispatcher().overview()):
            body = (call(functools.partial(lambda job_id: dispatcher().details(job_id), job["id"]))
                    if job["status"] in ("RUNNING", "RESTARTING", "CREATED") else {})
            jobs.append({"jid": job["id"], "name": job["name"], "state": job["status"],
                         "start-time": body.get("start-time", -1), "end-time": job.get("end-time", -1),
                         "duration": body.get("duration", -1),
                         "tasks": {"total": sum(v["parallelism"] for v in body.get("vertices", [])),
                                   **{state: sum(v["tasks"].get(state, 0) for v in body.get("vertices", []))
                                      for state in ("RUNNING", "FINISHED", "CANCELED", "FAILED")}}})
        return {"jobs": jobs}


def _add_metric_routes(app: FastAPI, call: Call, dispatcher: Callable[[], Any], endpoints: MetricEndpoints,
                       cluster_id: str) -> None:
    @app.get("/jobs/metrics")
    def jobs_metrics(get: str | None = None, agg: str | None = None) -> list[dict[str, Any]]:
        families = call(lambda: job_families(dispatcher().job_masters.values(), _now_ms()))
        values: dict[str, list[float]] = {}
        for family in families:
            for sample in family.samples:
                if sample.name.startswith("strom_job_"):
                    values.setdefault(vertex_metrics.flink_name(sample.name.removeprefix("strom_job_")),
                                      []).append(sample.value)
        names = _names(get)
        if not names:
            return [{"id": name} for name in sorted(values)]
        wanted = _names(agg) or ["min", "max", "avg", "sum"]
        functions: dict[str, Callable[[list[float]], float]] = {
            "min": min, "max": max, "sum": sum, "avg": lambda v: sum(v) / len(v)}
        return [{"id": name, **{a: functions[a](values[name]) for a in wanted if a in functions}}
                for name in names if values.get(name)]

    @app.get("/metrics/targets")
    def metric_targets() -> list[dict[str, Any]]:
        groups: dict[str, list[str]] = {}
        for endpoint in endpoints.live():
            groups.setdefault(endpoint["service"], []).append(endpoint["address"])
        # strom_service, not service: a target label would rename the metrics' own service label.
        return [{"targets": sorted(addresses), "labels": {"strom_cluster": cluster_id, "strom_service": service}}
                for service, addresses in sorted(groups.items())]


def _add_job_info_routes(app: FastAPI, call: Call, dispatcher: Callable[[], Any],
                         details: Callable[[str], dict[str, Any]]) -> None:
    def of_job(job_id: str, build: Callable[[dict[str, Any]], Any]) -> Any:
        try:
            return build(details(job_id))
        except UnknownJobError:
            return _error(404, f"job {job_id} not found")

    @app.get("/jobs/{job_id}/plan")
    def plan(job_id: str):
        return of_job(job_id, lambda d: {"plan": d.get("plan")})

    @app.get("/jobs/{job_id}/config")
    def job_config(job_id: str):
        return of_job(job_id, lambda d: {"jid": job_id, "name": d.get("name"),
                                         "execution-config": d.get("execution-config")})

    @app.get("/jobs/{job_id}/checkpoints/config")
    def checkpoint_config(job_id: str):
        return of_job(job_id, lambda d: (d.get("execution-config") or {}).get("checkpoints"))

    @app.get("/jobs/{job_id}/exceptions")
    def exceptions(job_id: str):
        def build(d: dict[str, Any]) -> dict[str, Any]:
            # Failure reasons, newest first; a reason names the subtask ("v2[1]#0 failed: ...").
            entries = [{"exceptionName": reason.split(":", 1)[0], "stacktrace": reason, "timestamp": None,
                        "taskName": None} for reason in reversed(d.get("failures") or [])]
            return {"root-exception": d.get("error"), "timestamp": d.get("end-time"),
                    "all-exceptions": entries, "truncated": False,
                    "exceptionHistory": {"entries": entries, "truncated": False}}
        return of_job(job_id, build)

    @app.get("/jobs/{job_id}/checkpoints/details/{checkpoint_id}")
    def checkpoint_details(job_id: str, checkpoint_id: int):
        try:
            metadata = call(lambda: dispatcher().checkpoint(job_id, checkpoint_id))
        except UnknownJobError:
            return _error(404, f"job {job_id} not found")
        if metadata is None:
            return _error(404, f"checkpoint {checkpoint_id} of job {job_id} is not retained")
        return _checkpoint_body(metadata)

    @app.get("/jobs/{job_id}/checkpoints/details/{checkpoint_id}/subtasks/{vertex_id}")
    def checkpoint_subtasks(job_id: str, checkpoint_id: int, vertex_id: str):
        body = checkpoint_details(job_id, checkpoint_id)
        if isinstance(body, JSONResponse):
            return body
        task = body["tasks"].get(vertex_id)
        if task is None:
            return _error(404, f"vertex {vertex_id} not in checkpoint {checkpoint_id} of job {job_id}")
        return {"id": vertex_id, "subtasks": task["subtasks"]}


def _add_stop_route(app: FastAPI, call: Call, dispatcher: Callable[[], Any]) -> None:
    @app.post("/jobs/{job_id}/stop", status_code=202)
    def stop(job_id: str, request: dict[str, Any] = STOP_REQUEST):
        if request.get("drain"):
            return _error(400, "stop with drain is not supported yet: stop without it keeps the windows' state "
                               "in the savepoint")
        try:
            return {"request-id": call(lambda: dispatcher().running(job_id).trigger_savepoint(True))}
        except UnknownJobError:
            return _error(404, f"job {job_id} is not running")
        except JobStateError as exc:
            return _error(409, str(exc))


def _checkpoint_body(metadata: dict[str, Any]) -> dict[str, Any]:
    """A retained checkpoint as Flink's checkpoint details, per vertex and subtask (execution ids
    are ``<vertex>[<subtask>]#<attempt>``)."""
    trigger = metadata.get("trigger-time", 0)
    tasks: dict[str, dict[str, Any]] = {}
    for execution_id, ack in sorted(metadata.get("acks", {}).items()):
        vertex_id, _, rest = execution_id.partition("[")
        task = tasks.setdefault(vertex_id, {"id": vertex_id, "status": "COMPLETED", "state_size": 0,
                                            "latest_ack_timestamp": trigger, "subtasks": []})
        task["state_size"] += ack["size"]
        task["latest_ack_timestamp"] = max(task["latest_ack_timestamp"], trigger + ack["ack_ms"])
        task["subtasks"].append({"index": int(rest.split("]", 1)[0]), "status": "completed",
                                 "ack_timestamp": trigger + ack["ack_ms"], "end_to_end_duration": ack["ack_ms"],
                                 "state_size": ack["size"]})
    for task in tasks.values():
        task["num_subtasks"] = task["num_acknowledged_subtasks"] = len(task["subtasks"])
        task["end_to_end_duration"] = task["latest_ack_timestamp"] - trigger
    return {"id": metadata["id"], "status": "COMPLETED", "is_savepoint": bool(metadata.get("is-savepoint")),
            "trigger_timestamp": trigger, "latest_ack_timestamp": metadata.get("completion-time"),
            "state_size": metadata.get("state-size", 0), "end_to_end_duration": metadata.get("duration"),
            "num_subtasks": len(metadata.get("acks", {})), "tasks": tasks}


def _add_vertex_routes(app: FastAPI, details: Callable[[str], dict[str, Any]], fetcher: MetricFetcher) -> None:
    def vertex_of(job_id: str, vertex_id: str) -> dict[str, Any] | JSONResponse:
        try:
            body = details(job_id)
        except UnknownJobError:
            return _error(404, f"job {job_id} not found")
        vertex = next((v for v in body.get("vertices", []) if v["id"] == vertex_id), None)
        return vertex if vertex is not None else _error(404, f"job {job_id} has no vertex {vertex_id}")

    @app.get("/jobs/{job_id}/vertices/{vertex_id}")
    def vertex(job_id: str, vertex_id: str):
        found = vertex_of(job_id, vertex_id)
        if isinstance(found, JSONResponse):
            return found
        values = vertex_metrics.subtask_values(fetcher.task_samples(job_id), vertex_id)
        return {**found, "now": _now_ms(),
                "subtasks": [{**s, "metrics": values.get(s["subtask"], {})} for s in found.get("subtasks", [])]}

    @app.get("/jobs/{job_id}/vertices/{vertex_id}/subtasks/metrics")
    def subtask_metrics(job_id: str, vertex_id: str, get: str | None = Query(default=None)):
        found = vertex_of(job_id, vertex_id)
        if isinstance(found, JSONResponse):
            return found
        return vertex_metrics.aggregate(fetcher.task_samples(job_id), vertex_id, _names(get))

    @app.get("/jobs/{job_id}/vertices/{vertex_id}/watermarks")
    def watermarks(job_id: str, vertex_id: str):
        found = vertex_of(job_id, vertex_id)
        if isinstance(found, JSONResponse):
            return found
        return vertex_metrics.watermarks(fetcher.task_samples(job_id), vertex_id)

    @app.get("/jobs/{job_id}/vertices/{vertex_id}/backpressure")
    def backpressure(job_id: str, vertex_id: str):
        found = vertex_of(job_id, vertex_id)
        if isinstance(found, JSONResponse):
            return found
        return vertex_metrics.backpressure(fetcher.task_samples(job_id), vertex_id, _now_ms())


def _add_taskmanager_routes(app: FastAPI, fetcher: MetricFetcher) -> None:
    def row(tm: Any) -> dict[str, Any]:
        return {"id": tm.tm_id, "path": tm.address, "metrics-address": tm.address,
                "slotsNumber": int(tm.value("strom_taskmanager_taskSlotsTotal")),
                "freeSlots": int(tm.value("strom_taskmanager_taskSlotsAvailable")),
                "timeSinceLastHeartbeat": _now_ms() - tm.fetched_ms, "error": tm.error}

    def find(tm_id: str) -> Any:
        return next((tm for tm in fetcher.task_managers() if tm.tm_id == tm_id), None)

    @app.get("/taskmanagers")
    def task_managers() -> dict[str, Any]:
        return {"taskmanagers": [row(tm) for tm in sorted(fetcher.task_managers(), key=lambda t: t.tm_id)]}

    @app.get("/taskmanagers/{tm_id}")
    def task_manager(tm_id: str):
        tm = find(tm_id)
        if tm is None:
            return _error(404, f"taskmanager {tm_id} not found (not running, or its metrics are not published)")
        tasks = sorted({(s.labels["job_id"], s.labels["task_name"], s.labels["subtask_index"])
                        for s in tm.samples if "subtask_index" in s.labels})
        return {**row(tm), "tasks": [{"job_id": j, "task_name": n, "subtask_index": int(i)} for j, n, i in tasks]}

    @app.get("/taskmanagers/{tm_id}/metrics")
    def task_manager_metrics(tm_id: str, get: str | None = None):
        tm = find(tm_id)
        if tm is None:
            return _error(404, f"taskmanager {tm_id} not found")
        names = _names(get)
        return [{"id": s.name, "labels": s.labels, "value": s.value} for s in tm.samples
                if names is None or s.name in names]
