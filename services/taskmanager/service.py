"""Entry point of ``strom taskmanager``: builds the TaskExecutor of one TaskManager process."""

from __future__ import annotations

from strom.config import ClusterOptions, Configuration
from strom.credentials import cluster_secret
from strom.io.redis import redis_client
from strom.taskmanager.artifacts import JobArtifacts
from strom.taskmanager.task_executor import TaskExecutor


def build(config: Configuration, instance_id: str | None = None) -> TaskExecutor:
    """The TaskExecutor, loading job artifacts from the cluster's Redis; ``run()`` it."""
    client = redis_client(config)
    artifacts = JobArtifacts.from_redis(client, config.get(ClusterOptions.CLUSTER_ID),
                                        cluster_secret(config, create=True))
    return TaskExecutor(config, instance_id, artifacts, client)
