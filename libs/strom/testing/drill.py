"""Failover drills: run a bounded keyed job, inject one fault mid-job, judge the output.

Each drill runs WordCount (parallelism 2, checkpoints every 500 ms,
exactly-once sink) over known input, read as a stream over ``input_s`` s
(5 s by default; read as one burst, the whole input would wait on the keyed
edge and every checkpoint barrier behind it, so output would pause for
reasons other than the fault), on a local cluster with standby
JobManager and ResourceManager, injects the fault once the job has completed
a checkpoint (restart-redis and restart-kafka stop the component and start it
again ``outage_s`` later, 2 s by default), and reports: fault time, time until a new leader (leader
faults), output committed while there was no leader (increases of committed
output between the fault and the new leader), data-plane stall (longest gap
between increases of committed output, from the first completed checkpoint
on: the fault-free run is measured from the same point), end-to-end duration
against a fault-free run, and the verdict — each
word's committed running counts must be exactly 1..n (nothing lost, nothing
twice).
"""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from strom.client.jobs import JobClient
from strom.client.produce import produce_lines
from strom.cluster.client import ClusterClient
from strom.cluster.local import LocalCluster
from strom.config import Configuration, HeartbeatOptions, KafkaOptions, RestOptions, ZooKeeperOptions, source_root
from strom.coordination.leader_election import current_leader, zookeeper_client
from strom.io.client_config import kafka_client_config
from strom.io.kafka import read_to_end
from strom.stack.commands import Stack
from strom.stack.console import Console
from strom.testing.readiness import ClusterNotReadyError, cluster_ready, wait_until_ready

FAULTS = ("kill-jobmanager", "kill-resourcemanager", "kill-taskmanager", "pause-taskmanager",
          "restart-redis", "restart-kafka", "partition-zookeeper")
WORDCOUNT = "examples/wordcount.py"


@dataclass
class DrillResult:
    fault: str
    fault_at_s: float | None = None        # since job submission
    new_leader_s: float | None = None      # fault -> a new leader in ZooKeeper
    stall_s: float = 0.0                   # longest gap in committed output
    committed_leaderless: int = 0          # output commits between the fault and the new leader
    duration_s: float = 0.0                # submission -> FINISHED
    state: str = ""
    restarts: int = 0                      # job restarts (0 = tasks kept running)
    lost: int = 0                          # words with fewer committed counts than occurrences
    duplicated: int = 0                    # words with repeated counts
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "FINISHED" and not self.lost and not self.duplicated

    def line(self, baseline_s: float | None) -> str:
        versus = f" ({self.duration_s / baseline_s:.2f}x fault-free)" if baseline_s else ""
        leader = (f", new leader after {self.new_leader_s:.1f} s ({self.committed_leaderless} output commits "
                  f"before it)" if self.new_leader_s is not None else "")
        fault = f"fault at {self.fault_at_s:.1f} s{leader}, " if self.fault_at_s is not None else ""
        verdict = "OK" if self.ok else (f"FAILED: job {self.state}, {self.lost} words lost, "
                                        f"{self.duplicated} duplicated {self.examples[:3]}")
        return (f"{self.fault:<22} {fault}stall {self.stall_s:.1f} s, restarts {self.restarts}, "
                f"duration {self.duration_s:.1f} s{versus}: {verdict}")


