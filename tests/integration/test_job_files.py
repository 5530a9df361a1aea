"""Jobs of several files: the modules a job imports from its own directory travel with it, a
package only the client has fails with its name, and --py-files ships one (real cluster)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from strom.config import KafkaOptions

from .conftest import TestCluster
from .test_wordcount import produce, read_all

JOB = Path(__file__).resolve().parent / "jobs" / "multimodule" / "job.py"
LINES = [b"the quick brown fox", b"jumps over the lazy dog", b"The End"] * 50


@pytest.fixture(scope="module")
def running(stack, tmp_path_factory) -> TestCluster:
    cluster = TestCluster(tmp_path_factory.mktemp("job-files"))
    cluster.start_standard(task_managers=2, slots=2)
    yield cluster
    cluster.close()


def topics(cluster: TestCluster) -> tuple[str, str]:
    run = uuid.uuid4().hex[:8]
    source = f"files-in-{run}"
    produce(cluster.config.get(KafkaOptions.BOOTSTRAP), source, LINES)
    return source, f"files-out-{run}"


def final_counts(cluster: TestCluster, topic: str) -> dict[str, int]:
    return {r.key().decode(): int(r.value()) for r in read_all(cluster.config.get(KafkaOptions.BOOTSTRAP), topic)}


def expected(transform=lambda word: word) -> Counter:
    return Counter(transform(w) for line in LINES for w in re.findall(r"[a-z]+", line.decode().lower()))


def extra_module(tmp_path: Path) -> Path:
    """A module only the client can import (on its PYTHONPATH, nowhere on the cluster)."""
    folder = tmp_path / "extra"
    folder.mkdir(exist_ok=True)
    (folder / "strom_test_extra.py").write_text("def shout(word):\n    return word.upper()\n")
    return folder


def test_the_modules_a_job_imports_from_its_directory_travel_with_it(running: TestCluster):
    source, sink = topics(running)
    result = running.strom("run", "-p", "2", str(JOB), "--", source, sink)
    assert result.returncode == 0, result.stdout + result.stderr + running.logs()
    assert final_counts(running, sink) == expected()


def test_a_package_only_the_client_has_fails_the_job_naming_it(running: TestCluster, tmp_path):
    source, sink = topics(running)
    env = {**running.local.env, "PYTHONPATH": str(extra_module(tmp_path))}
    result = subprocess.run([sys.executable, "-m", "strom", "run", "-p", "2", str(JOB), "--", source, sink,
                             "--extra"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1
    assert "job needs the Python package 'strom_test_extra', which is not installed on" in result.stderr, \
        result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_py_files_ships_a_module_the_cluster_lacks(running: TestCluster, tmp_path):
    source, sink = topics(running)
    extra = extra_module(tmp_path)
    result = running.strom("run", "-p", "2", "--py-files", str(extra), str(JOB), "--", source, sink, "--extra")
    assert result.returncode == 0, result.stdout + result.stderr + running.logs()
    assert final_counts(running, sink) == expected(str.upper)
