"""The JobManager's REST API (FastAPI on uvicorn), in Flink's REST shapes.

    GET   /                     the web UI (no token: the page asks for it); /web/... its files
    GET   /jobs                 {"jobs": [{"id", "name", "status"}]}
    POST  /jobs                 body: job artifact (application/octet-stream) -> 202 {"jobid"}
    GET   /jobs/{id}            job details: state, vertices, subtasks, error
    PATCH /jobs/{id}?mode=cancel
    GET   /jobs/{id}/checkpoints  latest completed checkpoint, counts, failed ones with reasons
    POST  /jobs/{id}/savepoints   {"cancel-job": bool} -> 202 {"request-id"}
    GET   /jobs/{id}/savepoints/{request-id}  {"status": {"id"}, "operation": {"location"}}
    GET   /savepoints                {"savepoints": [{"id", "job-id", "checkpoint-id"}]}, oldest first
    POST  /savepoint-disposal        {"savepoint-path": id} -> 200 {"status": {"id": "COMPLETED"}}
                                     (Flink answers 202 and a trigger id; disposal here is one Redis
                                     transaction, so it is done when the answer comes)

The monitoring routes (/overview, /jobs/overview, vertices, metrics, TaskManagers) are in
:mod:`strom.jobmanager.rest_monitoring`.

Errors are ``{"errors": [message]}`` with 400/401/404/409/413/503. Every request
must carry the cluster's bearer token (:mod:`strom.credentials`): without it the
answer is 401 before anything of the body is read, and a body over
``rest.max-body-bytes`` is refused with 413 while it arrives. A standby
JobManager answers 307 to the leader's address; Strom's client does not follow
it with its token but looks the leader up in ZooKeeper itself. A JobManager that
lost leadership while serving a request (a resumed, deposed leader) answers 503:
its control messages and Redis writes were refused by fencing.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import Body, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from strom.config import Configuration, RestOptions
from strom.credentials import bearer_matches
from strom.errors import (
    ConfigError,
    FencedError,
    InvalidArtifactError,
    JobStateError,
    UnknownJobError,
    UnknownSavepointError,
)
from strom.jobmanager.rest_monitoring import add_monitoring_routes
from strom.jobmanager.vertex_metrics import vertex_io_metrics
from strom.logs import get_logger
from strom.metrics.fetcher import MetricFetcher
from strom.metrics.reporter import MetricEndpoints

log = get_logger("jobmanager")

WEB_DIR = Path(__file__).resolve().parent / "web"
PUBLIC_PATHS = frozenset({"/", "/docs", "/openapi.json", "/favicon.ico"})
SAVEPOINT_REQUEST = Body(default={})  # POST /jobs/{id}/savepoints: {"cancel-job": bool}, optional
DISPOSAL_REQUEST = Body(...)  # POST /savepoint-disposal: {"savepoint-path": id}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": [message]}, status_code=status)


class Guard:
    """ASGI middleware in front of every route: 401 without the bearer token (before the body is
    read, so nothing of an unauthenticated request is parsed, let alone unpickled), 413 for a body
    over ``max_body_bytes`` (by Content-Length, and counted as it arrives for one without)."""

    def __init__(self, app: Any, token: str, max_body_bytes: int) -> None:
        self.app, self.token, self.max_body_bytes = app, token, max_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if is_public(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        if not bearer_matches(headers.get("authorization"), self.token):
            log.warning("rejected: no valid bearer token", method=scope["method"], path=scope["path"])
            unauthorized = _error(401, "this JobManager needs the cluster's bearer token (Authorization: "
                                       "Bearer ...; strom reads it from rest.token or rest.token-file)")
            unauthorized.headers["WWW-Authenticate"] = "Bearer"
            await unauthorized(scope, receive, send)
            return
        if int(headers.get("content-length") or 0) > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        received, refused = 0, False

        async def counted() -> dict[str, Any]:
            # A body without Content-Length: answer 413 once it passes the limit, and tell the
            # app the client left (FastAPI would turn an exception here into a 400).
            nonlocal received, refused
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes and not refused:
                refused = True
                await self._too_large(scope, receive, send)
            return {"type": "http.disconnect"} if refused else message

        async def unless_refused(message: dict[str, Any]) -> None:
            if not refused:
                await send(message)
        try:
            await self.app(scope, counted, unless_refused)
        except Exception:
            if not refused:
                raise

    async def _too_large(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await _error(413, f"request body over rest.max-body-bytes ({self.max_body_bytes} bytes)")(
            scope, receive, send)


def create_app(call: Callable[[Callable[[], Any]], Any], leader_address: Callable[[], str | None],
               is_leader: Callable[[], bool], dispatcher: Callable[[], Any],
               confirm_leadership: Callable[[], bool] = lambda: True, *, token: str,
               max_body_bytes: int = 64 << 20, monitoring: Monitoring | None = None) -> FastAPI:
    """``call(fn)`` runs ``fn`` on the JobManager's main thread and returns its result.

    ``confirm_leadership()`` asks ZooKeeper (blocking) whether this process still leads; it
    guards requests that change something, so a leader that was frozen past its session and
    has not noticed yet answers 503 instead of acting. ``token``: the bearer token every request
    must carry; ``max_body_bytes``: the largest body taken (see :class:`Guard`). ``monitoring``:
    what the monitoring routes and the web UI read (:mod:`strom.jobmanager.rest_monitoring`).
    """
    app = FastAPI(title="Strom JobManager", version="1")

    async def fenced(request: Request, exc: Exception) -> JSONResponse:
        log.warning("rejected by fencing: no longer leader", method=request.method,
                    path=request.url.path, error=str(exc))
        return _error(503, f"this JobManager no longer leads ({exc}); ask the leader")

    app.add_exception_handler(FencedError, fenced)

    @app.middleware("http")
    async def follow_the_leader(request: Request, call_next):
        if is_leader() or is_public(request.method, request.url.path):  # a standby serves the UI's files
            if request.method != "GET" and not await asyncio.to_thread(confirm_leadership):
                log.warning("rejected by fencing: no longer leader", method=request.method,
                            path=request.url.path, error="ZooKeeper names another leader")
                return _error(503, "this JobManager no longer leads; ask the leader")
            return await call_next(request)
        address = leader_address()
        if not address:
            return _error(503, "no JobManager leader elected yet; retry shortly")
        return RedirectResponse(address + request.url.path +
                                (f"?{request.url.query}" if request.url.query else ""), status_code=307)

    # Added last, so outermost (Starlette): no redirect, ZooKeeper check or route before the token.
    app.add_middleware(Guard, token=token, max_body_bytes=max_body_bytes)

    if monitoring is not None:  # first: /jobs/overview and /jobs/metrics before /jobs/{job_id}
        add_monitoring_routes(app, call, dispatcher, monitoring.fetcher, monitoring.endpoints,
                              monitoring.config_rows, monitoring.cluster_id, leader_address)
        _add_web_ui(app)
    _add_job_routes(app, call, dispatcher, leader_address, monitoring.fetcher if monitoring else None)
    _add_checkpoint_routes(app, call, dispatcher)
    return app


@dataclass(frozen=True)
class Monitoring:
    """What the monitoring routes read: TaskManager metrics, the metric endpoints, the
    configuration as shown (``config_rows()``: (key, value), secrets redacted) and the cluster id."""

    fetcher: MetricFetcher
    endpoints: MetricEndpoints
    config_rows: Callable[[], list[tuple[str, str]]]
    cluster_id: str


def is_public(method: str, path: str) -> bool:
    """The web UI's files and the API description: served without the token (they hold no data;
    the page asks for the token and sends it with every API call)."""
    return method in ("GET", "HEAD") and (path in PUBLIC_PATHS or path.startswith("/web/"))


def _add_web_ui(app: FastAPI) -> None:
    """``/`` is the UI's page, ``/web/...`` its scripts, styles and vendored libraries."""
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html")

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")


