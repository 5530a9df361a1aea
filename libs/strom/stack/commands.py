"""The commands of ``ops/stack``: up, stop, down, restart, status over the stack's components.

Processes are supervised by :class:`~strom.cluster.supervisor.Supervisor` (pid
files ``<state>/run/<component>.pid``, logs ``<state>/logs/<component>.log``).
A port already served by a healthy server this state dir did not start (the
stack of another checkout) is used as is, and stop/restart of it refuse.
Commands that change processes hold ``<state>/run/stack.lock``.
"""

from __future__ import annotations

import fcntl
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import datetime
from pathlib import Path

from strom.cluster.supervisor import ProcessInfo, StopError, Supervisor, wait_until
from strom.config import Configuration
from strom.stack.components import COMPONENTS, Component, Kafka, SchemaRegistry, StackSettings
from strom.stack.console import PROG, Console, StackError, seconds
from strom.stack.install import Installer
from strom.stack.secure import SecureSetupError, write_env_file

LOCK_TIMEOUT_S = 600.0          # another ops/stack command (a Maven download) may hold the lock this long
HEALTH_POLL_S = 0.1
LOG_ROTATE_BYTES = 64 * 1024 * 1024  # keep one previous log when it grew past this


class UnknownComponentError(ValueError):
    """A command named a component the stack does not have."""


def describe_state(running: bool, port_in_use: bool, healthy: bool, owner: str) -> str:
    """A component's state for ``status``: ``running`` = ours (pid file and process agree)."""
    if running:
        return "healthy" if healthy else "unhealthy"
    if not port_in_use:
        return "stopped"
    if healthy:
        return f"healthy (external: not started from this state dir; {owner})"
    return f"stopped (port in use by another process: {owner})"


def status_line(name: str, pid: int | None, port: int, state: str) -> str:
    """One line of ``status``: name, pid (``-`` if not ours), address, state."""
    return f"{name:<10} pid={pid if pid is not None else '-':<8} 127.0.0.1:{port:<6} {state}"


def port_in_use(port: int) -> bool:
    """Does anything accept TCP connections on 127.0.0.1:``port``? (Not a health check.)"""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def port_owner(port: int) -> str:
    """Who listens on ``port``, for messages: ``pid N java .../server.properties`` (its config
    file names the state dir) or ``pid N redis-server in DIR``, if ``ss`` can tell."""
    try:
        out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True).stdout
    except OSError:
        out = ""
    digits = out.split("pid=", 1)[1].split(",", 1)[0] if "pid=" in out else ""
    process = ProcessInfo.of(int(digits)) if digits.isdigit() else None
    if process is None:
        return "owner unknown"
    if process.command_line.startswith("redis-server"):
        return f"pid {process.pid} redis-server in {process.cwd or '?'}"
    command = Path(process.argv[0]).name if process.argv else "?"
    return f"pid {process.pid} {command} {(process.argv[-1] if process.argv else '')[:120]}"


@contextmanager
def exclusive(lock_path: Path, console: Console) -> Iterator[None]:
    """Hold the stack's lock file (waiting up to 10 min: another command may be downloading jars).

    Raises :class:`StackError` if another command still holds it then.
    """
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:  # not inherited by the servers (PEP 446)
        def take() -> bool:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False
        if not wait_until(take, LOCK_TIMEOUT_S, 0.2):
            console.warn(f"{PROG}: another ops/stack command holds {lock_path}")
            raise StackError("locked")
        yield


def start_log(log: Path, name: str) -> None:
    """Rotate ``log`` if it grew too big, then mark where this start's output begins."""
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.is_file() and log.stat().st_size > LOG_ROTATE_BYTES:
        log.replace(log.with_name(log.name + ".1"))
    with open(log, "a") as out:
        out.write(f"\n==== {datetime.now().astimezone().isoformat(timespec='seconds')}: "
                  f"ops/stack starting {name} ====\n")


def started_process_runs(pid: int | None) -> bool:
    """Whether the process just started as ``pid`` still runs (not exited, not a zombie). Right
    after exec its command line can still be empty (seen with Redis), so the supervisor cannot
    tell it is ours yet; its pid, seconds old, cannot have been reused."""
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def secure_marker(state: Path) -> Path:
    """Present while the state dir's stack was last started with ``up --secure``."""
    return state / "run" / "secure"


