"""Soak: an unbounded WordCount under steady input and repeated faults; do resources stay flat?

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 200] [--kill-every 5] [--sample-every 10]

Starts a cluster of its own on the running stack (``ops/stack up`` first): cluster id
``soak-<random>``, state and logs in a new directory under /tmp, REST on free ports,
``strom cluster up --no-stack --jobmanagers 2`` (1 ResourceManager, 2 TaskManagers with
``--slots`` slots each). Runs ``examples/wordcount.py --unbounded --checkpoint-interval 1000``
(exactly-once sink) at ``-p`` 2, and feeds it the King James Bible (``bible -f
'Gen1:1-Rev22:21'``, 31,102 lines, about 27 words each), line after line in a loop, at
``--rate`` lines/s (a confluent-kafka producer with linger, polled every 10 ms) for
``--minutes``. Every ``--kill-every`` minutes it kills (SIGKILL) a TaskManager that runs
tasks and restarts it at once under the same name; once (``--jobmanager-kill-at``) it
kills the JobManager leader (:meth:`strom.testing.drill.Drill.inject`: the standby takes
over, the killed one comes back as the new standby).

Every ``--sample-every`` seconds it samples:

* intermediate topics (``strom.<cluster>.job.<job>.*``): bytes, the sum over partitions
  of the partition's log size (its ``*.log`` segment files, what Kafka's DescribeLogDirs
  reports as the size; the preallocated index files are left out); and records retained,
  the sum of high − low watermark (``Consumer.get_watermark_offsets``). confluent-kafka
  (2.16) has no DescribeLogDirs call in its AdminClient (librdkafka does not implement
  it), so the bytes are read from the broker's log directory, which the broker itself
  names (``log.dirs`` through ``describe_configs``); a broker whose directory is not on
  this machine gives no byte figure;
* Redis: ``INFO`` used_memory (bytes; the whole server, which other clusters share),
  ``DBSIZE`` (keys; idem) and the keys of this cluster (``strom:<cluster>:*``), and the
  state size of the latest completed checkpoint (bytes);
* RSS (``VmRSS`` of /proc/<pid>/status, bytes) of each service process of the cluster;
* source lag: records of the input topic not covered by the latest completed checkpoint
  (input end offsets − the source subtasks' offsets in it);
* committed output: the output topic's read_committed end offsets (offsets, so they
  also count the transaction markers, one per partition written per commit);
* the job's restarts.

Then it stops the input, waits until a checkpoint covers all of it and the committed
output stops growing, and checks that output against a plain count of every word
produced (the job's own tokeniser, ``examples/wordcount.py``'s ``words``): each word's
committed running counts must be exactly 1..n, each once. It prints the verdict
(exactly-once, or records lost and duplicated, with counts), the longest stall of the
committed output seen in the samples, the samples as a table,
each resource series' flatness, and writes a PNG of every series over time
(``--plot``, default ``<state.dir>/bench/<cluster id>.png``).

Flat: after the first 5 minutes, a series is flat when its maximum over the last 10
minutes is at most 1.2 × its maximum over minutes 5–10. A run shorter than 20 minutes
scales the three times by minutes/20 (and says so).

The committed output is read as a stream into one bitmap per word (one bit per count)
rather than with :func:`strom.io.kafka.read_to_end`, which keeps every message: 30
minutes at 200 lines/s are about 10 M records, gigabytes as Message objects.

Exit status 0 when the output is exactly-once, 1 otherwise (flatness is reported, not
judged). The cluster is stopped (``strom cluster down`` with its own cluster id) and its
Kafka topics and Redis keys deleted at the end, also on failure (``--keep`` keeps the
topics and keys); the service logs stay in the state directory, whose path is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource
from redis import RedisError

from strom.checkpoint.store import RedisCheckpointStore
from strom.client.jobs import JobClient
from strom.cluster.local import LocalCluster
from strom.cluster.supervisor import wait_until
from strom.config import ClusterOptions, Configuration, KafkaOptions
from strom.errors import JobClientError
from strom.io.client_config import kafka_client_config as strom_kafka_config
from strom.io.kafka import (
    DeliveryReports,
    KafkaPartition,
    TopicSpec,
    end_offset,
    ensure_topics,
    iter_to_end,
    log_kafka_errors,
    produce,
)
from strom.io.redis import redis_client
from strom.naming import cluster_prefix, cluster_topic_prefix, edge_topic
from strom.states import JobStatus
from strom.testing.drill import Drill

ROOT = Path(__file__).resolve().parents[1]
WORDCOUNT = ROOT / "examples" / "wordcount.py"
CHECKPOINT_INTERVAL_MS = 1000
FLAT_FACTOR = 1.2             # last-window max / baseline-window max above this: not flat
FULL_RUN_MIN = 20             # runs shorter than this get the flatness windows scaled down
MiB, KiB = 2**20, 2**10
T = TypeVar("T")
# librdkafka's own log lines (a reconnect attempt every 50 ms while the broker is down) go nowhere.
RDKAFKA_LOG = logging.getLogger("strom.soak.rdkafka")
RDKAFKA_LOG.addHandler(logging.NullHandler())
RDKAFKA_LOG.propagate = False


# -- input ----------------------------------------------------------------------------------
def kjv_lines() -> list[bytes]:
    """The verses of the King James Bible, one line each (Debian's bible-kjv)."""
    try:
        text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"soak: cannot run `bible` ({exc}); install Debian's bible-kjv (ops/setup does)") from exc
    return [line for line in text.splitlines() if line]