def _add_job_routes(app: FastAPI, call: Callable[[Callable[[], Any]], Any], dispatcher: Callable[[], Any],
                    leader_address: Callable[[], str | None], fetcher: MetricFetcher | None) -> None:
    """``/jobs``: list, submit, details (with each vertex's metrics), cancel."""
    @app.get("/jobs")
    def list_jobs() -> dict[str, Any]:
        return {"jobs": call(lambda: dispatcher().overview())}

    @app.post("/jobs", status_code=202)
    def submit(artifact: bytes = Body(..., media_type="application/octet-stream")):
        try:
            job_id = call(lambda: dispatcher().submit(artifact))
        except InvalidArtifactError as exc:
            return _error(400, str(exc))
        return {"jobid": job_id}

    @app.get("/jobs/{job_id}")
    def job_details(job_id: str):
        try:
            details = call(lambda: dispatcher().details(job_id))
        except UnknownJobError:
            return _error(404, f"job {job_id} not found")
        samples = fetcher.task_samples(job_id) if fetcher is not None and details.get("end-time", -1) < 0 else []
        return {**details, "now": int(time.time() * 1000),
                "vertices": [{**v, "metrics": vertex_io_metrics(samples, v["id"])}
                             for v in details.get("vertices", [])]}

    @app.patch("/jobs/{job_id}", status_code=202)
    def cancel(job_id: str, mode: str = "cancel"):
        if mode != "cancel":
            return _error(400, f"unsupported mode {mode!r}; use mode=cancel")
        try:
            call(lambda: dispatcher().cancel(job_id))
        except UnknownJobError:
            return _error(404, f"job {job_id} not found")
        return {}


