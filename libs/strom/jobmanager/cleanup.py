"""What ends is deleted: expired jobs, leftover topics and Redis keys (the leader's janitor).

Flink keeps finished jobs for ``jobstore.expiration-time`` and then forgets them; Strom does
the same and also deletes what a job left in Kafka and Redis:

* :meth:`JobCleanup.expire`: a globally terminal job older than the expiration time loses
  its artifact, record, details and checkpoints; the checkpoints its savepoints point to stay
  (savepoints are the user's, until ``strom savepoint --dispose``).
* :meth:`JobCleanup.sweep_topics`: intermediate topics of jobs that no JobMaster runs (a
  deletion at job end that failed, a JobManager killed before it deleted them).
* :meth:`JobCleanup.sweep_redis`: keys under a job's prefix whose job the store does not know
  (written by a zombie task after the job expired, or left by a crash mid-expiry). It SCANs the
  cluster's job keys, so it runs when a JobManager becomes leader, not on every tick.

Every deletion goes through the leader fence (the stores' fences, or :meth:`LeaderFence.check`):
a deposed leader deletes nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import redis
from confluent_kafka.admin import AdminClient

from strom.checkpoint.store import CheckpointStore
from strom.io.kafka import admin_client
from strom.io.redis import LeaderFence, text
from strom.jobmanager.job_store import JobStore
from strom.logs import get_logger
from strom.naming import job_id_of_key, job_prefix, job_topic_prefix
from strom.states import JobStatus

log = get_logger(__name__)

TOPIC_TIMEOUT_S = 10.0  # s: listing or deleting topics; a sweep that times out is retried next time


class JobCleanup:
    """Deletes what ended jobs of one cluster left.

    ``checkpoint_store(job_id, vertices)``: that job's checkpoints; ``expiration_ms``: how long
    a finished, failed or canceled job stays (``jobstore.expiration-time``).
    """

    def __init__(self, cluster_id: str, bootstrap: str, client: redis.Redis, fence: LeaderFence,
                 store: JobStore, checkpoint_store: Callable[[str, list[tuple[str, int]]], CheckpointStore],
                 expiration_ms: int) -> None:
        self.cluster_id, self.bootstrap, self.redis, self.fence = cluster_id, bootstrap, client, fence
        self.store, self.checkpoint_store, self.expiration_ms = store, checkpoint_store, expiration_ms

    @functools.cached_property
    def admin(self) -> AdminClient:
        return admin_client(self.bootstrap)

    def _savepoint_checkpoints(self) -> dict[str, set[int]]:
        """Job id -> ids of its checkpoints that savepoints point to (kept when the job goes)."""
        kept: dict[str, set[int]] = {}
        for savepoint_id in self.store.savepoint_ids():
            pointer = self.store.savepoint(savepoint_id)
            if pointer is not None:
                kept.setdefault(pointer["job_id"], set()).add(pointer["checkpoint_id"])
        return kept

    def expire(self, now_ms: int, running: set[str]) -> list[str]:
        """Delete the jobs that ended ``expiration_ms`` before ``now_ms`` (none of ``running``);
        their ids."""
        expired = [job["id"] for job in self.store.overview()
                   if job["id"] not in running and JobStatus(job["status"]).is_globally_terminal
                   and 0 <= job["end-time"] <= now_ms - self.expiration_ms]
        if not expired:
            return []
        kept = self._savepoint_checkpoints()
        for job_id in expired:
            record = self.store.record(job_id)
            vertices = [(v, p) for v, p in record.vertices] if record is not None else []
            deleted = self.checkpoint_store(job_id, vertices).delete_all(kept.get(job_id, set()))
            self.store.remove(job_id)
            log.info("expired job deleted", job_id=job_id, checkpoint_keys=deleted,
                     savepoint_checkpoints_kept=sorted(kept.get(job_id, set())))
        return expired

    def sweep_topics(self, running: set[str]) -> list[str]:
        """Delete intermediate topics of jobs not in ``running``; the topics asked to delete."""
        prefix = job_topic_prefix(self.cluster_id)
        try:
            topics = self.admin.list_topics(timeout=TOPIC_TIMEOUT_S).topics
        except Exception as exc:
            log.warning("cannot list topics to sweep", error=str(exc))
            return []
        leftover = sorted(t for t in topics if t.startswith(prefix) and t[len(prefix):].split(".")[0] not in running)
        if leftover:
            self.fence.check()
            for topic, future in self.admin.delete_topics(leftover, operation_timeout=TOPIC_TIMEOUT_S).items():
                future.add_done_callback(functools.partial(_log_deletion, topic))
        return leftover

    def sweep_redis(self) -> int:
        """Delete keys of jobs the store does not know, but not what savepoints point to; how many."""
        # A fenced write first: from here no deposed leader can add a job we would not see below.
        self.fence.write(lambda pipe: None)
        known, kept = set(self.store.job_ids()), self._savepoint_checkpoints()
        orphans = []
        for raw in self.redis.scan_iter(f"{job_prefix(self.cluster_id, '*')}*", count=1000):
            key = text(raw)
            job_id = job_id_of_key(self.cluster_id, key)
            if job_id is not None and job_id not in known and not _kept(key, job_prefix(self.cluster_id, job_id),
                                                                        kept.get(job_id, set())):
                orphans.append(key)
        for start in range(0, len(orphans), 1000):
            self.redis.delete(*orphans[start:start + 1000])
        if orphans:
            log.info("orphaned job keys deleted", keys=len(orphans))
        return len(orphans)


def _kept(key: str, prefix: str, checkpoints: set[int]) -> bool:
    """Whether ``key`` (under a job's ``prefix``) is a snapshot or the metadata of one of ``checkpoints``."""
    return any(key.startswith(f"{prefix}:chk:{n}:") or key == f"{prefix}:checkpoint:{n}" for n in checkpoints)


def _log_deletion(topic: str, future: Any) -> None:
    exc = future.exception()
    if exc is None:
        log.info("leftover topic deleted", topic=topic)
    else:
        log.warning("cannot delete leftover topic; the next sweep retries", topic=topic, error=str(exc))
