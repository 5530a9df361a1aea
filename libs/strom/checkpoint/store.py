"""Checkpoints in Redis: ids, task snapshots and acks, completed-checkpoint metadata, savepoints.

Keys, under ``strom:<cluster>:job:<job>``::

    :chk:<n>:<vertex>:<subtask>   HASH  snapshot of one subtask: "offsets" (JSON
                                        {"topic:partition": next offset}), "kg:<k>"
                                        (keyed state of key group k), "sink" (pickled
                                        un-committed sink epochs), "watermark"
    :chk-info:<n>                 HASH  generation, trigger-time (ms), savepoint (0|1)
    :chk-acks:<n>                 HASH  execution id -> JSON {"size": bytes, "time": ms}
    :checkpoint:<n>               JSON  metadata of a *completed* checkpoint
    :checkpoints                  ZSET  completed checkpoint ids
    :checkpoints-started          ZSET  started checkpoint ids not yet discarded
    :latest-checkpoint            n     the newest completed checkpoint
    :checkpoint-counter           n     the newest checkpoint id started (monotonic across
                                        JobManagers and attempts)
    :generation                   g     the job attempt whose tasks may start and ack checkpoints
    :checkpoint-failures          LIST  JSON of the last failed/aborted checkpoints

Checkpoints do not need a JobManager (DESIGN.md asks for the coordinator to
trigger and complete; we moved both into Redis so a JobManager failover does
not stop exactly-once output, issue 5):

* :meth:`RedisCheckpointStore.claim` starts checkpoint n (source tasks, on their own
  interval; the JobManager for savepoints and the final checkpoint): one Lua
  script that either joins the newest checkpoint of the current generation a
  caller has not taken part in yet, or starts the next id.
* :meth:`RedisCheckpointStore.acknowledge` records one task's ack; the ack that
  makes the set complete also writes the metadata, the ZSET entry and the
  pointer, in the same script. So a checkpoint is completed exactly once, by
  the last task to ack it, and a pending one is never mistaken for a completed one.
* Both refuse a caller whose generation is not the job's current one (a zombie
  task), and ``claim`` refuses a JobManager whose leader epoch is stale.

:class:`CheckpointStore` is the interface callers depend on;
:class:`~strom.checkpoint.memory_store.InMemoryCheckpointStore` implements it
over dicts for unit tests.
"""

from __future__ import annotations

import enum
import hmac
import json
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Protocol, cast

import redis
from redis.typing import EncodableT, FieldT

from strom.checkpoint.snapshot import OFFSETS_FIELD, decode_offsets
from strom.clock import wall_ms
from strom.errors import CheckpointCorruptedError, StaleAttemptError, StaleLeaderError
from strom.io.kafka import KafkaPartition
from strom.io.redis import LeaderFence, atomic_write, members, text
from strom.io.sealed import SEAL_FAILURES, fields_mac
from strom.naming import job_prefix, savepoint_prefix

MAC_FIELD = "mac"  # a snapshot hash's seal over its other fields


class ClaimMode(enum.IntEnum):
    """How :meth:`CheckpointStore.claim` gets its checkpoint id (the numbers are the Lua script's)."""

    NEW = 0           # always start the next id (the JobManager's savepoints and final checkpoint)
    JOIN_OR_NEW = 1   # join the newest checkpoint if it can be joined, else start the next id
    JOIN_ONLY = 2     # join the newest checkpoint, or get None

    @classmethod
    def of(cls, join: bool, start: bool) -> ClaimMode:
        """The mode of ``claim``'s ``join`` and ``start`` flags."""
        if not start:
            return cls.JOIN_ONLY
        return cls.JOIN_OR_NEW if join else cls.NEW


class CheckpointKind(enum.IntEnum):
    """What a newly started checkpoint is (the numbers are the Lua script's)."""

    CHECKPOINT = 0
    SAVEPOINT = 1
    STOP_WITH_SAVEPOINT = 2   # the job is stopped after it: no checkpoint may start after it

    @classmethod
    def of(cls, savepoint: bool, stop: bool) -> CheckpointKind:
        """The kind of ``claim``'s ``savepoint`` and ``stop`` flags."""
        if stop:
            return cls.STOP_WITH_SAVEPOINT
        return cls.SAVEPOINT if savepoint else cls.CHECKPOINT