def _add_checkpoint_routes(app: FastAPI, call: Callable[[Callable[[], Any]], Any],
                           dispatcher: Callable[[], Any]) -> None:
    """``/jobs/{id}/checkpoints`` and ``/jobs/{id}/savepoints``."""
    @app.get("/jobs/{job_id}/checkpoints")
    def checkpoints(job_id: str):
        try:
            details = call(lambda: dispatcher().details(job_id))
        except UnknownJobError:
            return _error(404, f"job {job_id} not found")
        return details.get("checkpoints") or {"counts": {}, "latest": None, "history": []}

    @app.post("/jobs/{job_id}/savepoints", status_code=202)
    def trigger_savepoint(job_id: str, request: dict[str, Any] = SAVEPOINT_REQUEST):
        cancel_job = bool(request.get("cancel-job", False))
        try:
            request_id = call(lambda: dispatcher().running(job_id).trigger_savepoint(cancel_job))
        except UnknownJobError:
            return _error(404, f"job {job_id} is not running")
        except JobStateError as exc:
            return _error(409, str(exc))
        return {"request-id": request_id}

    @app.get("/jobs/{job_id}/savepoints/{request_id}")
    def savepoint_status(job_id: str, request_id: str):
        try:
            details = call(lambda: dispatcher().details(job_id))
        except UnknownJobError:
            return _error(404, f"job {job_id} not found")
        status = (details.get("savepoints") or {}).get(request_id)
        if status is None:
            return _error(404, f"no savepoint request {request_id} for job {job_id}")
        return {"status": {"id": status["status"]},
                "operation": {"location": status.get("location"), "failure-cause": status.get("reason")}}

    @app.get("/savepoints")
    def savepoints() -> dict[str, Any]:
        return {"savepoints": call(lambda: dispatcher().savepoints())}

    @app.post("/savepoint-disposal")
    def dispose_savepoint(request: dict[str, Any] = DISPOSAL_REQUEST):
        savepoint_id = request.get("savepoint-path")
        if not isinstance(savepoint_id, str):
            return _error(400, 'the body needs "savepoint-path": the savepoint id')
        try:
            call(lambda: dispatcher().dispose_savepoint(savepoint_id))
        except UnknownSavepointError:
            return _error(404, f"savepoint {savepoint_id} not found")
        except JobStateError as exc:
            return _error(409, str(exc))
        return {"status": {"id": "COMPLETED"}}



def rest_tls(config: Configuration) -> dict[str, Any]:
    """uvicorn's ``ssl_*`` arguments from ``security.ssl.rest.*`` (Flink's REST SSL options);
    empty when TLS is off. Raises :class:`~strom.errors.ConfigError` when TLS is on without a
    readable certificate and key file, naming the setting."""
    if not config.get(RestOptions.SSL_ENABLED):
        return {}
    tls: dict[str, Any] = {"ssl_certfile": config.get(RestOptions.SSL_CERT_FILE),
                           "ssl_keyfile": config.get(RestOptions.SSL_KEY_FILE)}
    for option, path in zip((RestOptions.SSL_CERT_FILE, RestOptions.SSL_KEY_FILE), tls.values(), strict=True):
        if not path or not Path(path).is_file():
            raise ConfigError(f"{RestOptions.SSL_ENABLED.key} is on but {option.key} "
                              f"({option.env_var}) {'is not set' if not path else f'names no file: {path}'}")
    if password := config.get(RestOptions.SSL_KEY_PASSWORD):
        tls["ssl_keyfile_password"] = password
    return tls


class RestServer:
    """uvicorn in a daemon thread on a socket bound up front (port 0 = any free port); over TLS
    when ``tls`` holds uvicorn's ``ssl_*`` arguments (:func:`rest_tls`)."""

    def __init__(self, app: FastAPI, host: str, port: int, tls: dict[str, Any] | None = None) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind((host, port))
        self.host, self.port, self.scheme = host, self.socket.getsockname()[1], "https" if tls else "http"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, **(tls or {})))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       name="rest", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
