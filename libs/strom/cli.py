"""The ``strom`` command: services, cluster control and status (click)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from strom import logs
from strom.client.jobs import JobClient
from strom.cluster.client import ClusterClient, ClusterStatus
from strom.cluster.local import LocalCluster
from strom.config import (
    ClusterOptions,
    ConfigError,
    Configuration,
    KafkaOptions,
    RestOptions,
    TaskManagerOptions,
)
from strom.control.roles import Role
from strom.errors import JobClientError, KafkaUnavailableError, StorageConfigError
from strom.stack.console import StackError
from strom.testing.faults import arm_from_env
from strom.testing.readiness import ClusterNotReadyError, cluster_ready, wait_until_ready

if TYPE_CHECKING:
    from strom.stack.commands import Stack

ROLE_TITLES = {Role.JOBMANAGER: "JobManager", Role.RESOURCEMANAGER: "ResourceManager"}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Strom: Flink's runtime on Kafka, ZooKeeper and Redis.

    Settings come from STROM_* environment variables (see `strom config`).
    """
    try:
        config = Configuration()
        config.describe()  # resolve every setting now, so a bad value fails before anything starts
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc
    ctx.obj = config


# -- services -------------------------------------------------------------------------------
def _run_service(config: Configuration, cls_path: str, service: str, name: str | None) -> None:
    module_name, cls_name = cls_path.rsplit(".", 1)
    module = __import__(module_name, fromlist=[cls_name])
    try:
        arm_from_env()  # a test's STROM_FAULT_INJECT; production never sets it
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    endpoint = getattr(module, cls_name)(config, name)
    logs.configure(service, endpoint.id)
    try:
        endpoint.run()
    except (KafkaUnavailableError, StorageConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


name_option = click.option("--name", help="Instance id (default: <service>-<random>).")


@cli.command()
@name_option
@click.option("--rest-port", type=click.IntRange(min=0), help="REST port (default 8081; 0 = any free).")
@click.pass_obj
def jobmanager(config: Configuration, name: str | None, rest_port: int | None) -> None:
    """Run a JobManager (leader or standby) with its REST API."""
    config = config.with_overrides({RestOptions.PORT.key: rest_port})
    _run_service(config, "strom.services.jobmanager.JobManager", "jobmanager", name)


@cli.command()
@name_option
@click.pass_obj
def resourcemanager(config: Configuration, name: str | None) -> None:
    """Run a ResourceManager (leader or standby)."""
    _run_service(config, "strom.services.resourcemanager.build", "resourcemanager", name)


@cli.command()
@name_option
@click.option("--slots", type=click.IntRange(min=1), help="Task slots offered (default 2).")
@click.pass_obj
def taskmanager(config: Configuration, name: str | None, slots: int | None) -> None:
    """Run a TaskManager offering SLOTS task slots."""
    config = config.with_overrides({TaskManagerOptions.NUM_SLOTS.key: slots})
    _run_service(config, "strom.services.taskmanager.build", "taskmanager", name)


# -- status -----------------------------------------------------------------------------------
def _format_status(status: ClusterStatus) -> str:
    lines = []
    for role, title in ROLE_TITLES.items():
        leader = status.leaders[role]
        standbys = [r.sender_id for r in status.by_role(role) if not r.body["is_leader"]]
        if leader is None:
            lines.append(f"{title} leader: none")
        else:
            lines.append(f"{title} leader: {leader.id} (fencing token {leader.token}, "
                         f"pid {leader.pid} on {leader.host})"
                         + (f"; standby: {', '.join(standbys)}" if standbys else ""))
    rows = status.slot_table()
    free, total = status.registered_slots()
    registered = sum(1 for r in rows if r["state"] == "REGISTERED")
    lines.append(f"TaskManagers: {registered} registered, {total} slots, {free} free")
    if rows:
        lines.append(f"  {'TASKMANAGER':<28} {'STATE':<11} {'HEARTBEAT':>10}  SLOTS")
        for row in rows:
            slots = " ".join("[free]" if s["allocation_id"] is None else f"[{s['job_id'][:8]}]"
                             for s in row["slots"])
            age = f"{row['last_heartbeat_age_ms'] / 1000:.1f} s ago"
            lines.append(f"  {row['tm_id']:<28} {row['state']:<11} {age:>10}  {slots}")
    elif status.leaders[Role.RESOURCEMANAGER] is not None:
        lines.append("  (the ResourceManager leader did not answer)")
    return "\n".join(lines)


def _status_json(status: ClusterStatus, metrics: list[dict[str, str]]) -> str:
    return json.dumps({
        "leaders": {role: (vars(info) if info else None) for role, info in status.leaders.items()},
        "services": [{"id": r.sender_id, "role": r.sender_role, "fencing_token": r.fencing_token,
                      **r.body} for r in status.replies],
        "metrics": metrics,
    }, indent=2)


@cli.command()
@click.argument("job_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--timeout", type=float, default=5.0, show_default=True, help="Seconds to wait for replies.")
@click.pass_obj
def status(config: Configuration, job_id: str | None, as_json: bool, timeout: float) -> None:
    """Leaders and slot table (asked live over the control plane), or one job's status."""
    if job_id is not None:
        details = _job_client(config).details(job_id)
        click.echo(json.dumps(details, indent=2) if as_json else format_job(details))
        return
    with ClusterClient(config) as client:
        result = client.status(timeout)
    endpoints = _metric_endpoints(config)
    if as_json:
        click.echo(_status_json(result, endpoints))
    else:
        click.echo(_format_status(result))
        click.echo("Metrics (/metrics; all of them: GET /metrics/targets): " + (", ".join(
            f"{e['id']} {e['address']}" for e in sorted(endpoints, key=lambda e: e["id"])) or "none published"))
    if any(info is None for info in result.leaders.values()):
        sys.exit(1)


def _metric_endpoints(config: Configuration) -> list[dict[str, str]]:
    """Where each live service serves /metrics (from Redis); [] when Redis cannot be read."""
    import redis

    from strom.io.redis import redis_client
    from strom.metrics.reporter import MetricEndpoints
    try:
        return MetricEndpoints(redis_client(config), config.get(ClusterOptions.CLUSTER_ID)).live()
    except (redis.RedisError, OSError):  # status must still answer with Redis down
        return []


def _job_client(config: Configuration) -> JobClient:
    try:
        return JobClient(config)
    except (JobClientError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from exc


def format_job(details: dict) -> str:
    """``strom status JOB``: state, duration, per-vertex subtask states, the error if any."""
    from strom.client.progress import progress_line
    lines = [f"{details['name']} ({details['jid']}): {details['state']}, "
             f"{details.get('duration', 0) / 1000:.1f} s", "  " + progress_line(details)]
    for vertex in details.get("vertices", []):
        tasks = ", ".join(f"{n} {state}" for state, n in sorted(vertex["tasks"].items()))
        lines.append(f"  {vertex['id']} {vertex['name']} (parallelism {vertex['parallelism']}): {tasks}")
    if details.get("restarts"):
        lines.append(f"restarts: {details['restarts']} (restored checkpoint {details.get('restored-checkpoint')}); "
                     f"last failure: {details['failures'][-1] if details.get('failures') else '-'}")
    checkpoints = details.get("checkpoints")
    if checkpoints:
        counts = checkpoints["counts"]
        lines.append(f"checkpoints: {counts.get('completed', 0)} completed, {counts.get('failed', 0)} failed, "
                     f"{counts.get('in_progress', 0)} in progress")
        latest = checkpoints["latest"]["completed"]
        if latest:
            lines.append(f"  latest completed: {latest['id']}, {latest['duration']} ms, "
                         f"{latest['state-size'] / 1024:.1f} KiB, acks: "
                         + ", ".join(f"{e} {a['ack_ms']} ms" for e, a in sorted(latest["acks"].items())))
        for failure in checkpoints.get("failures", [])[:3]:
            lines.append(f"  aborted {failure['id']}: {failure['reason']}")
    if details.get("error"):
        lines.append(f"error: {details['error']}")
    return "\n".join(lines)


@cli.command("list")
@click.pass_obj
def list_jobs(config: Configuration) -> None:
    """Jobs of the cluster, oldest first."""
    for job in _job_client(config).jobs():
        click.echo(f"{job['id']}  {job['status']:<10} {job['name']}")


@cli.command()
@click.argument("job_id")
@click.option("--savepoint", "with_savepoint", is_flag=True, help="Take a savepoint first (cancel after it).")
@click.pass_obj
def cancel(config: Configuration, job_id: str, with_savepoint: bool) -> None:
    """Cancel a job; waits until it is CANCELED."""
    client = _job_client(config)
    try:
        if with_savepoint:
            click.echo(f"savepoint: {client.trigger_savepoint(job_id, cancel_job=True)}")
        else:
            client.cancel(job_id)
        details = client.wait(job_id, timeout_s=60)
    except (JobClientError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"job {job_id}: {details['state']}")


@cli.command()
@click.argument("job_id", required=False)
@click.option("--list", "list_all", is_flag=True, help="List the cluster's savepoints (id, job, checkpoint).")
@click.option("--dispose", "dispose_id", metavar="SAVEPOINT_ID", help="Delete this savepoint and its state.")
@click.pass_obj
def savepoint(config: Configuration, job_id: str | None, list_all: bool, dispose_id: str | None) -> None:
    """Take a savepoint of running job JOB_ID and print its id (for `strom run --from-savepoint`);
    or list or dispose of savepoints. Savepoints stay until disposed, after their job ended."""
    if sum((job_id is not None, list_all, dispose_id is not None)) != 1:
        raise click.UsageError("give one of JOB_ID, --list or --dispose SAVEPOINT_ID")
    client = _job_client(config)
    try:
        if list_all:
            for row in client.savepoints():
                click.echo(f"{row['id']}  job {row['job-id']}  checkpoint {row['checkpoint-id']}")
        elif dispose_id is not None:
            client.dispose_savepoint(dispose_id)
            click.echo(f"disposed {dispose_id}")
        else:
            click.echo(client.trigger_savepoint(str(job_id)))
    except (JobClientError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("job_file", type=click.Path(exists=True, dir_okay=False))
@click.option("-p", "--parallelism", type=click.IntRange(min=1), help="Default parallelism of the job.")
@click.option("-d", "--detached", is_flag=True, help="Return after submission; do not wait.")
@click.option("-s", "--from-savepoint", "savepoint_id", help="Restore state from this savepoint "
              "(operators matched by uid).")
@click.option("--dry-run", is_flag=True, help="Print the job graph (vertices with their chained operators, "
              "parallelism, edges and topics) instead of submitting it (Flink's `flink info`).")
@click.option("--py-files", "py_files", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="A directory, .zip or .py file to ship with the job and put on the Python path where it "
              "runs (PyFlink's --pyFiles; repeatable). Modules the job imports from its own directory "
              "travel without it.")
@click.argument("job_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def run(config: Configuration, job_file: str, parallelism: int | None, detached: bool,
        savepoint_id: str | None, dry_run: bool, py_files: tuple[Path, ...], job_args: tuple[str, ...]) -> None:
    """Run JOB_FILE's main() and submit the job it builds (arguments after -- go to the job)."""
    from strom.client.submit import run_job_file
    sys.exit(run_job_file(config, job_file, list(job_args), parallelism, detached, savepoint_id, dry_run,
                          py_files))


@cli.command()
@click.argument("topic")
@click.argument("file", type=click.File("rb"))
@click.option("--partitions", default=2, show_default=True, type=click.IntRange(min=1),
              help="Partitions if the topic has to be created.")
@click.pass_obj
def produce(config: Configuration, topic: str, file, partitions: int) -> None:
    """Write FILE (or - for stdin) into TOPIC, one record per line, bytes as they are."""
    from strom.client.produce import produce_lines
    count, seconds = produce_lines(config.get(KafkaOptions.BOOTSTRAP), topic, file, partitions, config)
    click.echo(f"produced {count} records to {topic} in {seconds:.1f} s "
               f"({count / max(seconds, 1e-9):,.0f} records/s)")


@cli.command()
@click.argument("topic")
@click.option("--tail", is_flag=True, help="Start at the end of the topic (and follow it) instead of its start.")
@click.option("-f", "--follow", is_flag=True, help="Keep waiting for new records after the end (Ctrl-C stops).")
@click.option("--max", "max_records", type=click.IntRange(min=1), help="Stop after this many records.")
@click.pass_obj
def consume(config: Configuration, topic: str, tail: bool, follow: bool, max_records: int | None) -> None:
    """Print TOPIC's committed records (read_committed: what an exactly-once job's readers see),
    one per line as KEY<TAB>VALUE; UTF-8 as text, other bytes as a bytes literal, no key as -."""
    from strom.client.consume import committed_records, show
    from strom.errors import StromError
    try:
        for message in committed_records(config.get(KafkaOptions.BOOTSTRAP), topic, tail, follow or tail,
                                         max_records, config):
            click.echo(show(message.key(), message.value()))
    except StromError as exc:
        raise click.ClickException(str(exc)) from exc
    except KeyboardInterrupt:
        return  # Ctrl-C is how --follow ends


@cli.command()
@click.argument("faults", nargs=-1, required=True,
                type=click.Choice(["all", "kill-jobmanager", "kill-resourcemanager", "kill-taskmanager",
                                   "pause-taskmanager", "restart-redis", "restart-kafka",
                                   "partition-zookeeper"]))
@click.option("--words", default=300_000, show_default=True, help="Input size (KJV words, one per record).")
@click.option("--outage", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds restart-redis and restart-kafka keep the component down.")
@click.pass_obj
def drill(config: Configuration, faults: tuple[str, ...], words: int, outage: float) -> None:
    """Failover drills: run a keyed job, inject FAULTS mid-job, compare output with the oracle.

    Uses (and completes) the local cluster: 2 JobManagers, 2 ResourceManagers, 2 TaskManagers.
    Exits 1 if any drill lost or duplicated a record.
    """
    from strom.testing.drill import FAULTS, Drill, drill_input
    selected = list(FAULTS) if "all" in faults else list(faults)
    runner = Drill(config, _local(config), drill_input(words), say=click.echo, outage_s=outage)
    click.echo(f"drill input: {words:,} words; fault-free run first")
    baseline = runner.run(None)
    click.echo(baseline.line(None))
    results = []
    for fault in selected:
        click.echo(f"drill {fault}:")
        result = runner.run(fault)
        results.append(result)
        click.echo(result.line(baseline.duration_s))
    click.echo("\nsummary:")
    for result in [baseline, *results]:
        click.echo("  " + result.line(baseline.duration_s))
    if not all(r.ok for r in [baseline, *results]):
        sys.exit(1)


@cli.command("config")
@click.pass_obj
def show_config(config: Configuration) -> None:
    """Every setting: key, environment variable, value, unit and meaning."""
    for key, env_var, value, unit, doc in config.describe():
        click.echo(f"{key} = {value}{' ' + unit if unit else ''}\n    ${env_var}: {doc}")


# -- cluster --------------------------------------------------------------------------------
@cli.group()
def cluster() -> None:
    """Run a local cluster (stack + services) in the background."""


def _local(config: Configuration) -> LocalCluster:
    return LocalCluster(config.get(ClusterOptions.STATE_DIR))


def _stack(config: Configuration, action: Callable[[Stack], None], what: str) -> None:
    from strom.stack.commands import Stack  # only here: its clients cost every other command ~0.13 s to import

    try:
        action(Stack(config))
    except StackError as exc:
        raise click.ClickException(f"ops/stack {what} failed (see above)") from exc


def wait_for_cluster(config: Configuration, task_managers: int, timeout_s: float) -> ClusterStatus:
    """Wait until both leaders answer and ``task_managers`` are registered.

    Raises ``click.ClickException`` with the last status after ``timeout_s``.
    """
    with ClusterClient(config) as client:
        try:
            return wait_until_ready(client, cluster_ready(task_managers), timeout_s, poll_s=0.3)
        except ClusterNotReadyError as exc:
            raise click.ClickException(
                f"cluster not ready after {timeout_s:.0f} s:\n{_format_status(exc.status)}") from exc


@cluster.command("up")
@click.option("--jobmanagers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--resourcemanagers", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--taskmanagers", default=2, show_default=True, type=click.IntRange(min=0))
@click.option("--slots", default=2, show_default=True, type=click.IntRange(min=1),
              help="Slots per TaskManager.")
@click.option("--stack/--no-stack", default=True, show_default=True,
              help="Also bring up Kafka, ZooKeeper and Redis with ops/stack.")
@click.pass_obj
def cluster_up(config: Configuration, jobmanagers: int, resourcemanagers: int, taskmanagers: int,
               slots: int, stack: bool) -> None:
    """Start the stack and the services (idempotent), wait until ready, print status."""
    if stack:
        _stack(config, lambda s: s.up(), "up")
    local = _local(config)
    started = time.monotonic()
    for i in range(1, resourcemanagers + 1):
        local.start(f"resourcemanager-{i}", "resourcemanager")
    rest_port = config.get(RestOptions.PORT)
    for i in range(1, jobmanagers + 1):
        port = rest_port + i - 1 if rest_port else 0
        local.start(f"jobmanager-{i}", "jobmanager", "--rest-port", str(port))
    for i in range(1, taskmanagers + 1):
        local.start(f"taskmanager-{i}", "taskmanager", "--slots", str(slots))
    result = wait_for_cluster(config, taskmanagers, timeout_s=60)
    click.echo(f"cluster ready in {time.monotonic() - started:.1f} s; logs in {local.log_dir}")
    click.echo(_format_status(result))


@cluster.command("down")
@click.option("--stack/--no-stack", default=False, show_default=True,
              help="Also stop Kafka, ZooKeeper and Redis.")
@click.pass_obj
def cluster_down(config: Configuration, stack: bool) -> None:
    """Stop the services started by `strom cluster up` (and the stack with --stack)."""
    local = _local(config)
    for name in local.names():
        local.stop(name)
        click.echo(f"stopped {name}")
    if stack:
        _stack(config, lambda s: s.down(), "down")


@cluster.command("status")
@click.pass_obj
def cluster_status(config: Configuration) -> None:
    """Local service processes, then the live status."""
    for process in _local(config).processes():
        click.echo(f"{process.name:<20} {'running pid ' + str(process.pid) if process.alive else 'stopped'}"
                   f"  log {process.log}")
    with ClusterClient(config) as client:
        click.echo(_format_status(client.status()))


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="strom")