def enter_mode(stack: Stack) -> None:
    """Before ``up``: refuse to mix plain and secure components (clients could not use the
    stack); else record the mode and, for the secure stack, make its secrets and certificates.

    Raises :class:`StackError` after saying why.
    """
    settings, marker = stack.settings, secure_marker(stack.settings.state)
    running = [name for name in stack.components if stack.supervisor.pid(name) is not None]
    if running and marker.is_file() != settings.secure:
        was, flag = ("secure", " --secure") if marker.is_file() else ("plain", "")
        stack.console.warn(f"{PROG}: the stack of {settings.state} runs {was} ({', '.join(running)}); "
                           f"use '{PROG} up{flag}', or '{PROG} down' first to switch (each mode keeps "
                           f"its own data)")
        raise StackError("mode mismatch")
    if not settings.secure:
        marker.unlink(missing_ok=True)
        return
    files = settings.files
    if not files.complete:
        stack.console.say(f"secure: making passwords and certificates (keytool) under {files.dir} ...")
    try:
        files.ensure()
    except SecureSetupError as exc:
        stack.console.warn(f"secure: FAILED: {exc}")
        raise StackError(str(exc)) from exc
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()


class Stack:
    """Kafka, ZooKeeper, Redis and the schema registry of one state dir, configured by
    :class:`StackOptions` (and :class:`~strom.config.SchemaRegistryOptions`); ``secure``: that
    of ``up --secure`` (None: the mode it last started in). Commands raise :class:`StackError`
    when they fail, after explaining why on the console.
    """

    def __init__(self, config: Configuration, console: Console | None = None, secure: bool | None = None) -> None:
        recorded = secure_marker(StackSettings.from_config(config).state).is_file()
        self.settings = StackSettings.from_config(config, recorded if secure is None else secure)
        self.console = console or Console()
        self.components: dict[str, Component] = {cls.name: cls(self.settings) for cls in COMPONENTS}
        self.supervisor = Supervisor(self.settings.run, self.settings.logs,
                                     lambda name, process: self.components[name].is_ours(process),
                                     self.settings.stop_timeout_s)
        self.installer = Installer(self.console, self.settings.logs, self.settings.kafka_libs)

    @property
    def kafka(self) -> Kafka:
        kafka = self.components["kafka"]
        assert isinstance(kafka, Kafka)
        return kafka

    def select(self, names: Sequence[str]) -> list[str]:
        """``names`` in start order (all components if empty).

        Raises :class:`UnknownComponentError` for a name that is not a component.
        """
        unknown = [n for n in names if n not in self.components]
        if unknown:
            raise UnknownComponentError(f"{PROG}: unknown component '{unknown[0]}' "
                                        f"(expected: {' '.join(self.components)})")
        return [n for n in self.components if not names or n in names]

    # -- up -------------------------------------------------------------------------------
    def locked(self) -> AbstractContextManager[None]:
        return exclusive(self.settings.run / "stack.lock", self.console)

    def up(self, names: Sequence[str] = ()) -> None:
        with self.locked():
            selected = self.select(names)
            enter_mode(self)
            self._up(selected)

    def _up(self, names: list[str]) -> None:
        started = time.monotonic()
        self.console.say(f"stack: state dir {self.settings.state}")
        self.installer.apt_install([p for n in names for p in self.components[n].missing_packages()])
        if "kafka" in names:
            self.installer.ensure_kafka_libs()
        if "registry" in names:
            registry = self.components["registry"]
            assert isinstance(registry, SchemaRegistry)
            self.installer.ensure_registry(registry)
        waiting: dict[str, float] = {}
        failed = False
        for name in sorted(names, key=("kafka", "registry", "zookeeper", "redis").index):  # the slowest first
            try:
                launched = self._launch(self.components[name])
            except StackError:
                failed = True
                continue
            if launched is not None:
                waiting[name] = launched
        with ThreadPoolExecutor(max_workers=len(waiting) or 1) as pool:
            results = list(pool.map(lambda item: self._await_healthy(*item), waiting.items()))
        if failed or not all(results):
            self.console.warn(f"stack: up FAILED after {seconds(started)} s")
            raise StackError("up failed")
        if not self.settings.secure:
            self.console.say(f"stack: up in {seconds(started)} s — {self.env_line()}")
            return
        write_env_file(self.settings.env_file, self.settings.env_exports())
        self.console.say(f"stack: up in {seconds(started)} s — {mode_line(self.settings)}")

    def _fail(self, component: Component, message: str) -> StackError:
        self.console.warn(f"{component.name}: FAILED: {message}")
        self.console.tail(self.supervisor.log(component.name))
        return StackError(f"{component.name}: {message}")

    def _launch(self, component: Component) -> float | None:
        """Start ``component`` unless it runs; returns when it started if ``up`` must wait for it."""
        name, port, say = component.name, component.port, self.console.say
        pid = self.supervisor.pid(name)
        if pid is not None:
            if component.healthy():
                say(f"{name}: already running (pid {pid}) on 127.0.0.1:{port}, healthy")
                return None
            say(f"{name}: already running (pid {pid}) on 127.0.0.1:{port}, waiting for it to be healthy")
            return time.monotonic()
        if port_in_use(port):
            if component.healthy():
                say(f"{name}: 127.0.0.1:{port} already serves a healthy {name} not started from this state dir "
                    f"({port_owner(port)}); using it (stop/restart {name} will refuse)")
                return None
            raise self._fail(component, f"port 127.0.0.1:{port} is in use by a process this stack did not start "
                                        f"({port_owner(port)})")
        controller = self.settings.kafka_controller_port
        if isinstance(component, Kafka) and port_in_use(controller):
            raise self._fail(component, f"controller port 127.0.0.1:{controller} is in use by another process")
        log = self.supervisor.log(name)
        start_log(log, name)
        started = time.monotonic()
        component.write_config()
        if isinstance(component, Kafka) and not component.formatted:
            self._format(component, log)
        try:
            pid = self.supervisor.start(name, component.command(log))
        except OSError as exc:
            raise self._fail(component, f"could not launch: {exc}") from exc
        if isinstance(component, Kafka):
            say(f"kafka: starting Kafka {component.version()} (KRaft) on 127.0.0.1:{port}, "
                f"controller :{controller} (pid {pid}) ...")
        else:
            say(f"{name}: starting on 127.0.0.1:{port} (pid {pid}) ...")
        return started

    def _format(self, kafka: Kafka, log: Path) -> None:
        cluster_id = kafka.cluster_id()
        self.console.say(f"kafka: formatting storage (cluster id {cluster_id})")
        with open(log, "ab") as out:
            code = subprocess.call(kafka.format_command(cluster_id), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        if code != 0:
            raise self._fail(kafka, "storage format failed")

    def _await_healthy(self, name: str, started: float) -> bool:
        """Wait until ``name`` serves, exits, or its start timeout passes (then stop it)."""
        component = self.components[name]
        timeout_s = self.settings.start_timeouts_s[name]
        outcome: list[str] = []

        def settled() -> bool:
            if component.healthy():
                outcome.append("healthy")
            elif self.supervisor.pid(name) is None and not started_process_runs(self.supervisor.pid_file(name).read()):
                outcome.append("exited")
            return bool(outcome)
        wait_until(settled, max(0.0, started + timeout_s - time.monotonic()), HEALTH_POLL_S)
        if outcome == ["healthy"]:
            try:
                component.on_healthy()
            except SecureSetupError as exc:
                self._fail(component, str(exc))
                return False
            self.console.say(f"{name}: healthy in {seconds(started)} s "
                             f"(pid {self.supervisor.pid_file(name).read() or '?'}, 127.0.0.1:{component.port})")
            return True
        if outcome == ["exited"]:
            self._fail(component, f"process exited during startup (after {seconds(started)} s)")
            return False
        self._fail(component, f"not healthy after {timeout_s:g} s; stopping it")
        with suppress(StackError):  # reported; up fails anyway
            self._stop_one(name, strict=False, quiet=True)
        return False

    # -- stop -----------------------------------------------------------------------------
    def stop(self, names: Sequence[str], strict: bool = True) -> None:
        """Stop ``names`` (all if empty) in reverse start order. ``strict``: a component served
        by a process this state dir did not start is an error (else it is left alone)."""
        with self.locked():
            self._stop(self.select(names), strict)

    def _stop(self, names: list[str], strict: bool) -> None:
        errors = []
        for name in reversed(names):
            try:
                self._stop_one(name, strict)
            except StackError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def _stop_one(self, name: str, strict: bool, quiet: bool = False) -> None:
        component, say = self.components[name], self.console.say
        pid = self.supervisor.pid(name)
        if pid is None:
            self.supervisor.pid_file(name).remove()
            port = component.port
            if port_in_use(port):
                if strict:
                    raise self._fail(component, f"cannot stop: 127.0.0.1:{port} is served by a process this "
                                                f"state dir ({self.settings.state}) did not start "
                                                f"({port_owner(port)})")
                self.console.warn(f"{name}: not started from this state dir, left alone: 127.0.0.1:{port} "
                                  f"is served by {port_owner(port)}")
            elif not quiet:
                say(f"{name}: not running")
            return
        started = time.monotonic()
        if not quiet:
            say(f"{name}: stopping (pid {pid}) ...")
        try:
            self.supervisor.stop(name, on_kill=lambda grace_s: self.console.warn(
                f"{name}: still alive after {grace_s:g} s, sending SIGKILL"))
        except StopError as exc:
            raise self._fail(component, f"pid {pid} did not exit") from exc
        if not quiet:
            say(f"{name}: stopped in {seconds(started)} s")

    def down(self, purge: bool = False) -> None:
        """Stop everything this state dir started; ``purge`` also deletes data and logs."""
        with self.locked():
            self._stop(self.select(()), strict=False)
            if purge:
                for name in (*self.components, "logs", self.settings.files.dir.name):
                    shutil.rmtree(self.settings.state / name, ignore_errors=True)
                self.settings.env_file.unlink(missing_ok=True)
                secure_marker(self.settings.state).unlink(missing_ok=True)
                self.settings.logs.mkdir(parents=True, exist_ok=True)
                self.console.say(f"stack: purged data and logs under {self.settings.state} "
                                 f"(kept jar cache {self.settings.kafka_libs})")

    def restart(self, names: Sequence[str] = ()) -> None:
        selected = self.select(names)
        started = time.monotonic()
        with self.locked():
            self._stop(selected, strict=True)
            self._up(selected)
        self.console.say(f"stack: restart of {' '.join(selected)} took {seconds(started)} s (stop + start)")

    # -- status ---------------------------------------------------------------------------
    def status(self, deep: bool = False) -> bool:
        """Print one line per component; True if all are healthy (and, ``deep``, Kafka's
        BrokerApiVersionsCommand succeeded)."""
        all_healthy = True
        for name, component in self.components.items():
            pid = self.supervisor.pid(name)
            in_use = pid is not None or port_in_use(component.port)
            healthy = in_use and component.healthy()
            state = describe_state(pid is not None, in_use, healthy,
                                   port_owner(component.port) if pid is None and in_use else "")
            all_healthy &= state.startswith("healthy")
            if state == "healthy" and component.detail():
                state = f"healthy ({component.detail()})"
            self.console.say(status_line(name, pid, component.port, state))
        self.console.say(mode_line(self.settings))
        if deep and self.supervisor.pid("kafka") is not None:
            all_healthy &= api_versions(self)
        return all_healthy

    def env_line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.settings.env_exports().items())

    def prepare_kafka_tools(self) -> list[str]:
        """Install Java and the Kafka jars if missing; returns the ``java`` command prefix (class
        path and tool logging) for ``kafka-run``."""
        self.installer.apt_install(self.kafka.missing_packages())
        self.installer.ensure_kafka_libs()
        return self.kafka.java()


