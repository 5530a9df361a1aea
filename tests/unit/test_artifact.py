"""The job artifact: graph plus the job's own Python files, shipped and installed (no services)."""

import io
import sys
import types
import zipfile

import pytest

from strom.errors import InvalidArtifactError
from strom.graph.artifact import dump_artifact, job_python_files, load_artifact
from strom.graph.job_graph import JobGraph


def graph() -> JobGraph:
    return JobGraph("j1", "demo", 128, [], [], "dlq")


def module(name: str, path) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    return mod


def test_what_is_shipped_py_files_and_modules_from_the_jobs_directory_only(tmp_path):
    job_dir, lib = tmp_path / "job", tmp_path / "lib"
    (job_dir / "pkg").mkdir(parents=True)
    lib.mkdir()
    for path in (job_dir / "job.py", job_dir / "helpers.py", job_dir / "pkg" / "__init__.py", lib / "extra.py"):
        path.write_text(f"# {path.name}\n")
    (job_dir / "venv" / "site-packages").mkdir(parents=True)
    (job_dir / "venv" / "site-packages" / "numpyish.py").write_text("")
    with zipfile.ZipFile(tmp_path / "zipped.zip", "w") as archive:
        archive.writestr("zmod.py", "# zipped\n")
        archive.writestr("README.txt", "not python")
    modules = [module("helpers", job_dir / "helpers.py"), module("pkg", job_dir / "pkg" / "__init__.py"),
               module("strom_job_job", job_dir / "job.py"),  # the job module travels by value
               module("numpyish", job_dir / "venv" / "site-packages" / "numpyish.py"),
               module("json", "/usr/lib/python3/json/__init__.py"), types.ModuleType("builtin_like"),
               module("strom.api", job_dir / "libs" / "strom" / "api.py")]  # a checkout beside the job
    files = job_python_files(job_dir / "job.py", [lib, tmp_path / "zipped.zip"], modules)
    assert files == {"extra.py": b"# extra.py\n", "zmod.py": b"# zipped\n", "helpers.py": b"# helpers.py\n",
                     "pkg/__init__.py": b"# __init__.py\n"}


def test_shipped_files_are_importable_where_the_artifact_is_loaded():
    artifact = dump_artifact(graph(), files={"strom_shipped_pkg/__init__.py": b"",
                                             "strom_shipped_pkg/mod.py": b"VALUE = 42\n"})
    assert load_artifact(artifact).job_id == "j1"
    from strom_shipped_pkg.mod import VALUE
    assert VALUE == 42
    sys.modules.pop("strom_shipped_pkg.mod"), sys.modules.pop("strom_shipped_pkg")


def test_a_file_may_not_land_outside_its_directory():
    with pytest.raises(InvalidArtifactError, match="outside its directory"):
        load_artifact(dump_artifact(graph(), files={"../../escaped.py": b""}))


def test_not_an_artifact_and_a_missing_package_say_so():
    with pytest.raises(InvalidArtifactError, match="not one strom run makes"):
        load_artifact(b"\x80\x05junk")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # a pickle that imports a module nobody has
        archive.writestr("graph.pickle", b"\x80\x04\x95\x19\x00\x00\x00\x00\x00\x00\x00\x8c\x0fno_such_pkg_xyz"
                                         b"\x94\x8c\x01f\x94\x93\x94.")
    with pytest.raises(InvalidArtifactError, match="needs the Python package 'no_such_pkg_xyz'"):
        load_artifact(buffer.getvalue())
