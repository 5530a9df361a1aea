"""Strom service processes on this machine, started in the background.

Used by ``strom cluster up|down|status`` and by the integration tests. Each
process has a name (``taskmanager-2``), a pid file ``<state>/run/<name>.pid``
and a log ``<state>/logs/<name>.log``; nothing is stopped that this module
did not start (the pid must still run a ``strom`` command).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    pid: int | None
    alive: bool
    log: Path


def _is_ours(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"strom" in cmdline and b"--name" in cmdline


class LocalCluster:
    """Starts and stops ``strom <service>`` processes under ``state_dir``.

    ``env`` adds environment variables for the children (tests pass their own
    ``STROM_CLUSTER_ID``).
    """

    def __init__(self, state_dir: str | Path, env: dict[str, str] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.run_dir = self.state_dir / "run"
        self.log_dir = self.state_dir / "logs"
        self.env = {**os.environ, **(env or {})}

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"strom-{name}.pid"

    def pid(self, name: str) -> int | None:
        """Pid of ``name`` if it is running and is ours, else None."""
        try:
            pid = int(self._pid_file(name).read_text())
        except (OSError, ValueError):
            return None
        return pid if _is_ours(pid) else None

    def start(self, name: str, service: str, *args: str, env: dict[str, str] | None = None) -> int:
        """Start ``strom <service> --name <name> ARGS`` unless already running; returns its pid.

        ``env`` adds variables for this process only.
        """
        existing = self.pid(name)
        if existing is not None:
            return existing
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "strom", service, "--name", name, *args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**self.env, **(env or {})}, start_new_session=True)
        log.close()
        self._pid_file(name).write_text(str(process.pid))
        return process.pid

    def signal(self, name: str, sig: int) -> int:
        """Send ``sig`` to ``name``; returns its pid. Raises ProcessLookupError if not running."""
        pid = self.pid(name)
        if pid is None:
            raise ProcessLookupError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def stop(self, name: str, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``; removes the pid file."""
        pid = self.pid(name)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while _is_ours(pid) and time.monotonic() < deadline:
                _reap(pid)
                time.sleep(0.05)
            if _is_ours(pid):
                os.kill(pid, signal.SIGKILL)
        self._pid_file(name).unlink(missing_ok=True)

    def names(self) -> list[str]:
        return sorted(p.name[len("strom-"):-len(".pid")] for p in self.run_dir.glob("strom-*.pid"))

    def processes(self) -> list[ServiceProcess]:
        return [ServiceProcess(n, self.pid(n), self.pid(n) is not None, self.log_dir / f"{n}.log")
                for n in self.names()]

    def down(self) -> None:
        for name in self.names():
            self.stop(name)


def _reap(pid: int) -> None:
    # A child of this process lingers as a zombie until waited for; others are not ours to wait on.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