def mode_line(settings: StackSettings) -> str:
    """The last line of ``status``: plain or secure, and for the secure stack where its client settings are."""
    if not settings.secure:
        return "stack: plain (no authentication; `up --secure` for a locked-down stack)"
    return (f"stack: SECURE (Kafka SASL_SSL + SCRAM-SHA-512 with ACLs, ZooKeeper authentication enforced, "
            f"Redis TLS + password); clients: set -a; . {settings.env_file}; set +a")


def api_versions(stack: Stack) -> bool:
    """``status --deep``: Kafka's BrokerApiVersionsCommand against the plain broker (its output in
    ``run/api-versions.out``); skipped, True, for the secure one (the command would need a
    client properties file of the credentials)."""
    if stack.settings.secure:
        stack.console.say("kafka: BrokerApiVersionsCommand skipped on the secure stack")
        return True
    out = stack.settings.run / "api-versions.out"
    with open(out, "w") as sink:
        code = subprocess.call(stack.kafka.java("org.apache.kafka.tools.BrokerApiVersionsCommand",
                                                "--bootstrap-server", f"127.0.0.1:{stack.settings.kafka_port}"),
                               stdout=sink, stderr=subprocess.STDOUT)
    if code == 0:
        stack.console.say(f"kafka: BrokerApiVersionsCommand OK: {out.read_text().splitlines()[0]}")
        return True
    stack.console.warn("kafka: BrokerApiVersionsCommand FAILED:")
    stack.console.tail(out)
    return False