# KEYS: counter, generation, leader epoch. ARGV: generation, known id, ClaimMode, now ms, timeout ms,
# CheckpointKind, leader token ("" for a task), prefix.
_CLAIM = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {-1, redis.call('GET', KEYS[2]) or ''} end
if ARGV[7] ~= '' and tonumber(ARGV[7]) < tonumber(redis.call('GET', KEYS[3]) or '-1') then
  return {-2, redis.call('GET', KEYS[3])}
end
local counter = tonumber(redis.call('GET', KEYS[1]) or '0')
local newest = redis.call('HMGET', ARGV[8] .. ':chk-info:' .. counter, 'generation', 'trigger-time', 'stop')
local young = newest[2] and tonumber(ARGV[4]) - tonumber(newest[2]) < tonumber(ARGV[5])
if newest[3] == '1' and (young or redis.call('ZSCORE', ARGV[8] .. ':checkpoints', counter)) then
  -- a stop-with-savepoint, pending or completed: nothing may follow it (the job is being stopped)
  if ARGV[3] == '0' then return {-3, ''} end
  if counter > tonumber(ARGV[2]) then return {counter, ''} end
  return {0, ''}
end
if ARGV[3] ~= '0' and counter > tonumber(ARGV[2]) and newest[1] == ARGV[1] and young then
  return {counter, ''}
end
if ARGV[3] == '2' then return {0, ''} end
counter = redis.call('INCR', KEYS[1])
redis.call('ZADD', ARGV[8] .. ':checkpoints-started', counter, counter)
redis.call('HSET', ARGV[8] .. ':chk-info:' .. counter, 'generation', ARGV[1], 'trigger-time', ARGV[4],
           'savepoint', ARGV[6] == '0' and '0' or '1', 'stop', ARGV[6] == '2' and '1' or '0')
return {counter, ''}
"""

# KEYS: generation, chk-acks:<n>, chk-info:<n>, checkpoints, latest, checkpoint:<n>.
# ARGV: generation, n, execution id, ack JSON, tasks expected, now ms.
_ACKNOWLEDGE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[3], 'generation') ~= ARGV[1] then return -1 end
redis.call('HSETNX', KEYS[2], ARGV[3], ARGV[4])  -- a repeated ack changes nothing
if redis.call('ZSCORE', KEYS[4], ARGV[2]) then
  -- a retried script (redis-py retries on a dropped connection) still says who completed it
  if redis.call('HGET', KEYS[3], 'completed-by') == ARGV[3] then return 1 end
  return 0
end
if redis.call('HLEN', KEYS[2]) < tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[3], 'completed-by', ARGV[3])
local id, now = tonumber(ARGV[2]), tonumber(ARGV[6])
local trigger = tonumber(redis.call('HGET', KEYS[3], 'trigger-time') or ARGV[6])
local acks, size, all = {}, 0, redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local ack = cjson.decode(all[i + 1])
  acks[all[i]] = {size = ack.size, ack_ms = ack.time - trigger}
  size = size + ack.size
end
redis.call('SET', KEYS[6], cjson.encode({id = id, ['trigger-time'] = trigger, ['completion-time'] = now,
  duration = now - trigger, ['state-size'] = size, generation = tonumber(ARGV[1]),
  ['is-savepoint'] = redis.call('HGET', KEYS[3], 'savepoint') == '1', acks = acks}))
redis.call('ZADD', KEYS[4], id, id)
if id > tonumber(redis.call('GET', KEYS[5]) or '-1') then redis.call('SET', KEYS[5], id) end
return 1
"""


def lowest_offsets(snapshots: Iterable[dict[KafkaPartition, int]]) -> dict[KafkaPartition, int]:
    """Per partition, the lowest next offset among ``snapshots`` (each: partition -> next offset)."""
    lowest: dict[KafkaPartition, int] = {}
    for offsets in snapshots:
        for partition, offset in offsets.items():
            lowest[partition] = min(offset, lowest.get(partition, offset))
    return lowest


def beyond_retention(completed: list[tuple[int, bool]], num_retained: int) -> list[int]:
    """Ids of the completed checkpoints to discard: all but the newest ``num_retained``.

    ``completed``: (id, is a savepoint), oldest first. Savepoints are neither discarded nor
    counted: as in Flink they are the user's, kept until disposed, whatever JobManager leads.

    >>> beyond_retention([(1, False), (2, True), (3, False), (4, False)], 2)
    [1]
    """
    checkpoints = [checkpoint_id for checkpoint_id, savepoint in completed if not savepoint]
    return checkpoints[:max(0, len(checkpoints) - num_retained)]


