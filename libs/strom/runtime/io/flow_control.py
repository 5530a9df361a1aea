"""Flow control on Kafka edges: what waits unread on an edge stays bounded (Flink's credit-based
flow control, with Kafka as the buffer).

A Kafka edge decouples its ends: an upstream subtask writes whether or not the
downstream ones keep up. Without a bound a slow downstream vertex would leave an
ever longer backlog on the intermediate topic (disk, and the time a restart
takes to catch up), and nothing would show as backpressure. So:

* downstream subtasks commit their consume positions to the consumer group
  :func:`~strom.naming.flow_control_group` ``(job, vertex)`` every
  :data:`FLOW_INTERVAL_S` (:class:`InputPositions`; asynchronous, and never read
  back for recovery: checkpoints hold the positions that count);
* an upstream subtask checks as often each output edge's backlog, the sum over
  its partitions of end offset - committed position (:class:`EdgeBacklog`), and
  while one is over ``task.edge.max-backlog-buffers`` takes no input. The time it
  waits is its back-pressured time (Flink's ``backPressuredTimeMsPerSecond``).

A partition without a committed position counts as no backlog: a downstream
subtask that has not started yet is not waited for.

>>> backlog({("t", 0): 120, ("t", 1): 80}, {("t", 0): 100})   # partition 1: nothing committed yet
20
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import OffsetSpec

from strom.io.kafka import admin_client
from strom.logs import get_logger
from strom.naming import flow_control_group
from strom.runtime.deployment import OutputEdge

log = get_logger(__name__)

FLOW_INTERVAL_S = 1.0  # how often positions are committed and backlogs checked (each costs broker requests)
WAIT_S = 0.05          # one wait of a blocked upstream subtask
PROBE_TIMEOUT_S = 5.0


def backlog(ends: Mapping[tuple[str, int], int], committed: Mapping[tuple[str, int], int]) -> int:
    """Kafka records (buffers, events) written but not yet read: Σ (end - committed) over partitions
    with a committed position."""
    return sum(max(0, end - committed[tp]) for tp, end in ends.items() if tp in committed)


class InputPositions:
    """Downstream side: commits where its consumer is, every :data:`FLOW_INTERVAL_S`
    (its group is :func:`~strom.naming.flow_control_group`)."""

    def __init__(self, consumer: Consumer) -> None:
        self.consumer, self.next_commit = consumer, 0.0

    def maybe_commit(self, now_s: float) -> None:
        """Commit the consumer's positions if :data:`FLOW_INTERVAL_S` passed since the last commit
        (cheap otherwise: called per Kafka record). Before the first fetch there is no position:
        the next call tries again, so the first commit follows the first record at once."""
        if now_s < self.next_commit:
            return
        positions = [tp for tp in self.consumer.position(self.consumer.assignment()) if tp.offset >= 0]
        if positions:
            self.next_commit = now_s + FLOW_INTERVAL_S
            try:
                self.consumer.commit(offsets=positions, asynchronous=True)
            except KafkaException as exc:  # a hint only: the next interval tries again
                log.debug("input positions not committed", error=str(exc))


@dataclass(frozen=True)
class Edge:
    """An output edge: its topic, partition count and the group its reader commits to."""

    topic: str
    partitions: int
    group: str


class EdgeBacklog:
    """Upstream side: ``blocked()`` while an output edge holds more than ``max_backlog`` Kafka records
    unread. A thread of its own checks every :data:`FLOW_INTERVAL_S` (two admin requests: the
    task's thread never waits on them; a failed check blocks nothing) until :meth:`close`.
    ``wait(producers)`` waits :data:`WAIT_S` (polling the producers) and counts it in
    ``blocked_s``."""

    def __init__(self, bootstrap: str, edges: Sequence[Edge], max_backlog: int) -> None:
        self.edges, self.max_backlog = list(edges), max_backlog
        self.admin = admin_client(bootstrap)  # with the cluster's client security settings
        self.is_blocked, self.blocked_s = False, 0.0
        self.backlogs: dict[str, int] = {}
        self._closed = threading.Event()
        self._checker = threading.Thread(target=self._check_until_closed, name="edge-backlog", daemon=True)
        self._checker.start()

    @classmethod
    def of_outputs(cls, bootstrap: str, job_id: str, outputs: Sequence[OutputEdge],
                   max_backlog: int) -> EdgeBacklog | None:
        """Flow control over a subtask's output edges; None without an edge or a bound (0)."""
        edges = [Edge(out.topic, out.partitions, flow_control_group(job_id, out.target_vertex))
                 for out in outputs if out.target_vertex]
        return cls(bootstrap, edges, max_backlog) if edges and max_backlog else None

    def blocked(self) -> bool:
        return self.is_blocked

    def close(self) -> None:
        self._closed.set()

    def _check_until_closed(self) -> None:
        while not self._closed.wait(FLOW_INTERVAL_S):
            try:
                self.backlogs = {edge.topic: self._backlog(edge) for edge in self.edges}
            except (KafkaException, TimeoutError) as exc:
                log.warning("edge backlog not checked", error=str(exc))
                self.backlogs = {}
            self.is_blocked = any(b > self.max_backlog for b in self.backlogs.values())

    def wait(self, producers: Sequence[Producer]) -> None:
        started = time.monotonic()
        for producer in producers:
            producer.poll(0)
        time.sleep(WAIT_S)
        self.blocked_s += time.monotonic() - started

    def _backlog(self, edge: Edge) -> int:
        partitions = [TopicPartition(edge.topic, p) for p in range(edge.partitions)]
        ends_futures = self.admin.list_offsets({tp: OffsetSpec.latest() for tp in partitions},
                                               request_timeout=PROBE_TIMEOUT_S)
        ends = {(tp.topic, tp.partition): future.result(PROBE_TIMEOUT_S).offset
                for tp, future in ends_futures.items()}
        request = [ConsumerGroupTopicPartitions(edge.group, partitions)]
        (future,) = self.admin.list_consumer_group_offsets(request, request_timeout=PROBE_TIMEOUT_S).values()
        committed = {(tp.topic, tp.partition): tp.offset for tp in future.result(PROBE_TIMEOUT_S).topic_partitions
                     if tp.offset >= 0}
        return backlog(ends, committed)
