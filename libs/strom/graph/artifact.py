"""The job artifact: the JobGraph with its user functions, cloudpickled, plus the job's own Python files.

An artifact is a zip: ``graph.pickle`` (the cloudpickled JobGraph) and
``python/...``, the files of the job's own modules (:func:`job_python_files`).
``cloudpickle.register_pickle_by_value`` makes functions of the job module
travel by value; the job's other modules travel as files because elements
cross edges with plain ``pickle``, by reference to their classes, and a class
cloudpickle rebuilt by value is not importable by name. Where an artifact is
loaded, the files are written to a directory named by their content and put on
``sys.path`` before the graph is unpickled (as PyFlink's ``--pyFiles``). Module
names are process-wide: two jobs on one TaskManager must not ship different
modules under the same name.

>>> artifact = dump_artifact(JobGraph("j1", "demo", 128, [], [], "dlq"), files={"strom_doc_helpers.py": b"X = 1\\n"})
>>> load_artifact(artifact).job_name
'demo'
>>> import strom_doc_helpers; strom_doc_helpers.X
1
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import socket
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import cloudpickle

from strom.errors import InvalidArtifactError, InvalidJobGraphError
from strom.graph.job_graph import JobGraph

GRAPH = "graph.pickle"
PYTHON = "python/"


def dump_artifact(job_graph: JobGraph, module: ModuleType | None = None,
                  files: Mapping[str, bytes] | None = None) -> bytes:
    """Serialize ``job_graph``; functions defined in ``module`` are pickled by value; ``files``
    (path relative to a ``sys.path`` root -> bytes) travel with it. Raises InvalidJobGraphError for
    a job with a connector that runs locally only (``from_collection``, ``CollectSink``)."""
    local = [op.name for v in job_graph.vertices for op in v.operators if getattr(op.connector, "local_only", False)]
    if local:
        raise InvalidJobGraphError(f"{', '.join(map(repr, local))}: collection sources and collect sinks run "
                                   f"in strom.testing.local.run_locally only, not on a cluster")
    if module is not None:
        cloudpickle.register_pickle_by_value(module)
    try:
        graph = cloudpickle.dumps(job_graph, protocol=5)
    finally:
        if module is not None:
            cloudpickle.unregister_pickle_by_value(module)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(GRAPH, graph)
        for name, data in sorted((files or {}).items()):
            archive.writestr(PYTHON + name, data)
    return buffer.getvalue()


def load_artifact(data: bytes) -> JobGraph:
    """The JobGraph of an artifact, its Python files put on ``sys.path`` first.

    Raises :class:`InvalidArtifactError` with the Python error when it does not load; for a
    missing package it names the package and this host.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            graph = archive.read(GRAPH)
            files = {n[len(PYTHON):]: archive.read(n) for n in archive.namelist() if n.startswith(PYTHON)}
    except (zipfile.BadZipFile, KeyError) as exc:
        raise InvalidArtifactError(f"job artifact is not one strom run makes: {type(exc).__name__}: {exc}") from exc
    if files:
        _install(files)
    try:
        job_graph = pickle.loads(graph)
    except ModuleNotFoundError as exc:
        raise InvalidArtifactError(
            f"job needs the Python package {exc.name!r}, which is not installed on {socket.gethostname()} "
            f"(pid {os.getpid()}): install it there, or ship it with `strom run --py-files`") from exc
    except Exception as exc:
        raise InvalidArtifactError(f"job artifact does not load: {type(exc).__name__}: {exc}") from exc
    if not isinstance(job_graph, JobGraph):
        raise InvalidArtifactError(f"job artifact holds a {type(job_graph).__name__}, not a JobGraph")
    return job_graph


def _install(files: Mapping[str, bytes]) -> None:
    """Write ``files`` under a directory named by their content (once) and put it on sys.path."""
    digest = hashlib.sha256()
    for name, content in sorted(files.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    root = Path(tempfile.gettempdir()) / "strom-python" / digest.hexdigest()[:16]
    for name, content in files.items():
        path = (root / name).resolve()
        if root.resolve() not in path.parents:
            raise InvalidArtifactError(f"job artifact file {name!r} would land outside its directory")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            aside = path.with_name(f".{path.name}.{os.getpid()}")
            aside.write_bytes(content)
            aside.replace(path)  # whole or not at all: another process may import it meanwhile
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def job_python_files(job_file: Path, py_files: Iterable[Path], modules: Iterable[ModuleType]) -> dict[str, bytes]:
    """What to ship with a job: every ``py_files`` entry (a directory's ``.py`` files relative to
    it, a ``.py`` file, a zip's ``.py`` entries: each is a ``sys.path`` root, as PyFlink's
    ``--pyFiles``), and each of ``modules`` (the client's ``sys.modules`` after ``main``) whose
    file lies under the job file's directory, outside any site-packages and not Strom's own,
    relative to it."""
    files: dict[str, bytes] = {}
    for entry in py_files:
        if entry.is_dir():
            files.update({str(p.relative_to(entry)): p.read_bytes() for p in sorted(entry.rglob("*.py"))})
        elif entry.suffix == ".zip":
            with zipfile.ZipFile(entry) as archive:
                files.update({n: archive.read(n) for n in archive.namelist() if n.endswith(".py")})
        else:
            files[entry.name] = entry.read_bytes()
    home = job_file.resolve().parent
    for module in modules:
        path = getattr(module, "__file__", None)
        if not path or not path.endswith(".py") or module.__name__.partition(".")[0] == "strom":
            continue  # Strom itself is installed where jobs run (and may live in a checkout beside the job)
        resolved = Path(path).resolve()
        if home in resolved.parents and resolved != job_file.resolve() and not any(
                part in ("site-packages", "dist-packages") for part in resolved.parts):
            files.setdefault(str(resolved.relative_to(home)), resolved.read_bytes())
    return files