class CheckpointStore(Protocol):
    """The checkpoints of one job: ids, task snapshots and acks, completed-checkpoint metadata.

    Implemented in Redis by :class:`RedisCheckpointStore` (the semantics, and which errors each
    method raises, are documented there) and over dicts by
    :class:`~strom.checkpoint.memory_store.InMemoryCheckpointStore`. Times are wall-clock ms,
    sizes bytes; ``attempt`` (stored as the job's ``generation``) is the job's attempt number.
    """

    def set_generation(self, generation: int, ids_after: int | None = None) -> None:
        """Make ``generation`` the attempt whose tasks may start and ack checkpoints; ``ids_after``:
        a new job's checkpoint ids continue after this one (the savepoint it starts from)."""
        ...

    def claim(self, attempt: int, known_id: int, now_ms: int, timeout_ms: int, join: bool = True,
              start: bool = True, savepoint: bool = False, stop: bool = False) -> int | None:
        """Start or join a checkpoint; its id, or None if there was nothing to join."""
        ...

    def progress(self) -> tuple[int, int, int]:
        """(newest checkpoint id started, newest completed, current generation), -1 for none."""
        ...

    def write_snapshot(self, checkpoint_id: int, vertex_id: str, subtask: int, fields: dict[str, bytes]) -> int:
        """Store one subtask's snapshot; its size in bytes."""
        ...

    def read_vertex(self, checkpoint_id: int, vertex_id: str, parallelism: int) -> list[dict[bytes, bytes]]:
        """Snapshots of every subtask of a vertex (raises CheckpointCorruptedError for a missing one)."""
        ...

    def verify(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> str | None:
        """None if every subtask snapshot of ``vertices`` ((id, parallelism)) is there, else what is missing."""
        ...

    def input_offsets(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> dict[KafkaPartition, int]:
        """Next input offset per partition in the snapshots of ``vertices`` ((id, parallelism));
        the lowest where two subtasks name one partition, none for a missing snapshot."""
        ...

    def acknowledge(self, attempt: int, checkpoint_id: int, execution_id: str, size_bytes: int,
                    tasks: int, now_ms: int) -> bool:
        """Record one task's ack; True if it was the last of ``tasks`` and completed the checkpoint."""
        ...

    def acked(self, checkpoint_id: int) -> set[str]:
        """Execution ids that acked the checkpoint."""
        ...

    def latest(self) -> dict[str, Any] | None:
        """Metadata of the newest completed checkpoint."""
        ...

    def completed_ids(self) -> list[int]:
        """Ids of the retained completed checkpoints, oldest first."""
        ...

    def metadata(self, checkpoint_id: int) -> dict[str, Any] | None:
        """Metadata of a completed checkpoint (None if it did not complete or was discarded)."""
        ...

    def discard(self, checkpoint_id: int) -> None:
        """Delete a checkpoint: metadata, acks and every task snapshot."""
        ...

    def delete_all(self, keep: AbstractSet[int] = frozenset()) -> int:
        """Delete every checkpoint of the job but the snapshots and metadata of ``keep``; keys deleted."""
        ...

    def retain(self, num_retained: int) -> list[int]:
        """Discard completed checkpoints beyond the newest ``num_retained`` (savepoints are kept,
        see :func:`beyond_retention`); their ids."""
        ...

    def record_failure(self, checkpoint_id: int, reason: str) -> None:
        """Remember a failed or aborted checkpoint (the last 20 are kept)."""
        ...

    def failures(self) -> list[dict[str, Any]]:
        """The remembered failures, newest first: {"id", "reason", "time"}."""
        ...

    def discard_abandoned(self, below: int | None = None) -> list[int]:
        """Delete what checkpoints started before ``below`` (all: None) and never completed left; their ids."""
        ...


class RedisCheckpointStore:
    """Checkpoints of one job in Redis (see the module docstring for keys and protocol).

    ``fence`` (a :class:`~strom.io.redis.LeaderFence`, the JobManager's) guards its writes: a
    deposed JobManager can neither set the generation nor start a checkpoint. ``vertices``
    ((vertex id, parallelism) of the job that writes the checkpoints) name every snapshot key,
    so deleting never SCANs: the JobManager, which deletes, gives them; tasks need not.
    ``secret``: the cluster secret, which seals each snapshot (:func:`~strom.io.sealed.fields_mac`
    in its ``mac`` field); writing or reading snapshots needs it.
    """

    def __init__(self, client: redis.Redis, cluster_id: str, job_id: str,
                 fence: LeaderFence | None = None, vertices: Sequence[tuple[str, int]] = (),
                 secret: bytes | None = None) -> None:
        self.redis, self.secret = client, secret
        self.fence = fence
        self.vertices = list(vertices)
        self.prefix = job_prefix(cluster_id, job_id)
        self.savepoint_prefix = savepoint_prefix(cluster_id)
        self._claim = client.register_script(_CLAIM)
        self._acknowledge = client.register_script(_ACKNOWLEDGE)

    def snapshot_key(self, checkpoint_id: int, vertex_id: str, subtask: int) -> str:
        return f"{self.prefix}:chk:{checkpoint_id}:{vertex_id}:{subtask}"

    def _keys_of(self, checkpoint_id: int) -> list[str]:
        """Every key checkpoint ``checkpoint_id`` may have: snapshots, info, acks, metadata."""
        return [*(self.snapshot_key(checkpoint_id, v, i) for v, p in self.vertices for i in range(p)),
                f"{self.prefix}:chk-info:{checkpoint_id}", f"{self.prefix}:chk-acks:{checkpoint_id}",
                f"{self.prefix}:checkpoint:{checkpoint_id}"]
    # -- ids and progress: tasks and the JobManager -----------------------------------------
    def set_generation(self, generation: int, ids_after: int | None = None) -> None:
        """Make ``generation`` the attempt whose tasks may start and ack checkpoints (JobManager,
        before deploying it; fenced: raises StaleLeaderError for a deposed leader). ``ids_after``:
        the savepoint a new job starts from; its checkpoint ids continue after it, as Flink's do, so
        epochs its exactly-once sinks re-commit from the savepoint stay below the job's own."""
        def fill(pipe: Any) -> None:
            pipe.set(f"{self.prefix}:generation", generation)
            if ids_after is not None:
                pipe.set(f"{self.prefix}:checkpoint-counter", ids_after, nx=True)
        atomic_write(self.redis, fill, self.fence)

    def claim(self, attempt: int, known_id: int, now_ms: int, timeout_ms: int, join: bool = True,
              start: bool = True, savepoint: bool = False, stop: bool = False) -> int | None:
        """Start or join a checkpoint and return its id; None if there was nothing to join.

        ``join``: take the newest checkpoint if it is newer than ``known_id`` (the caller's
        last), of attempt ``attempt`` and younger than ``timeout_ms`` (another source started it).
        ``start``: else start the next id. The JobManager's savepoints and final checkpoint
        (``join=False``) always get a new id. After a ``stop`` savepoint (stop-with-savepoint),
        pending or completed, no newer checkpoint starts: sources can only join it, and sinks
        commit nothing past it. Raises :class:`StaleAttemptError` when ``attempt`` is not the job's,
        :class:`~strom.io.redis.StaleLeaderError` when the store's fence (a JobManager's) is
        stale, RuntimeError for a JobManager claim while a stop-with-savepoint is pending.
        """
        token = ""
        if self.fence is not None:
            current = self.fence.token()
            token = str(current if current is not None else -1)
        result, detail = self._claim(
            keys=[f"{self.prefix}:checkpoint-counter", f"{self.prefix}:generation",
                  self.fence.key if self.fence else f"{self.prefix}:generation"],
            args=[attempt, known_id, int(ClaimMode.of(join, start)), now_ms, timeout_ms,
                  int(CheckpointKind.of(savepoint, stop)), token, self.prefix])
        if result == -1:
            raise StaleAttemptError(f"checkpoint refused: attempt {attempt} is not the job's current "
                                       f"one ({(detail or b'none').decode()})")
        if result == -3:
            raise RuntimeError("checkpoint refused: the job is being stopped with a savepoint")
        if result == -2:
            raise StaleLeaderError(f"checkpoint refused: leader epoch {token} is older than {detail.decode()}")
        return int(result) or None

    def progress(self) -> tuple[int, int, int]:
        """(newest checkpoint id started, newest completed, the job's current attempt), -1 for
        none; one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(f"{self.prefix}:checkpoint-counter")
            pipe.get(f"{self.prefix}:latest-checkpoint")
            pipe.get(f"{self.prefix}:generation")
            started, completed, generation = (int(v) if v is not None else -1 for v in pipe.execute())
        return started, completed, generation

    # -- written by tasks ----------------------------------------------------------------
    def write_snapshot(self, checkpoint_id: int, vertex_id: str, subtask: int,
                       fields: dict[str, bytes]) -> int:
        """Store one subtask's snapshot (replacing any partial one); returns its size in bytes."""
        key = self.snapshot_key(checkpoint_id, vertex_id, subtask)
        mapping: dict[FieldT, EncodableT] = {k: v for k, v in fields.items()}
        mapping[MAC_FIELD] = fields_mac(self._secret(), fields)
        mapping["complete"] = b"1"
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping=mapping)
            pipe.execute()
        return sum(len(v) for v in fields.values())

    def read_vertex(self, checkpoint_id: int, vertex_id: str, parallelism: int) -> list[dict[bytes, bytes]]:
        """Snapshots of all subtasks of a vertex in a checkpoint.

        Raises :class:`CheckpointCorruptedError` if one is missing, incomplete or fails its seal
        (nothing of it is unpickled then).
        """
        snapshots = []
        for subtask in range(parallelism):
            key = self.snapshot_key(checkpoint_id, vertex_id, subtask)
            # bytes -> bytes: the client does not decode replies
            data = cast(dict[bytes, bytes], self.redis.hgetall(key))
            if data.pop(b"complete", None) != b"1":
                raise CheckpointCorruptedError(
                    f"checkpoint {checkpoint_id}: snapshot of task {vertex_id}[{subtask}] is missing "
                    f"or incomplete in Redis ({key})")
            sealed = data.pop(MAC_FIELD.encode(), b"")
            if not hmac.compare_digest(sealed, fields_mac(self._secret(), data)):
                SEAL_FAILURES.labels("snapshot").inc()
                raise CheckpointCorruptedError(
                    f"checkpoint {checkpoint_id}: snapshot of task {vertex_id}[{subtask}] fails its HMAC ({key}): "
                    f"changed outside Strom, or sealed with another cluster secret")
            snapshots.append(data)
        return snapshots

    def _secret(self) -> bytes:
        if self.secret is None:
            raise ValueError("snapshots are sealed: this RedisCheckpointStore needs the cluster secret")
        return self.secret

    def verify(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> str | None:
        """None if every subtask snapshot of the checkpoint is there, else what is missing."""
        with self.redis.pipeline(transaction=False) as pipe:
            keys = [(v, i) for v, p in vertices for i in range(p)]
            for vertex_id, subtask in keys:
                pipe.hget(self.snapshot_key(checkpoint_id, vertex_id, subtask), "complete")
            flags = pipe.execute()
        missing = [f"{v}[{i}]" for (v, i), flag in zip(keys, flags, strict=True) if flag != b"1"]
        if missing:
            return f"checkpoint {checkpoint_id}: snapshot of task {', '.join(missing)} missing in Redis"
        return None

    def input_offsets(self, checkpoint_id: int, vertices: list[tuple[str, int]]) -> dict[KafkaPartition, int]:
        with self.redis.pipeline(transaction=False) as pipe:
            for vertex_id, parallelism in vertices:
                for subtask in range(parallelism):
                    pipe.hget(self.snapshot_key(checkpoint_id, vertex_id, subtask), OFFSETS_FIELD)
            return lowest_offsets(decode_offsets(raw) for raw in pipe.execute() if raw is not None)

    def acknowledge(self, attempt: int, checkpoint_id: int, execution_id: str, size_bytes: int,
                    tasks: int, now_ms: int) -> bool:
        """Record a task's ack of its stored snapshot; True if it was the last of ``tasks`` acks
        and completed the checkpoint. Raises :class:`StaleAttemptError` for a task of an
        attempt that is not the current one, or for a checkpoint another attempt started."""
        p, n = self.prefix, checkpoint_id
        result = self._acknowledge(
            keys=[f"{p}:generation", f"{p}:chk-acks:{n}", f"{p}:chk-info:{n}", f"{p}:checkpoints",
                  f"{p}:latest-checkpoint", f"{p}:checkpoint:{n}"],
            args=[attempt, n, execution_id, json.dumps({"size": size_bytes, "time": now_ms}), tasks, now_ms])
        if result == -1:
            raise StaleAttemptError(f"ack of checkpoint {n} by {execution_id} refused: attempt "
                                       f"{attempt} is not the job's current one")
        return result == 1

    def acked(self, checkpoint_id: int) -> set[str]:
        """Execution ids that acked checkpoint ``checkpoint_id``."""
        return {text(k) for k in self.redis.hkeys(f"{self.prefix}:chk-acks:{checkpoint_id}")}

    def latest(self) -> dict[str, Any] | None:
        """Metadata of the newest completed checkpoint, None if there is none."""
        latest = self.redis.get(f"{self.prefix}:latest-checkpoint")
        return self.metadata(int(text(latest))) if latest is not None else None

    def completed_ids(self) -> list[int]:
        return [int(x) for x in members(self.redis.zrange(f"{self.prefix}:checkpoints", 0, -1))]

    def metadata(self, checkpoint_id: int) -> dict[str, Any] | None:
        raw = self.redis.get(f"{self.prefix}:checkpoint:{checkpoint_id}")
        return json.loads(raw) if raw else None

    def discard(self, checkpoint_id: int) -> None:
        """Delete a checkpoint: its metadata, ZSET entry, acks and every task snapshot."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*self._keys_of(checkpoint_id))
            pipe.zrem(f"{self.prefix}:checkpoints-started", str(checkpoint_id))
            pipe.zrem(f"{self.prefix}:checkpoints", str(checkpoint_id))
            pipe.execute()

    def retain(self, num_retained: int) -> list[int]:
        """Delete completed checkpoints beyond the newest ``num_retained``, never a savepoint (its
        metadata says so, whichever JobManager took it). Raises StaleLeaderError for a deposed
        JobManager."""
        if self.fence is not None:
            self.fence.check()
        ids = self.completed_ids()
        metadata = self.redis.mget([f"{self.prefix}:checkpoint:{i}" for i in ids]) if ids else []
        dropped = beyond_retention([(i, bool(raw and json.loads(raw).get("is-savepoint")))
                                    for i, raw in zip(ids, metadata, strict=True)], num_retained)
        for checkpoint_id in dropped:
            self.discard(checkpoint_id)
        return dropped

    def delete_all(self, keep: AbstractSet[int] = frozenset()) -> int:
        """Delete the job's checkpoints and counters, except the snapshots and metadata of the
        checkpoints in ``keep`` (its savepoints); returns the number of keys deleted. Raises
        StaleLeaderError for a deposed JobManager."""
        if self.fence is not None:
            self.fence.check()
        p = self.prefix
        ids = {int(x) for zset in ("checkpoints", "checkpoints-started")
               for x in members(self.redis.zrange(f"{p}:{zset}", 0, -1))}
        keys = [key for i in sorted(ids - set(keep)) for key in self._keys_of(i)]
        keys += [f"{p}:chk-info:{i}" for i in keep] + [f"{p}:chk-acks:{i}" for i in keep]
        keys += [f"{p}:{name}" for name in ("checkpoints", "checkpoints-started", "latest-checkpoint",
                                            "checkpoint-counter", "generation", "checkpoint-failures")]
        deleted = 0
        for start in range(0, len(keys), 1000):  # bounded commands on a big job
            deleted += self.redis.delete(*keys[start:start + 1000])
        return deleted

    def record_failure(self, checkpoint_id: int, reason: str) -> None:
        key = f"{self.prefix}:checkpoint-failures"
        entry = json.dumps({"id": checkpoint_id, "reason": reason, "time": wall_ms()})
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, entry)
            pipe.ltrim(key, 0, 19)
            pipe.execute()

    def failures(self) -> list[dict[str, Any]]:
        return [json.loads(x) for x in self.redis.lrange(f"{self.prefix}:checkpoint-failures", 0, -1)]

    def discard_abandoned(self, below: int | None = None) -> list[int]:
        """Delete the partial snapshots and acks of checkpoints started before ``below`` (all, when
        None) that did not complete; returns their ids.

        Called when checkpoint ``below`` completed: every task acked it, and a task acks in barrier
        order or skips a superseded checkpoint, so an older one can no longer complete. (Deleting
        at abort time could race the last ack of a checkpoint that was only late.) Raises
        StaleLeaderError for a deposed JobManager.
        """
        if self.fence is not None:
            self.fence.check()
        started = [int(x) for x in members(self.redis.zrangebyscore(
            f"{self.prefix}:checkpoints-started", "-inf", f"({below}" if below is not None else "+inf"))]
        completed = set(self.completed_ids())
        abandoned = [i for i in started if i not in completed]
        for checkpoint_id in abandoned:
            self.redis.delete(*self._keys_of(checkpoint_id))
        done = [i for i in started if i in completed or i in abandoned]
        if done:
            self.redis.zrem(f"{self.prefix}:checkpoints-started", *map(str, done))
        return abandoned
