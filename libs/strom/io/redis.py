"""Redis connection (redis-py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from strom.config import Configuration, RedisOptions, redacted_url
from strom.errors import StaleLeaderError, StorageConfigError
from strom.io.client_config import redis_connection_kwargs
from strom.io.kafka import WAITING_LOG_INTERVAL_S
from strom.logs import get_logger
from strom.naming import leader_epoch_key

log = get_logger(__name__)


class _LoggedRetry(Retry):
    """redis-py's Retry that says what it waits for: at the first failed attempt, then every
    WAITING_LOG_INTERVAL_S with the number of failures in between (as Kafka clients do). Refused
    credentials are raised at once (redis-py counts them as connection errors)."""

    def __init__(self, url: str) -> None:
        # 64 attempts with backoff capped at 0.5 s: rides out a Redis restart of ~30 s, and
        # resumes within 0.5 s of Redis coming back (tasks poll checkpoint progress in Redis).
        super().__init__(ExponentialBackoff(cap=0.5, base=0.05), 64)
        self.url = redacted_url(url)  # logged: never the password
        self._last_logged, self._unlogged = float("-inf"), 0

    def call_with_retry(self, do, fail, *args, **kwargs):
        def logged_fail(error, *rest):
            if isinstance(error, redis.AuthenticationError):  # wrong credentials: no use waiting
                fail(error, *rest)
                raise redis.AuthenticationError(
                    f"Redis at {self.url} refused Strom's credentials: {error} (set them in redis.url, or "
                    f"redis.username and redis.password or redis.password-file)") from error
            now = time.monotonic()
            if now - self._last_logged >= WAITING_LOG_INTERVAL_S:
                log.warning("waiting for Redis", url=self.url, error=str(error),
                            failures_since_last_line=self._unlogged)
                self._last_logged, self._unlogged = now, 0
            else:
                self._unlogged += 1
            return fail(error, *rest)
        return super().call_with_retry(do, logged_fail, *args, **kwargs)


def redis_client(config: Configuration) -> redis.Redis:
    """A client for ``redis.url`` (with the credentials and TLS files of
    :func:`~strom.io.client_config.redis_connection_kwargs`) that retries a dropped connection with
    backoff, logging each wait."""
    url = config.get(RedisOptions.URL)
    return redis.Redis.from_url(url, socket_timeout=10, retry=_LoggedRetry(url),
                                retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                                **redis_connection_kwargs(config))


def check_redis_settings(client: redis.Redis) -> None:
    """Refuse a Redis that may evict Strom's keys: ``maxmemory-policy`` ``allkeys-*`` drops any key
    when memory runs out, a checkpoint or a job record among them. (``volatile-*`` evicts only keys
    with a TTL, and Strom sets none.) Raises :class:`~strom.errors.StorageConfigError`; a Redis
    that refuses CONFIG GET (some managed services) is let through with a warning.
    """
    kwargs = client.connection_pool.connection_kwargs
    where = kwargs.get("path") or f"{kwargs.get('host')}:{kwargs.get('port')}"  # never the password
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy") or ""
    except redis.ResponseError as exc:
        log.warning("cannot read Redis maxmemory-policy; make sure it evicts nothing", redis=where, error=str(exc))
        return
    if isinstance(policy, bytes):
        policy = policy.decode()
    if policy.startswith("allkeys-"):
        raise StorageConfigError(
            f"Redis at {where} has maxmemory-policy {policy}: it would evict checkpoints and job records "
            f"when full; set maxmemory-policy noeviction (Strom then fails loudly instead of losing state)")


class LeaderFence:
    """Fences leader-scoped Redis writes with the JobManager leader epoch.

    ``strom:<cluster>:jobmanager-epoch`` holds the newest epoch that wrote.
    :meth:`write` runs a MULTI/EXEC only if the writer's token is at least
    that epoch, checked under WATCH so no newer leader can slip in between
    (redis-py's optimistic transaction); a deposed leader's write raises
    :class:`StaleLeaderError`.
    """

    def __init__(self, client: redis.Redis, cluster_id: str, token: Callable[[], int | None]) -> None:
        self.redis, self.key, self.token = client, leader_epoch_key(cluster_id), token

    def check(self) -> None:
        """Raise :class:`StaleLeaderError` unless the token is at least the newest epoch that wrote
        (for deletes that cannot run in one transaction with the check, such as retention)."""
        self._token_at_least(int(self.redis.get(self.key) or -1))

    def _token_at_least(self, current: int) -> int:
        token = self.token()
        if token is None or token < current:
            raise StaleLeaderError(f"write refused: leader epoch {token} is older than {current}")
        return token

    def write(self, fill: Callable[[redis.client.Pipeline], object]) -> None:
        """Queue writes with ``fill(pipe)`` and execute them atomically, if still leader."""
        def transaction(pipe: redis.client.Pipeline) -> None:
            current = int(pipe.get(self.key) or -1)
            token = self._token_at_least(current)
            pipe.multi()
            if token > current:
                pipe.set(self.key, token)
            fill(pipe)

        self.redis.transaction(transaction, self.key)


def text(value: bytes | str) -> str:
    """A Redis reply as text (the clients here return bytes; redis-py types replies as either)."""
    return value.decode() if isinstance(value, bytes) else value


def members(reply: Any) -> list[str]:
    """The members of a ZRANGE/ZRANGEBYSCORE reply without scores, as text."""
    return [text(member) for member in reply]


def atomic_write(client: redis.Redis, fill: Callable[[redis.client.Pipeline], object],
                 fence: LeaderFence | None = None) -> None:
    """Run the writes ``fill(pipe)`` queues in one MULTI/EXEC, fenced when ``fence`` is given
    (what ``fill`` returns is ignored)."""
    if fence is not None:
        fence.write(fill)
        return
    with client.pipeline(transaction=True) as pipe:
        fill(pipe)
        pipe.execute()
