"""Redis connection (redis-py)."""

from __future__ import annotations

from typing import Callable

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from strom.config import Configuration, RedisOptions


def redis_client(config: Configuration) -> redis.Redis:
    """A client for ``redis.url`` that retries a dropped connection (redis-py's own Retry)."""
    return redis.Redis.from_url(config.get(RedisOptions.URL), socket_timeout=10,
                                retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), 10),
                                retry_on_error=[redis.ConnectionError, redis.TimeoutError])


class StaleLeaderError(RuntimeError):
    """A Redis write of a JobManager that no longer leads was refused."""


class LeaderFence:
    """Fences leader-scoped Redis writes with the JobManager leader epoch.

    ``strom:<cluster>:jobmanager-epoch`` holds the newest epoch that wrote.
    :meth:`write` runs a MULTI/EXEC only if the writer's token is at least
    that epoch, checked under WATCH so no newer leader can slip in between
    (redis-py's optimistic transaction); a deposed leader's write raises
    :class:`StaleLeaderError`.
    """

    def __init__(self, client: redis.Redis, cluster_id: str, token: Callable[[], int | None]) -> None:
        self.redis, self.key, self.token = client, f"strom:{cluster_id}:jobmanager-epoch", token

    def write(self, fill: Callable[[redis.client.Pipeline], None]) -> None:
        """Queue writes with ``fill(pipe)`` and execute them atomically, if still leader."""
        def transaction(pipe: redis.client.Pipeline) -> None:
            token = self.token()
            current = int(pipe.get(self.key) or -1)
            if token is None or token < current:
                raise StaleLeaderError(f"write refused: leader epoch {token} is older than {current}")
            pipe.multi()
            if token > current:
                pipe.set(self.key, token)
            fill(pipe)

        self.redis.transaction(transaction, self.key)


def atomic_write(client: redis.Redis, fill: Callable[[redis.client.Pipeline], None],
                 fence: LeaderFence | None = None) -> None:
    """Run the writes ``fill(pipe)`` queues in one MULTI/EXEC, fenced when ``fence`` is given."""
    if fence is not None:
        fence.write(fill)
        return
    with client.pipeline(transaction=True) as pipe:
        fill(pipe)
        pipe.execute()
