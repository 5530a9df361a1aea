"""Strom service processes on this machine, started in the background.

Used by ``strom cluster up|down|status``, the drills and the integration
tests. Each process has a name (``taskmanager-2``), a pid file
``<state>/run/strom-<name>.pid`` and a log ``<state>/logs/<name>.log``
(:class:`~strom.cluster.supervisor.Supervisor`); nothing is stopped that this
module did not start: the pid must still run ``strom <service> --name <name>``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from strom.cluster.supervisor import ProcessInfo, Supervisor
from strom.config import ClusterOptions, Configuration


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    pid: int | None
    alive: bool
    log: Path


def is_service(name: str, process: ProcessInfo) -> bool:
    """Does ``process`` run the Strom service started as ``name`` (``... strom ... --name NAME``)?"""
    argv = process.argv
    named = any(a == "--name" and b == name for a, b in pairwise(argv))
    return named and any("strom" in a for a in argv)


class LocalCluster:
    """Starts and stops ``strom <service>`` processes under ``state_dir``.

    ``env`` adds environment variables for the children (tests pass their own
    ``STROM_CLUSTER_ID``); ``cluster.stop-timeout`` in it bounds SIGTERM before SIGKILL.
    """

    def __init__(self, state_dir: str | Path, env: dict[str, str] | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.run_dir = self.state_dir / "run"
        self.log_dir = self.state_dir / "logs"
        self.env = {**os.environ, **(env or {})}
        stop_timeout_s = Configuration(env=self.env).get(ClusterOptions.STOP_TIMEOUT) / 1000
        self.supervisor = Supervisor(self.run_dir, self.log_dir, is_service, stop_timeout_s,
                                     pid_prefix="strom-")

    def pid(self, name: str) -> int | None:
        """Pid of ``name`` if it is running and is ours, else None."""
        return self.supervisor.pid(name)

    def start(self, name: str, service: str, *args: str, env: dict[str, str] | None = None) -> int:
        """Start ``strom <service> --name <name> ARGS`` unless already running; returns its pid.

        ``env`` adds variables for this process only.
        """
        existing = self.pid(name)
        if existing is not None:
            return existing
        return self.supervisor.start(name, [sys.executable, "-m", "strom", service, "--name", name, *args],
                                     env={**self.env, **(env or {})})

    def signal(self, name: str, sig: int) -> int:
        """Send ``sig`` to ``name``; returns its pid. Raises ProcessLookupError if not running."""
        return self.supervisor.signal(name, sig)

    def stop(self, name: str) -> None:
        """SIGTERM, then SIGKILL after ``cluster.stop-timeout``; removes the pid file.

        Raises :class:`~strom.cluster.supervisor.StopError` if it survives SIGKILL.
        """
        self.supervisor.stop(name)

    def names(self) -> list[str]:
        return self.supervisor.names()

    def processes(self) -> list[ServiceProcess]:
        rows = []
        for name in self.names():
            pid = self.pid(name)
            rows.append(ServiceProcess(name, pid, pid is not None, self.supervisor.log(name)))
        return rows

    def down(self) -> None:
        for name in self.names():
            self.stop(name)