def wordcount_tokeniser() -> Callable[[str], list[tuple[str, int]]]:
    """``words`` of examples/wordcount.py: the job's own split of a line into (word, 1)."""
    spec = importlib.util.spec_from_file_location("strom_example_wordcount", WORDCOUNT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.words


def expected_counts(lines: list[bytes], sent: int) -> Counter:
    """Occurrences of each word in the first ``sent`` lines of ``lines`` repeated in a loop."""
    words = wordcount_tokeniser()

    def count(chunk: list[bytes]) -> Counter:
        return Counter(word for line in chunk for word, _one in words(line.decode()))
    loops, rest = divmod(sent, len(lines))
    total = count(lines[:rest])
    if loops:
        for word, n in count(lines).items():
            total[word] += n * loops
    return total


class SteadyInput(threading.Thread):
    """Produces ``lines`` in a loop to ``topic`` at ``rate`` lines/s until :meth:`finish`.

    Each 10 ms tick produces the lines due since the start (so a slow tick is caught up
    and the average rate holds), then ``poll(0)``; the idempotent producer lingers 20 ms.
    """

    TICK_S = 0.01

    def __init__(self, bootstrap: str, topic: str, lines: list[bytes], rate: float) -> None:
        super().__init__(name="soak-input", daemon=True)
        self.bootstrap, self.topic, self.lines, self.rate = bootstrap, topic, lines, rate
        self.sent = 0                       # lines handed to the producer
        self.reports = DeliveryReports()
        self._stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        producer = Producer({**kafka_client_config(self.bootstrap, "soak input"), "linger.ms": 20,
                             "enable.idempotence": True,
                             **self.reports.producer_config()})
        try:
            started = time.monotonic()
            while not self._stopping.is_set():
                due = int((time.monotonic() - started) * self.rate)
                while self.sent < due:
                    produce(producer, self.topic, self.lines[self.sent % len(self.lines)])
                    self.sent += 1
                producer.poll(0)
                self._stopping.wait(self.TICK_S)
            remaining = producer.flush(60)
            if remaining:
                raise RuntimeError(f"{remaining} of {self.sent} input lines not delivered to {self.topic}")
        except BaseException as exc:  # reported by finish(): a dead input thread must not go unnoticed
            self.error = exc

    def finish(self) -> int:
        """Stop, flush and return the number of lines delivered; raises what went wrong."""
        self._stopping.set()
        self.join()
        if self.error is not None:
            raise self.error
        self.reports.check()
        return self.sent


# -- the cluster ----------------------------------------------------------------------------
class SoakCluster:
    """A cluster of its own on the shared stack: id ``soak-<random>``, state under /tmp."""

    def __init__(self, task_managers: int, slots: int) -> None:
        self.cluster_id = f"soak-{uuid.uuid4().hex[:8]}"
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"strom-{self.cluster_id}-"))
        self.env = {**os.environ, "STROM_CLUSTER_ID": self.cluster_id, "STROM_STATE_DIR": str(self.state_dir),
                    "STROM_REST_PORT": "0", "STROM_METRICS_REPORTER_PROM_PORT": "0"}
        self.config = Configuration(env=self.env)
        self.local = LocalCluster(self.state_dir, env=self.env)
        self.bootstrap = self.config.get(KafkaOptions.BOOTSTRAP)
        self.task_managers, self.slots = task_managers, slots

    def strom(self, *args: str) -> str:
        """Run ``strom ARGS`` against this cluster; its stdout. Raises RuntimeError on failure."""
        done = subprocess.run([sys.executable, "-m", "strom", *args], capture_output=True, text=True, env=self.env)
        if done.returncode != 0:
            raise RuntimeError(f"strom {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def up(self) -> None:
        self.strom("cluster", "up", "--no-stack", "--jobmanagers", "2", "--taskmanagers", str(self.task_managers),
                   "--slots", str(self.slots))

    def submit(self, parallelism: int, *job_args: str) -> str:
        out = self.strom("run", "-d", "-p", str(parallelism), str(WORDCOUNT), "--", *job_args)
        submitted = re.search(r"JobID (\w+)", out)
        if submitted is None:
            raise RuntimeError(f"strom run printed no JobID: {out!r}")
        return submitted.group(1)

    def restart_task_manager(self, name: str) -> None:
        """kill -9 ``name`` and start it again under the same name (its slots come back)."""
        self.local.signal(name, signal.SIGKILL)
        if not wait_until(lambda: self.local.pid(name) is None, timeout_s=5):
            raise RuntimeError(f"{name} still runs 5 s after SIGKILL")
        self.local.start(name, "taskmanager", "--slots", str(self.slots))

    def down(self, keep: bool, topics: list[str]) -> None:
        """``strom cluster down`` (this cluster id only); then, unless ``keep``, delete this
        cluster's topics, ``topics`` and this cluster's Redis keys."""
        try:
            self.strom("cluster", "down")
        finally:
            if not keep:
                self._delete_data(topics)

    def _delete_data(self, topics: list[str]) -> None:
        admin = AdminClient(strom_kafka_config(self.bootstrap))
        existing = admin.list_topics(timeout=10).topics
        doomed = [t for t in existing if t.startswith(cluster_topic_prefix(self.cluster_id)) or t in topics]
        for topic, future in (admin.delete_topics(doomed).items() if doomed else []):
            try:
                future.result(timeout=30)
            except KafkaException as exc:  # the JobManager may be deleting its edge topics too
                print(f"soak: cannot delete topic {topic}: {exc}", file=sys.stderr)
        client = redis_client(self.config)
        keys = list(client.scan_iter(match=f"{cluster_prefix(self.cluster_id)}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
        client.close()


class Jobs:
    """The JobManager leader's REST API, found again after a failover (None while there is none)."""

    def __init__(self, config: Configuration) -> None:
        self.config = config
        self.client: JobClient | None = None

    def call(self, method: Callable[[JobClient], T]) -> T | None:
        """``method(leader's client)``, once more with a new client if it failed; None if both failed."""
        for _ in range(2):
            try:
                if self.client is None:
                    self.client = JobClient(self.config)
                return method(self.client)
            except JobClientError:
                self.close()
        return None

    def details(self, job_id: str) -> dict | None:
        return self.call(lambda client: client.details(job_id))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None


# -- sampling -------------------------------------------------------------------------------
@dataclass
class Sample:
    """One observation; bytes, records and offsets as counted (None: could not be read)."""

    t_s: float                             # since the job was submitted and the input started
    input_lines: int                       # lines produced so far
    source_lag: int | None                 # input records not covered by the latest checkpoint
    committed_end: int | None              # output read_committed end offsets, summed
    edge_bytes: int | None                 # intermediate topics' log size
    edge_records: int | None               # intermediate topics' high - low watermarks
    redis_memory: int | None               # INFO used_memory (the whole Redis)
    redis_keys: int | None                 # DBSIZE (the whole Redis)
    cluster_keys: int | None               # keys strom:<cluster>:*
    checkpoint_bytes: int | None           # state size of the latest completed checkpoint
    restarts: int | None                   # the job's restarts so far
    rss: dict[str, int | None] = field(default_factory=dict)   # process name -> VmRSS bytes
    events: list[str] = field(default_factory=list)           # faults since the previous sample


def best_effort(what: str, get: Callable[[], T]) -> T | None:
    """``get()``, or None when Kafka or Redis did not answer (a new topic's leader not settled yet,
    the shared stack restarting): a soak goes on through a sample it could not take whole."""
    try:
        return get()
    except (KafkaException, RedisError, TimeoutError, OSError) as exc:
        print(f"soak: cannot read {what} now: {exc}", file=sys.stderr)
        return None


def kafka_client_config(bootstrap: str, component: str) -> dict[str, Any]:
    """Settings of this script's Kafka clients: while the broker is unreachable they say so every 5 s
    (``log_kafka_errors``) instead of librdkafka logging every reconnect attempt (20 per second)."""
    return strom_kafka_config(bootstrap, {"logger": RDKAFKA_LOG, "error_cb": log_kafka_errors(component)})


def rss_bytes(pid: int | None) -> int | None:
    """VmRSS of ``pid`` in bytes (None if it is not running)."""
    if pid is None:
        return None
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # it exited since its pid was read
        return None
    return next((int(line.split()[1]) * 1024 for line in lines if line.startswith("VmRSS:")), None)  # kB


def broker_log_dir(admin: AdminClient) -> Path | None:
    """The (first) log directory the broker reports in ``log.dirs``, if it is on this machine."""
    metadata = admin.list_topics(timeout=10)
    if len(metadata.brokers) != 1:
        return None  # partitions would be spread over several machines' directories
    resource = ConfigResource(ConfigResource.Type.BROKER, str(next(iter(metadata.brokers))))
    config = admin.describe_configs([resource])[resource].result(timeout=10)
    dirs = next((entry.value for name in ("log.dirs", "log.dir") if (entry := config.get(name)) and entry.value), None)
    path = Path(dirs.split(",")[0]) if dirs else None
    return path if path is not None and path.is_dir() else None


def log_size(log_dir: Path, topic: str, partition: int) -> int:
    """Bytes of a partition's segment files (``*.log``) in ``log_dir``."""
    total = 0
    for segment in (log_dir / f"{topic}-{partition}").glob("*.log"):
        with suppress(FileNotFoundError):  # deleted meanwhile (retention, a deleted topic)
            total += segment.stat().st_size
    return total


class Sampler:
    """Takes :class:`Sample` s of one job of a :class:`SoakCluster`."""

    def __init__(self, cluster: SoakCluster, jobs: Jobs, job_id: str, input_topic: str, output_topic: str) -> None:
        self.cluster, self.jobs, self.job_id = cluster, jobs, job_id
        self.input_topic, self.output_topic = input_topic, output_topic
        self.consumer = Consumer({**kafka_client_config(cluster.bootstrap, "soak sampler"),
                                  "group.id": f"strom-{cluster.cluster_id}",
                                  "isolation.level": "read_committed", "enable.auto.commit": False})
        admin = AdminClient(strom_kafka_config(cluster.bootstrap))
        self.log_dir = broker_log_dir(admin)
        self.redis = redis_client(cluster.config)
        self.store = RedisCheckpointStore(self.redis, cluster.cluster_id, job_id)
        self.edge_prefix = edge_topic(cluster.cluster_id, job_id, "")
        self.sources: list[tuple[str, int]] | None = None   # (source vertex id, parallelism)
        self.processes = cluster.local.names()

    def close(self) -> None:
        self.consumer.close()
        self.redis.close()

    def _partitions(self, topic: str) -> list[int]:
        metadata = self.consumer.list_topics(topic, timeout=10).topics.get(topic)
        return sorted(metadata.partitions) if metadata is not None and metadata.error is None else []

    def _ends(self, topic: str) -> dict[KafkaPartition, int]:
        return {KafkaPartition(topic, p): end_offset(self.consumer, topic, p) for p in self._partitions(topic)}

    def input_end(self) -> int:
        """The input topic's end offsets, summed: records produced."""
        return sum(self._ends(self.input_topic).values())

    def committed_end(self) -> int:
        """The output topic's read_committed end offsets, summed."""
        return sum(self._ends(self.output_topic).values())

    def source_lag(self) -> int | None:
        """Input records not covered by the latest completed checkpoint (None: sources unknown yet,
        or the checkpoint was discarded while being read)."""
        if self.sources is None:
            return None
        ends = self._ends(self.input_topic)
        latest = self.store.latest()
        if latest is None:
            return sum(ends.values())
        covered = self.store.input_offsets(latest["id"], self.sources)
        if not set(ends) <= set(covered):
            return None
        return sum(max(0, end - covered[p]) for p, end in ends.items())

    def _edges(self) -> tuple[int | None, int]:
        topics = [t for t in self.consumer.list_topics(timeout=10).topics if t.startswith(self.edge_prefix)]
        size, records = 0, 0
        for topic in topics:
            for p in self._partitions(topic):
                low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)
                records += high - low
                if self.log_dir is not None:
                    size += log_size(self.log_dir, topic, p)
        return (size if self.log_dir is not None else None), records

    def sample(self, t_s: float, input_lines: int) -> Sample:
        details = self.jobs.details(self.job_id)
        if details is not None and self.sources is None and details.get("source-partitions"):
            parallelism = {v["id"]: v["parallelism"] for v in details["vertices"]}
            self.sources = [(v, parallelism[v]) for v in details["source-partitions"]]
        edge_bytes, edge_records = best_effort("intermediate topics", self._edges) or (None, None)
        latest = best_effort("the latest checkpoint", self.store.latest)
        return Sample(
            t_s=t_s, input_lines=input_lines, source_lag=best_effort("source lag", self.source_lag),
            committed_end=best_effort("committed output", self.committed_end),
            edge_bytes=edge_bytes, edge_records=edge_records,
            redis_memory=best_effort("Redis INFO", lambda: int(self.redis.info("memory")["used_memory"])),
            redis_keys=best_effort("Redis DBSIZE", lambda: int(self.redis.dbsize())),
            cluster_keys=best_effort("Redis keys", lambda: sum(1 for _ in self.redis.scan_iter(
                match=f"{cluster_prefix(self.cluster.cluster_id)}:*", count=1000))),
            checkpoint_bytes=latest["state-size"] if latest else None,
            restarts=details.get("restarts") if details else None,
            rss={name: rss_bytes(self.cluster.local.pid(name)) for name in self.processes})



# -- the verdict ----------------------------------------------------------------------------
def committed_records(bootstrap: str, topic: str, timeout_s: float = 600.0) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of every committed record of ``topic`` up to its end offsets now, as a stream
    (:func:`strom.io.kafka.iter_to_end`, without keeping the messages)."""
    config = {k: v for k, v in kafka_client_config(bootstrap, "soak output reader").items() if k != "bootstrap.servers"}
    for message in iter_to_end(bootstrap, topic, timeout_s, config):
        yield message.key() or b"", message.value() or b""


class ExactlyOnceCheck:
    """Each word's committed running counts must be exactly 1..n, once each (n = its occurrences
    in the input). One bitmap per word: 10 M records cost about 1 MiB."""

    def __init__(self, expected: Counter) -> None:
        self.expected = expected
        self.seen: dict[str, bytearray] = {}
        self.distinct: Counter = Counter()     # word -> distinct counts in 1..n seen
        self.repeated: Counter = Counter()     # word -> records repeating a count or beyond n
        self.records = 0

    def add(self, key: bytes, value: bytes) -> None:
        self.records += 1
        word, count = key.decode(), int(value)
        if not 1 <= count <= self.expected.get(word, 0):
            self.repeated[word] += 1
            return
        bits = self.seen.get(word)
        if bits is None:
            bits = self.seen[word] = bytearray(self.expected[word] // 8 + 1)
        byte, bit = divmod(count, 8)
        if bits[byte] >> bit & 1:
            self.repeated[word] += 1
        else:
            bits[byte] |= 1 << bit
            self.distinct[word] += 1

    def lost(self) -> Counter:
        """word -> counts in 1..n never committed."""
        return Counter({w: n - self.distinct[w] for w, n in self.expected.items() if self.distinct[w] < n})

    @property
    def ok(self) -> bool:
        return not self.repeated and not self.lost()

    def verdict(self) -> str:
        produced = sum(self.expected.values())
        lost = self.lost()
        if self.ok:
            return (f"EXACTLY-ONCE: {self.records:,} committed records = {produced:,} words produced "
                    f"({len(self.expected):,} distinct); every word's counts are 1..n once each")
        parts = []
        if lost:
            parts.append(f"LOST {sum(lost.values()):,} records of {len(lost):,} words "
                         f"(e.g. {', '.join(f'{w}: {n}' for w, n in lost.most_common(3))})")
        if self.repeated:
            parts.append(f"DUPLICATED {sum(self.repeated.values()):,} records of {len(self.repeated):,} words "
                         f"(e.g. {', '.join(f'{w}: {n}' for w, n in self.repeated.most_common(3))})")
        return (f"NOT EXACTLY-ONCE: {'; '.join(parts)}; {self.records:,} committed records for "
                f"{produced:,} words produced")


# -- report ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    """A column of the table, a panel of the plot; ``resource`` series get a flatness check."""

    title: str
    unit: str
    value: Callable[[Sample], float | None]   # in ``unit``
    resource: bool
    decimals: int = 0


def scaled(get: Callable[[Sample], int | None], unit_bytes: int) -> Callable[[Sample], float | None]:
    """``get`` in units of ``unit_bytes`` bytes."""
    def value(sample: Sample) -> float | None:
        raw = get(sample)
        return None if raw is None else raw / unit_bytes
    return value


def rss_of(name: str) -> Callable[[Sample], int | None]:
    return lambda sample: sample.rss.get(name)


def series_of(processes: list[str]) -> list[Series]:
    rows = [
        Series("input", "lines", lambda s: s.input_lines, False),
        Series("source lag", "records", lambda s: s.source_lag, True),
        Series("output end", "offsets", lambda s: s.committed_end, False),
        Series("edge log", "MiB", scaled(lambda s: s.edge_bytes, MiB), True, 1),
        Series("edge kept", "records", lambda s: s.edge_records, True),
        Series("redis mem", "MiB", scaled(lambda s: s.redis_memory, MiB), True, 1),
        Series("redis db", "keys", lambda s: s.redis_keys, True),
        Series("cluster", "keys", lambda s: s.cluster_keys, True),
        Series("checkpoint", "KiB", scaled(lambda s: s.checkpoint_bytes, KiB), True, 1),
    ]
    short = {"jobmanager": "jm", "resourcemanager": "rm", "taskmanager": "tm"}
    for name in processes:
        role, _, number = name.rpartition("-")
        rows.append(Series(f"{short.get(role, role)}-{number} RSS", "MiB",
                           scaled(rss_of(name), MiB), True, 1))
    rows.append(Series("restarts", "", lambda s: s.restarts, False))
    return rows


def print_table(samples: list[Sample], series: list[Series]) -> None:
    columns = [Series("t", "s", lambda s: s.t_s, False), *series]
    widths = [max(len(c.title), len(c.unit), 8) for c in columns]
    print("  ".join(c.title.rjust(w) for c, w in zip(columns, widths, strict=True)) + "  events")
    print("  ".join(c.unit.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for sample in samples:
        cells = []
        for column, width in zip(columns, widths, strict=True):
            value = column.value(sample)
            cells.append(("-" if value is None else f"{value:,.{column.decimals}f}").rjust(width))
        print("  ".join(cells) + ("  " + "; ".join(sample.events) if sample.events else ""))


@dataclass(frozen=True)
class Windows:
    """Flatness windows in seconds since the job's start: baseline and last."""

    baseline: tuple[float, float]
    last: tuple[float, float]
    scale: float                    # 1 for runs of FULL_RUN_MIN minutes or more

    @classmethod
    def of(cls, minutes: float) -> Windows:
        scale = min(1.0, minutes / FULL_RUN_MIN)
        return cls((300 * scale, 600 * scale), (minutes * 60 - 600 * scale, minutes * 60), scale)

    def describe(self) -> str:
        text = (f"flat = max over {self.last[0] / 60:g}–{self.last[1] / 60:g} min ≤ {FLAT_FACTOR} × max over "
                f"{self.baseline[0] / 60:g}–{self.baseline[1] / 60:g} min")
        if self.scale < 1:
            text += (f" (a run shorter than {FULL_RUN_MIN} min: the 5 min warm-up, the 5–10 min baseline and "
                     f"the last 10 min are scaled by {self.scale:g})")
        return text


def flatness(samples: list[Sample], series: list[Series], windows: Windows) -> list[str]:
    def peak(s: Series, window: tuple[float, float]) -> float | None:
        values = [v for x in samples if window[0] <= x.t_s <= window[1] and (v := s.value(x)) is not None]
        return max(values) if values else None
    lines = []
    for s in (s for s in series if s.resource):
        base, last = peak(s, windows.baseline), peak(s, windows.last)
        label = f"{s.title} [{s.unit}]"
        if base is None or last is None:
            lines.append(f"  n/a    {label}: no samples in a window")
            continue
        flat = last <= FLAT_FACTOR * base
        ratio = f"{last / base:.2f}x" if base else ("1.00x" if last == 0 else "from 0")
        lines.append(f"  {'flat ' if flat else 'GROWS'}  {label}: max {last:,.{s.decimals}f} in the last window, "
                     f"{base:,.{s.decimals}f} in the baseline ({ratio})")
    return lines


def plot(samples: list[Sample], series: list[Series], windows: Windows, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = 4
    rows = -(-len(series) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.8 * rows), squeeze=False)
    minutes = [s.t_s / 60 for s in samples]
    faults = [(s.t_s / 60, event) for s in samples for event in s.events]
    for ax, s in zip(axes.flat, series, strict=False):
        points = [(m, v) for m, x in zip(minutes, samples, strict=True) if (v := s.value(x)) is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker=".", linewidth=1)
        ax.set_ylim(0, max([v for _, v in points] + [0]) * 1.1 or 1)  # from 0, a flat line below the top
        ax.set_xlim(0, max(minutes[-1], windows.last[1] / 60))
        for at, event in faults:
            ax.axvline(at, color="tab:purple" if "JobManager" in event else "tab:red", linestyle="--", linewidth=0.8)
        if s.resource:
            ax.axvspan(*(t / 60 for t in windows.baseline), color="tab:green", alpha=0.08)
            ax.axvspan(*(t / 60 for t in windows.last), color="tab:orange", alpha=0.08)
        ax.set_title(f"{s.title} [{s.unit}]" if s.unit else s.title, fontsize=9)
        ax.set_xlabel("min", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(series):]:
        ax.axis("off")
    figure.suptitle(f"{title}\nred: TaskManager kill -9, purple: JobManager leader kill; "
                    f"green: baseline window, orange: last window", fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def output_stall(samples: list[Sample]) -> str:
    """The longest run of samples in which input arrived but no output was committed."""
    longest, since, start = 0.0, None, 0.0
    for before, after in pairwise(samples):
        if before.committed_end is not None and before.committed_end == after.committed_end \
                and after.input_lines > before.input_lines:
            since = before.t_s if since is None else since
            if after.t_s - since > longest:
                longest, start = after.t_s - since, since
        else:
            since = None
    if not longest:
        return "committed output grew between every two samples"
    return (f"longest stall of committed output while input arrived: {longest:.0f} s or more, from t={start:.0f} s "
            f"(samples {samples[1].t_s - samples[0].t_s:.0f} s apart)")


# -- the run --------------------------------------------------------------------------------
def fault_schedule(minutes: float, kill_every: float, jobmanager_at: float | None) -> list[tuple[float, str]]:
    """(seconds since the start, "taskmanager" | "jobmanager"), in time order.

    >>> fault_schedule(3, 1, None)
    [(60, 'taskmanager'), (90.0, 'jobmanager'), (120, 'taskmanager')]
    >>> [at for at, what in fault_schedule(30, 5, None) if what == "jobmanager"]
    [1050.0]
    """
    kills = [] if kill_every <= 0 else [(60 * kill_every * k, "taskmanager")
                                        for k in range(1, int(minutes / kill_every) + 1) if kill_every * k < minutes]
    if jobmanager_at is None:  # half time, moved off a TaskManager kill by half an interval
        jobmanager_at = minutes / 2
        if kill_every > 0 and any(abs(at / 60 - jobmanager_at) < 0.5 for at, _ in kills):
            jobmanager_at += kill_every / 2
    if 0 < jobmanager_at < minutes:
        kills.append((60 * jobmanager_at, "jobmanager"))
    return sorted(kills)


class Soak:
    """One soak run: input, job, faults and samples (``job_id`` and ``sampler`` exist once :meth:`run`
    submitted the job)."""

    job_id: str
    sampler: Sampler

    def __init__(self, args: argparse.Namespace, cluster: SoakCluster, lines: list[bytes]) -> None:
        self.args, self.cluster, self.lines = args, cluster, lines
        run = cluster.cluster_id
        self.input_topic, self.output_topic, self.dlq = f"{run}-in", f"{run}-out", f"{run}-dlq"
        self.jobs = Jobs(cluster.config)
        self.samples: list[Sample] = []
        self._events: list[str] = []
        self._turn = 0

    def topics(self) -> list[str]:
        return [self.input_topic, self.output_topic, self.dlq]

    def say(self, text: str) -> None:
        print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)

    def kill_task_manager(self, job_id: str) -> None:
        details = self.jobs.details(job_id)
        hosts = sorted({s["taskmanager-id"] for v in (details or {}).get("vertices", []) for s in v["subtasks"]
                        if s["taskmanager-id"]}) or [f"taskmanager-{i}" for i in range(1, self.args.taskmanagers + 1)]
        victim = hosts[self._turn % len(hosts)]
        self._turn += 1
        self.cluster.restart_task_manager(victim)
        self._event(f"kill -9 {victim}, restarted")

    def kill_jobmanager_leader(self, job_id: str) -> None:
        drill = Drill(self.cluster.config, self.cluster.local, lines=[], say=self.say)
        client = self.jobs.client or JobClient(self.cluster.config)
        new_leader_s = drill.inject("kill-jobmanager", client, job_id)
        self.jobs.close()  # the leader moved
        self._event(f"kill -9 JobManager leader, new leader after {new_leader_s:.1f} s")

    def _event(self, text: str) -> None:
        self.say(text)
        self._events.append(text)

    def run(self) -> tuple[int, float]:
        """Feed, sample and fault for ``--minutes``; returns (lines produced, seconds of input)."""
        args, cluster = self.args, self.cluster
        ensure_topics(cluster.bootstrap, [TopicSpec(self.input_topic, 2)])
        job_id = cluster.submit(args.parallelism, "--input", self.input_topic, "--output", self.output_topic,
                                "--dead-letter-topic", self.dlq, "--unbounded",
                                "--checkpoint-interval", str(CHECKPOINT_INTERVAL_MS))
        started = time.monotonic()  # t = 0 of the samples: the job was submitted, the input starts
        feed = SteadyInput(cluster.bootstrap, self.input_topic, self.lines, args.rate)
        feed.start()
        self.job_id = job_id
        self.say(f"job {job_id} submitted; input {args.rate:g} lines/s for {args.minutes:g} min")
        self.sampler = Sampler(cluster, self.jobs, job_id, self.input_topic, self.output_topic)
        faults = fault_schedule(args.minutes, args.kill_every, args.jobmanager_kill_at)
        end_s, next_sample = args.minutes * 60, 0.0
        try:
            while True:
                now = time.monotonic() - started
                while faults and faults[0][0] <= now:
                    _at, what = faults.pop(0)
                    if what == "taskmanager":
                        self.kill_task_manager(job_id)
                    else:
                        self.kill_jobmanager_leader(job_id)
                if now >= next_sample:
                    self.take_sample(now, feed.sent)
                    next_sample += args.sample_every
                    if next_sample > end_s and now < end_s:
                        next_sample = end_s
                if now >= end_s:
                    break
                if feed.error is not None:
                    raise RuntimeError(f"the input producer failed: {feed.error}")
                upcoming = min([next_sample, end_s] + [at for at, _ in faults[:1]])
                time.sleep(max(0.0, min(1.0, upcoming - (time.monotonic() - started))))
        finally:
            sent = feed.finish()
        return sent, time.monotonic() - started

    def take_sample(self, t_s: float, input_lines: int) -> None:
        sample = self.sampler.sample(t_s, input_lines)
        sample.events, self._events = self._events, []
        self.samples.append(sample)
        lag = "-" if sample.source_lag is None else f"{sample.source_lag:,}"
        self.say(f"t={t_s:6.0f} s  input {input_lines:,} lines, source lag {lag} records, restarts "
                 f"{sample.restarts}")

    def drain(self, timeout_s: float) -> str:
        """Wait until the latest checkpoint covers all input and the committed output has stopped
        growing for 5 s; returns how it went."""
        deadline, started = time.monotonic() + timeout_s, time.monotonic()
        while (lag := best_effort("source lag", self.sampler.source_lag)) != 0:
            details = self.jobs.details(self.job_id)
            if details and JobStatus(details["state"]).is_globally_terminal:
                return f"job {details['state']}: {details.get('error')}"
            if time.monotonic() > deadline:
                return f"input not covered by a checkpoint after {timeout_s:g} s (lag {lag})"
            time.sleep(0.5)
        last, stable_since = best_effort("committed output", self.sampler.committed_end), time.monotonic()
        while time.monotonic() - stable_since < 5 and time.monotonic() < deadline:
            time.sleep(0.5)
            end = best_effort("committed output", self.sampler.committed_end)
            if end != last or end is None:
                last, stable_since = end, time.monotonic()
        return f"input covered by a checkpoint and output committed {time.monotonic() - started:.1f} s after it stopped"

    def verify(self, sent: int, tries: int = 3) -> ExactlyOnceCheck:
        """The committed output checked against the words of the first ``sent`` input lines; read
        again (``tries`` times in all, 10 s apart) when Kafka goes away meanwhile."""
        expected = expected_counts(self.lines, sent)
        for attempt in range(1, tries + 1):
            check = ExactlyOnceCheck(expected)
            try:
                for key, value in committed_records(self.cluster.bootstrap, self.output_topic):
                    check.add(key, value)
                return check
            except (KafkaException, TimeoutError) as exc:
                if attempt == tries:
                    raise
                self.say(f"reading the committed output failed ({exc}); again in 10 s")
                time.sleep(10)
        raise AssertionError("unreachable")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Needs the stack (ops/stack up). The module docstring says what is sampled and how it is judged.")
    parser.add_argument("--minutes", type=float, default=30, metavar="MIN",
                        help="how long the input runs, in minutes (default %(default)g)")
    parser.add_argument("--rate", type=float, default=200,
                        help="input rate in KJV lines/s, about 27 words each (default %(default)g)")
    parser.add_argument("--kill-every", type=float, default=5, metavar="MIN",
                        help="kill -9 a TaskManager that runs tasks every MIN minutes and restart it at once "
                             "(default %(default)g; 0: never)")
    parser.add_argument("--jobmanager-kill-at", type=float, metavar="MIN",
                        help="kill the JobManager leader once, MIN minutes in (0: never; default: half time, "
                             "or half a kill interval after it when a TaskManager kill is within 30 s)")
    parser.add_argument("--sample-every", type=float, default=10, metavar="S",
                        help="seconds between samples (default %(default)g)")
    parser.add_argument("-p", "--parallelism", type=int, default=2,
                        help="WordCount's parallelism (default %(default)d)")
    parser.add_argument("--taskmanagers", type=int, default=2, help="TaskManagers of the cluster (default %(default)d)")
    parser.add_argument("--slots", type=int, default=2, help="slots per TaskManager (default %(default)d)")
    parser.add_argument("--drain-timeout", type=float, default=300, metavar="S",
                        help="longest wait, in seconds, for the output to be complete after the input stops "
                             "(default %(default)g)")
    parser.add_argument("--plot", type=Path, metavar="PNG",
                        help="where to write the plot (default: <state.dir>/bench/<cluster id>.png, state.dir "
                             "as `strom config` shows it)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster's Kafka topics and Redis keys")
    args = parser.parse_args()
    if args.minutes <= 0 or args.rate <= 0 or args.sample_every <= 0 or args.kill_every < 0:
        parser.error("--minutes, --rate and --sample-every must be > 0, --kill-every >= 0")
    try:
        import matplotlib  # noqa: F401  (checked now, not after a 30-minute run)
    except ImportError:
        parser.error("matplotlib is missing: .venv/bin/pip install -e '.[bench]'")

    lines = kjv_lines()
    cluster = SoakCluster(args.taskmanagers, args.slots)
    plot_path = args.plot or Path(Configuration().get(ClusterOptions.STATE_DIR)) / "bench" / f"{cluster.cluster_id}.png"
    soak = Soak(args, cluster, lines)
    soak.say(f"cluster {cluster.cluster_id}, state and logs in {cluster.state_dir}")
    try:
        cluster.up()
        soak.say("cluster up: 2 JobManagers, 1 ResourceManager, "
                 f"{args.taskmanagers} TaskManagers x {args.slots} slots")
        sent, input_s = soak.run()
        drained = soak.drain(args.drain_timeout)
        soak.say(f"input stopped: {sent:,} lines in {input_s:.0f} s ({sent / input_s:.1f} lines/s); {drained}")
        input_records = best_effort("input end offsets", soak.sampler.input_end)
        if input_records != sent:
            soak.say(f"WARNING: the input topic holds {input_records} records, {sent:,} were produced")
        check = soak.verify(sent)
        details = soak.jobs.details(soak.job_id)
        if details is not None and not JobStatus(details["state"]).is_globally_terminal:
            soak.jobs.call(lambda client: client.cancel(soak.job_id))
        soak.sampler.close()
        soak.jobs.close()

        series = series_of(soak.sampler.processes)
        windows = Windows.of(args.minutes)
        print()
        print_table(soak.samples, series)
        print()
        print(f"restarts: {details.get('restarts') if details else '?'}; {output_stall(soak.samples)}")
        print(f"verdict: {check.verdict()}")
        print(windows.describe())
        print("\n".join(flatness(soak.samples, series, windows)))
        plot(soak.samples, series, windows, plot_path,
             f"bench/soak.py --minutes {args.minutes:g} --rate {args.rate:g} --kill-every {args.kill_every:g}: "
             f"WordCount p={args.parallelism}, cluster {cluster.cluster_id}")
        print(f"plot: {plot_path}")
        return 0 if check.ok else 1
    finally:
        soak.jobs.close()
        cluster.down(args.keep, soak.topics())
        soak.say(f"cluster {cluster.cluster_id} down; logs in {cluster.state_dir / 'logs'}")


if __name__ == "__main__":
    sys.exit(main())
