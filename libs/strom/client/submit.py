"""``strom run``: load a job file, run its ``main``, submit the JobGraph it builds.

A job that fails to import, or whose graph is invalid, is rejected here, in
the client, with the Python error and the job file's line; nothing reaches
the cluster.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from strom.api.executor import ExecutionContext, execution_context
from strom.client.jobs import JobClient
from strom.client.progress import ProgressPrinter
from strom.config import ClusterOptions, Configuration
from strom.errors import ConfigError, InvalidJobGraphError, JobClientError
from strom.graph.artifact import dump_artifact, job_python_files
from strom.graph.explain import explain
from strom.graph.job_graph import JobGraph


def _where(exc: BaseException, job_file: Path) -> str:
    """'file:line' of the deepest frame in the job file (or the last frame)."""
    frames = traceback.extract_tb(exc.__traceback__)
    in_job = [f for f in frames if Path(f.filename).resolve() == job_file.resolve()]
    if not (in_job or frames):
        return f"{exc.filename}:{exc.lineno}" if isinstance(exc, SyntaxError) else str(job_file)
    frame = (in_job or frames)[-1]
    return f"{frame.filename}:{frame.lineno}"


def load_job_module(job_file: Path, py_files: Sequence[Path] = ()) -> ModuleType:
    """Import ``job_file`` as a module of its own (so cloudpickle ships its functions by value),
    with its directory and each ``py_files`` entry (a directory, a zip, a .py file's directory)
    on ``sys.path``, as Python puts a script's own directory there."""
    for entry in [job_file.resolve().parent, *(p.resolve() for p in py_files)]:
        root = str(entry if entry.is_dir() or entry.suffix == ".zip" else entry.parent)
        if root not in sys.path:
            sys.path.insert(0, root)
    name = f"strom_job_{job_file.stem}"
    spec = importlib.util.spec_from_file_location(name, job_file)
    if spec is None or spec.loader is None:
        raise ImportError(f"{job_file} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_job_file(config: Configuration, job_file: str, args: list[str], parallelism: int | None,
                 detached: bool, savepoint_id: str | None = None, dry_run: bool = False,
                 py_files: Sequence[Path] = ()) -> int:
    """Returns the process exit status: 0 FINISHED (or submitted, detached; or shown, ``dry_run``),
    1 otherwise. ``dry_run``: print the job graph (:func:`~strom.graph.explain.explain`), submit
    nothing and need no cluster. ``py_files``: shipped with the job (:func:`job_python_files`), as
    are the modules it imports from its own directory."""
    path = Path(job_file)
    try:
        module = load_job_module(path, py_files)
    except Exception as exc:
        click.echo(f"job {path} failed to import: {_where(exc, path)}: {type(exc).__name__}: {exc}",
                   err=True)
        return 1
    if not callable(getattr(module, "main", None)):
        click.echo(f"job {path} has no main() function", err=True)
        return 1

    outcome: dict[str, Any] = {}

    def submit(job_graph: JobGraph) -> dict[str, Any]:
        if dry_run:
            click.echo(explain(job_graph, config.get(ClusterOptions.CLUSTER_ID)))
            outcome["job_id"] = job_graph.job_id
            return {"jid": job_graph.job_id, "state": "NOT SUBMITTED"}
        client = JobClient(config)
        try:
            files = job_python_files(path, py_files, list(sys.modules.values()))
            job_id = client.submit(dump_artifact(job_graph, module, files))
            click.echo(f"Job has been submitted with JobID {job_id} ({job_graph.job_name})")
            outcome["job_id"] = job_id
            if detached:
                return {"jid": job_id, "state": "SUBMITTED"}
            details = client.wait(job_id, on_change=lambda d: click.echo(f"job {job_id}: {d['state']}"),
                                  on_progress=ProgressPrinter())
            outcome["details"] = details
            return details
        finally:
            client.close()

    sys.argv = [str(path), *args]
    context = ExecutionContext(executor=submit, parallelism=parallelism, savepoint=savepoint_id)
    try:
        main = module.main
        with execution_context(context):
            main(args) if inspect.signature(main).parameters else main()
    except InvalidJobGraphError as exc:
        click.echo(f"invalid job graph ({_where(exc, path)}): {exc}", err=True)
        return 1
    except (JobClientError, ConfigError) as exc:
        click.echo(f"submission failed: {exc}", err=True)
        return 1
    except Exception as exc:
        click.echo(f"job main() raised at {_where(exc, path)}: {type(exc).__name__}: {exc}", err=True)
        return 1
    return _exit_status(outcome, path)


def _exit_status(outcome: dict[str, Any], path: Path) -> int:
    """0 if main() submitted a job that FINISHED (or was not waited for), else 1, saying why."""
    if "job_id" not in outcome:
        click.echo(f"job {path}: main() returned without calling env.execute()", err=True)
        return 1
    details = outcome.get("details")
    if details is not None and details["state"] != "FINISHED":
        if details.get("error"):
            click.echo(f"error: {details['error']}", err=True)
        return 1
    return 0