class CommittedOutputMonitor(threading.Thread):
    """Samples the committed (read_committed) end offsets of a topic every 50 ms."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.increases: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        consumer = Consumer(kafka_client_config(self.bootstrap, {"group.id": "strom-drill",
                                                                  "isolation.level": "read_committed"}))
        last = 0
        while not self.stop.is_set():
            try:
                total = sum(consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=2,
                                                           cached=False)[1] for p in (0, 1))
            except Exception:
                total = last  # broker restarting: no news
            if total > last:
                self.increases.append(time.monotonic())
                last = total
            self.stop.wait(0.05)
        consumer.close()

    def longest_gap(self, fault_at: float | None, end_at: float | None = None) -> float:
        """Longest time without new committed output, from the first output (or the fault) on.

        ``end_at`` (the job's end) closes the last gap when no output was seen after the fault:
        a monitor that saw nothing must not report a stall of 0 s.
        """
        points = sorted(self.increases + ([fault_at] if fault_at is not None else []))
        if end_at is not None and (not points or points[-1] == fault_at):
            points.append(end_at)
        return max((b - a for a, b in pairwise(points)), default=0.0)


def judge(records, lines: list[bytes], result: DrillResult) -> None:
    expected = Counter(line.decode() for line in lines)
    got: dict[str, list[int]] = defaultdict(list)
    for key, value in records:
        got[key.decode()].append(int(value))
    for word in set(expected) | set(got):
        values = got.get(word, [])
        if len(values) != len(set(values)):
            result.duplicated += 1
            result.examples.append(f"{word}: {len(values) - len(set(values))} duplicated")
        if set(values) != set(range(1, expected[word] + 1)):
            missing = len(set(range(1, expected[word] + 1)) - set(values))
            if missing:
                result.lost += 1
                result.examples.append(f"{word}: {missing} lost")


class Drill:
    """Drives drills on the local cluster of ``local`` (processes named as `strom cluster up` does).

    restart-redis and restart-kafka stop and start the stack of this process's environment (what
    ``ops/stack`` would), whose state dir need not be the cluster's (the tests' are temporary).
    """

    def __init__(self, config: Configuration, local: LocalCluster, lines: list[bytes],
                 say: Callable[[str], None] = print, outage_s: float = 2.0, input_s: float = 5.0) -> None:
        self.config, self.local, self.lines, self.say = config, local, lines, say
        self.outage_s = outage_s  # how long restart-redis / restart-kafka keep it down
        self.rate_limit = len(lines) / input_s  # lines/s the job reads
        self.bootstrap = config.get(KafkaOptions.BOOTSTRAP)
        self.root = source_root() or Path.cwd()
        self.stack = Stack(Configuration(), Console(say=lambda _line: None))
        self._replacements = 0
        # partition-zookeeper: called with (paused JobManager's name, job id) once a new leader
        # took over, before the old one resumes (tests queue work for the deposed leader here).
        self.before_resume: Callable[[str, str], None] | None = None

    # -- cluster --------------------------------------------------------------------------
    def ensure_cluster(self) -> None:
        """Two JobManagers, two ResourceManagers, two TaskManagers with 2 slots; wait until ready."""
        for i in (1, 2):
            self.local.start(f"resourcemanager-{i}", "resourcemanager")
            self._start_jobmanager(f"jobmanager-{i}")
            self.local.start(f"taskmanager-{i}", "taskmanager", "--slots", "2")
        with ClusterClient(self.config) as client:
            try:
                wait_until_ready(client, cluster_ready(task_managers=2, free_slots=4), timeout_s=60,
                                 what="cluster ready for the drill")
            except ClusterNotReadyError as exc:
                up = {r["tm_id"] for r in exc.status.slot_table() if r["state"] == "REGISTERED"}
                tails = {name: log.read_text(errors="replace").splitlines()[-8:]
                         for name in ("taskmanager-1", "taskmanager-2")
                         if name not in up and (log := self.local.log_dir / f"{name}.log").exists()}
                raise RuntimeError(f"cluster not ready for the drill after 60 s: leaders {exc.status.leaders}, "
                                   f"registered TaskManagers {sorted(up)}; logs of the others: {tails}") from exc

    def _task_manager_with_tasks(self, client: JobClient, job_id: str) -> str:
        details = client.details(job_id)
        hosts = sorted({s["taskmanager-id"] for v in details["vertices"] for s in v["subtasks"]
                        if s["taskmanager-id"]})
        return hosts[-1]

    # -- one drill ------------------------------------------------------------------------
    def run(self, fault: str | None) -> DrillResult:
        result = DrillResult(fault or "none (baseline)")
        self.ensure_cluster()
        run_id = uuid.uuid4().hex[:8]
        source, sink = f"drill-in-{run_id}", f"drill-out-{run_id}"
        produce_lines(self.bootstrap, source, io.BytesIO(b"\n".join(self.lines) + b"\n"), partitions=2)
        monitor = CommittedOutputMonitor(self.bootstrap, sink)
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "strom", "run", "-d", "-p", "2", str(self.root / WORDCOUNT), "--",
             "--input", source, "--output", sink, "--dead-letter-topic", f"drill-dlq-{run_id}",
             "--checkpoint-interval", "500", "--rate-limit", str(self.rate_limit)],
            check=True, capture_output=True, text=True, env=self.local.env).stdout
        submitted = re.search(r"JobID (\w+)", out)
        if submitted is None:
            raise RuntimeError(f"strom run printed no JobID: {out!r}")
        job_id = submitted.group(1)
        monitor.start()
        client = JobClient(self.config)
        while client.checkpoints(job_id)["counts"].get("completed", 0) < 1:
            time.sleep(0.05)
        fault_at = time.monotonic()  # the fault-free run is measured from the same point
        if fault is not None:
            result.fault_at_s = fault_at - started
            self.say(f"  injecting {fault} at {result.fault_at_s:.1f} s")
            result.new_leader_s = self.inject(fault, client, job_id)
            if result.new_leader_s is not None:
                leader_at = fault_at + result.new_leader_s
                # From 0.3 s on: a sink may still be committing the checkpoint that completed first.
                result.committed_leaderless = sum(fault_at + 0.3 < t < leader_at for t in monitor.increases)
        details = self._wait(client, job_id, timeout_s=240)
        result.duration_s = time.monotonic() - started
        result.state = details["state"]
        time.sleep(0.2)
        monitor.stop.set()
        monitor.join()
        result.stall_s = monitor.longest_gap(fault_at, end_at=started + result.duration_s)
        result.restarts = details.get("restarts", 0)
        judge([(m.key(), m.value()) for m in read_to_end(self.bootstrap, sink)], self.lines, result)
        client.close()
        return result

    def _wait(self, client: JobClient, job_id: str, timeout_s: float) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                details = client.details(job_id)
                if details["state"] in ("FINISHED", "FAILED", "CANCELED"):
                    return details
            except Exception:
                client.close()
                client = JobClient(self.config)  # the leader moved
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} not finished after {timeout_s} s")
            time.sleep(0.2)

    # -- faults ---------------------------------------------------------------------------
    def _leader_change(self, role: str, sig: int) -> tuple[str, float]:
        """Send ``sig`` to the leader of ``role``; returns its name and the time until another
        process led. Raises RuntimeError if ``role`` has no leader."""
        zk = zookeeper_client(self.config)
        try:
            old = current_leader(zk, self.config, role)
            if old is None:
                raise RuntimeError(f"no {role} leader to fault")
            fault = time.monotonic()
            self.local.signal(old.id, sig)
            while True:
                new = current_leader(zk, self.config, role)
                if new is not None and new.id != old.id:
                    return old.id, time.monotonic() - fault
                time.sleep(0.02)
        finally:
            zk.stop()
            zk.close()

    def inject(self, fault: str, client: JobClient, job_id: str) -> float | None:
        """Inject ``fault``; returns the time to a new leader for leader faults."""
        session_s = self.config.get(ZooKeeperOptions.SESSION_TIMEOUT) / 1000
        heartbeat_s = self.config.get(HeartbeatOptions.TIMEOUT) / 1000
        if fault in ("kill-jobmanager", "kill-resourcemanager"):
            role = "JOBMANAGER" if fault == "kill-jobmanager" else "RESOURCEMANAGER"
            killed, elapsed = self._leader_change(role, signal.SIGKILL)
            self._restart(killed)
            return elapsed
        if fault == "partition-zookeeper":
            # Freeze the leader past its ZooKeeper session: the session expires, a standby leads,
            # and the old leader wakes up deposed (an equivalent of a network partition).
            paused, elapsed = self._leader_change("JOBMANAGER", signal.SIGSTOP)
            time.sleep(max(0.0, session_s + 2 - elapsed))
            if self.before_resume is not None:
                self.before_resume(paused, job_id)
            self.local.signal(paused, signal.SIGCONT)
            return elapsed
        if fault == "kill-taskmanager":
            victim = self._task_manager_with_tasks(client, job_id)
            self.local.signal(victim, signal.SIGKILL)
            self._replacements += 1
            self.local.start(f"taskmanager-r{self._replacements}", "taskmanager", "--slots", "2")
            return None
        if fault == "pause-taskmanager":
            victim = self._task_manager_with_tasks(client, job_id)
            self.local.signal(victim, signal.SIGSTOP)
            time.sleep(heartbeat_s + 2)
            self.local.signal(victim, signal.SIGCONT)
            return None
        if fault in ("restart-redis", "restart-kafka"):
            # Down for outage_s, not a bare restart: Redis restarts in ~0.1 s, between two
            # checkpoints, and nobody would notice.
            component = fault.split("-", 1)[1]
            self.stack.stop([component])
            time.sleep(self.outage_s)
            self.stack.up([component])
            return None
        raise ValueError(f"unknown fault {fault!r}; one of {', '.join(FAULTS)}")

    def _start_jobmanager(self, name: str) -> None:
        base = self.config.get(RestOptions.PORT)
        port = base + int(name.rsplit("-", 1)[1]) - 1 if base else 0
        self.local.start(name, "jobmanager", "--rest-port", str(port))

    def _restart(self, name: str) -> None:
        if name.startswith("jobmanager-"):
            self._start_jobmanager(name)
        else:
            self.local.start(name, name.rsplit("-", 1)[0])


def drill_input(words: int) -> list[bytes]:
    """``words`` words of the King James Bible (Debian's bible-kjv), one per line; repository
    text when the ``bible`` command is not installed."""
    try:
        text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        root = source_root() or Path.cwd()
        text = " ".join(p.read_text() for p in sorted(root.glob("libs/**/*.py"))).encode()
    vocabulary = re.findall(r"[^\W\d_]+", text.decode().lower())
    return [vocabulary[i % len(vocabulary)].encode() for i in range(words)]
