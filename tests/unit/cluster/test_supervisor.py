"""The supervisor's pid files, is-ours checks and TERM -> KILL, on real child processes."""

import os
import signal
import sys
import time

import pytest

from strom.cluster.local import is_service
from strom.cluster.supervisor import PidFile, ProcessInfo, StopError, Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)", "sleeper"]
# Ignores SIGTERM, so only SIGKILL ends it.
STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)", "stubborn"]


def ours(name, process):
    return process.argv[-1] == name


@pytest.fixture
def supervisor(tmp_path):
    sup = Supervisor(tmp_path / "run", tmp_path / "logs", ours, stop_timeout_s=0.5, pid_prefix="t-")
    yield sup
    for name in sup.names():
        if sup.pid(name) is not None:
            sup.signal(name, signal.SIGKILL)


def test_pid_file_reads_digits_only(tmp_path):
    pid_file = PidFile(tmp_path / "x.pid")
    assert pid_file.read() is None
    pid_file.write(1234)
    assert pid_file.read() == 1234
    pid_file.path.write_text("12 34\n")
    assert pid_file.read() == 1234
    pid_file.path.write_text("garbage")
    assert pid_file.read() is None
    pid_file.remove()
    pid_file.remove()  # missing is fine


def test_process_info_of_this_process_and_of_none():
    me = ProcessInfo.of(os.getpid())
    assert me is not None and me.cwd == os.getcwd() and me.argv
    assert ProcessInfo.of(2 ** 22 + 1) is None  # above pid_max


def test_start_writes_pid_file_and_log_and_stop_terms(supervisor):
    pid = supervisor.start("sleeper", SLEEPER)
    assert supervisor.pid_file("sleeper").read() == pid == supervisor.pid("sleeper")
    assert supervisor.names() == ["sleeper"]
    assert supervisor.log("sleeper").exists()
    assert supervisor.stop("sleeper") == pid
    assert supervisor.pid("sleeper") is None and not supervisor.pid_file("sleeper").path.exists()
    assert supervisor.stop("sleeper") is None  # not running: nothing to do


def test_a_pid_file_naming_another_process_is_not_ours(supervisor):
    supervisor.pid_file("sleeper").write(os.getpid())  # a reused pid: this test process
    assert supervisor.pid("sleeper") is None
    with pytest.raises(ProcessLookupError):
        supervisor.signal("sleeper", signal.SIGTERM)
    supervisor.stop("sleeper")  # must not signal the test process; removes the stale file
    assert supervisor.names() == []


def test_a_zombie_is_not_running(supervisor):
    pid = supervisor.start("sleeper", SLEEPER)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)  # now a zombie of this process until reaped
    assert supervisor.pid("sleeper") is None
    assert supervisor.names() == ["sleeper"]  # kept, so status can say "stopped"


def test_stop_kills_what_ignores_sigterm(supervisor):
    supervisor.start("stubborn", STUBBORN)
    deadline = time.monotonic() + 10
    while "ready" not in supervisor.log("stubborn").read_text():  # its SIGTERM handler is set
        assert time.monotonic() < deadline
        time.sleep(0.02)
    grace = []
    started = time.monotonic()
    supervisor.stop("stubborn", on_kill=grace.append)
    assert grace == [0.5] and 0.5 <= time.monotonic() - started < 5
    assert supervisor.pid("stubborn") is None


def test_stop_error_names_the_process():
    assert "pid 7" in str(StopError("kafka: pid 7 did not exit after SIGKILL"))


def test_services_are_recognised_by_name():
    service = ProcessInfo(1, ("/venv/bin/python", "-m", "strom", "taskmanager", "--name", "taskmanager-2"), "/")
    assert is_service("taskmanager-2", service)
    assert not is_service("taskmanager-1", service)
    assert not is_service("taskmanager-2", ProcessInfo(1, ("sleep", "--name", "taskmanager-2"), "/"))
