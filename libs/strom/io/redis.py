"""Redis connection (redis-py)."""

from __future__ import annotations

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from strom.config import Configuration, RedisOptions


def redis_client(config: Configuration) -> redis.Redis:
    """A client for ``redis.url`` that retries a dropped connection (redis-py's own Retry)."""
    return redis.Redis.from_url(config.get(RedisOptions.URL), socket_timeout=10,
                                retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), 10),
                                retry_on_error=[redis.ConnectionError, redis.TimeoutError])
