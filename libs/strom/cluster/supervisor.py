"""Background processes with pid files: start, recognise, signal, stop (SIGTERM, then SIGKILL).

One implementation for both kinds of local process: the stack's Kafka,
ZooKeeper and Redis (:mod:`strom.stack`, behind ``ops/stack``) and the Strom
services (:class:`strom.cluster.local.LocalCluster`, behind ``strom cluster``).

A process is named (``kafka``, ``taskmanager-2``); it has a pid file
``<run_dir>/<pid_prefix><name>.pid`` and a log ``<log_dir>/<name>.log``. A pid
file alone proves nothing: the pid may have been reused by an unrelated
process, or belong to a zombie nobody reaped (PID 1 in a container may not
reap orphans). So every lookup also asks the supervisor's ``is_ours``
predicate about the live process (command line, working directory); a pid
file that names anything else is stale (kept, so status still lists the
name as stopped, until :meth:`Supervisor.stop`). Nothing is signalled that
is not ours.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

# After SIGKILL the kernel needs a moment to tear the process down (Kafka's JVM: ~0.1-1 s).
KILL_WAIT_S = 5.0
POLL_S = 0.05


@dataclass(frozen=True)
class ProcessInfo:
    """What ``/proc`` says about a live (not zombie) process."""

    pid: int
    argv: tuple[str, ...]
    cwd: str | None

    @classmethod
    def of(cls, pid: int) -> ProcessInfo | None:
        """The process ``pid``, or None if it does not exist, is a zombie (exited, not reaped),
        or has no command line (a kernel thread, or a process exiting right now)."""
        proc = Path(f"/proc/{pid}")
        try:
            # The state follows the command name, which may itself contain ") ".
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            argv = tuple(a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0") if a)
        except (OSError, IndexError):
            return None
        if state in ("Z", "X") or not argv:
            return None
        try:
            cwd: str | None = os.readlink(proc / "cwd")
        except OSError:  # another user's process
            cwd = None
        return cls(pid, argv, cwd)

    @property
    def command_line(self) -> str:
        return " ".join(self.argv)


IsOurs = Callable[[str, ProcessInfo], bool]
"""``is_ours(name, process)``: is ``process`` the one this supervisor started as ``name``?"""


class PidFile:
    """A file holding one pid in decimal."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> int | None:
        """The pid, or None if the file is missing or holds no number."""
        try:
            digits = "".join(c for c in self.path.read_text() if c.isdigit())
        except OSError:
            return None
        return int(digits) if digits else None

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{pid}\n")

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class StopError(RuntimeError):
    """A process survived SIGKILL (it is in uninterruptible sleep, or not ours to kill)."""


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = POLL_S) -> bool:
    """Call ``condition`` every ``interval_s`` until it returns True or ``timeout_s`` passed.

    Returns its last result; exceptions of ``condition`` propagate.
    """
    retrying = Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(interval_s),
                        retry=retry_if_result(lambda ok: not ok),
                        retry_error_callback=lambda state: False)
    return bool(retrying(condition))


class Supervisor:
    """Processes under ``run_dir`` (pid files) and ``log_dir`` (logs) recognised by ``is_ours``.

    ``stop_timeout_s`` is how long :meth:`stop` waits after SIGTERM before SIGKILL.
    """

    def __init__(self, run_dir: Path, log_dir: Path, is_ours: IsOurs, stop_timeout_s: float,
                 pid_prefix: str = "") -> None:
        self.run_dir, self.log_dir = Path(run_dir), Path(log_dir)
        self.is_ours = is_ours
        self.stop_timeout_s = stop_timeout_s
        self.pid_prefix = pid_prefix

    def pid_file(self, name: str) -> PidFile:
        return PidFile(self.run_dir / f"{self.pid_prefix}{name}.pid")

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def names(self) -> list[str]:
        """Names that have a pid file (running or not), sorted."""
        suffix = ".pid"
        return sorted(p.name[len(self.pid_prefix):-len(suffix)]
                      for p in self.run_dir.glob(f"{self.pid_prefix}*{suffix}"))

    def pid(self, name: str) -> int | None:
        """Pid of ``name`` if it runs and is ours, else None."""
        pid = self.pid_file(name).read()
        if pid is None:
            return None
        _reap(pid)
        process = ProcessInfo.of(pid)
        return pid if process is not None and self.is_ours(name, process) else None

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> int:
        """Run ``argv`` in a session of its own (a terminal's Ctrl-C does not reach it), output
        appended to its log, and write its pid file; returns the pid.

        Raises OSError if ``argv[0]`` cannot be executed.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log(name), "ab") as log:
            process = subprocess.Popen(list(argv), stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, env=dict(env) if env is not None else None,
                                       cwd=cwd, start_new_session=True)
        self.pid_file(name).write(process.pid)
        return process.pid

    def signal(self, name: str, sig: int) -> int:
        """Send ``sig`` to ``name``; returns its pid. Raises ProcessLookupError if not running."""
        pid = self.pid(name)
        if pid is None:
            raise ProcessLookupError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def stop(self, name: str, on_kill: Callable[[float], None] | None = None) -> int | None:
        """SIGTERM, then SIGKILL after ``stop_timeout_s``; removes the pid file.

        Returns the pid stopped, or None if ``name`` was not running. ``on_kill`` hears the
        grace period that ran out before SIGKILL. Raises :class:`StopError` if the process
        survives SIGKILL for 5 s.
        """
        pid = self.pid(name)
        if pid is not None:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not self._wait_exit(name, pid, self.stop_timeout_s):
                if on_kill is not None:
                    on_kill(self.stop_timeout_s)
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if not self._wait_exit(name, pid, KILL_WAIT_S):
                    raise StopError(f"{name}: pid {pid} did not exit after SIGKILL")
        self.pid_file(name).remove()
        return pid

    def _wait_exit(self, name: str, pid: int, timeout_s: float) -> bool:
        def gone() -> bool:
            _reap(pid)
            process = ProcessInfo.of(pid)
            return process is None or not self.is_ours(name, process)
        return wait_until(gone, timeout_s)


def _reap(pid: int) -> None:
    # A child of this process lingers as a zombie until waited for; others are not ours to wait on.
    with suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
