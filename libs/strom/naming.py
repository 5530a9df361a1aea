"""Every name Strom gives to something outside the process: Kafka topics and
transactional ids, Redis keys, ZooKeeper paths. Each is built here and only here,
so two processes (and two versions) agree on it.

``cluster_id`` (``strom.cluster-id``) namespaces everything, so several clusters
share one Kafka, ZooKeeper and Redis.

>>> edge_topic("c1", "job42", "e0")
'strom.c1.job.job42.e0'
>>> leader_path("c1", "JOBMANAGER")
'/strom/c1/jobmanager/leader'
>>> job_prefix("c1", "job42")
'strom:c1:job:job42'
"""

from __future__ import annotations


# -- Kafka ----------------------------------------------------------------------------------
def cluster_topic_prefix(cluster_id: str) -> str:
    """Prefix of every topic of a cluster (control topics and jobs' edge topics)."""
    return f"strom.{cluster_id}."


def control_topic(cluster_id: str, role: str) -> str:
    """The control topic a role's processes read (``role``: JOBMANAGER, RESOURCEMANAGER, ...)."""
    return f"strom.{cluster_id}.control.{role.lower()}"


def edge_topic(cluster_id: str, job_id: str, edge_id: str) -> str:
    """The intermediate topic of one JobEdge: one partition per key group (hash) or subtask."""
    return f"{job_topic_prefix(cluster_id)}{job_id}.{edge_id}"


def job_topic_prefix(cluster_id: str) -> str:
    """What every job's intermediate topic name starts with (the job id follows)."""
    return f"strom.{cluster_id}.job."


def sink_marker_topic(cluster_id: str) -> str:
    """Where exactly-once sinks write their commit markers (the last epoch they committed)."""
    return f"strom.{cluster_id}.sink-markers"


def flow_control_group(job_id: str, vertex_id: str) -> str:
    """Consumer group a vertex's subtasks commit their input positions to (never read back for
    recovery: upstream tasks read it to bound what waits unread on the edge)."""
    return f"strom-{job_id}-{vertex_id}-flow"


def sink_transactional_id(job_id: str, vertex_id: str, subtask_index: int) -> str:
    """The Kafka ``transactional.id`` of one exactly-once sink subtask, stable across attempts
    (a new attempt's ``init_transactions`` fences the old one's), and its marker group."""
    return f"strom-{job_id}-{vertex_id}-{subtask_index}"


def allocation_id(job_id: str, attempt: int, slot_index: int) -> str:
    """The id of the slot request for slot ``slot_index`` of a job's attempt ``attempt``
    (the ResourceManager and TaskManagers key the slot's allocation by it)."""
    return f"{job_id[:12]}-g{attempt}-slot{slot_index}"


def savepoint_id(job_id: str, checkpoint_id: int) -> str:
    """The name ``strom run --from-savepoint`` takes for a completed savepoint."""
    return f"savepoint-{job_id[:8]}-{checkpoint_id}"


# -- Redis ----------------------------------------------------------------------------------
def cluster_prefix(cluster_id: str) -> str:
    """Prefix of every Redis key of a cluster."""
    return f"strom:{cluster_id}"


def job_prefix(cluster_id: str, job_id: str) -> str:
    """The job store's hash of one job; its checkpoints' keys start with it too."""
    return f"strom:{cluster_id}:job:{job_id}"


def artifact_key(cluster_id: str, job_id: str) -> str:
    """A submitted job's artifact (the cloudpickled JobGraph) that TaskManagers load."""
    return f"{job_prefix(cluster_id, job_id)}:artifact"


def jobs_key(cluster_id: str) -> str:
    """The job store's ZSET of every job id of a cluster, scored by submit time (ms)."""
    return f"strom:{cluster_id}:jobs"


def job_overview_key(cluster_id: str) -> str:
    """The job store's HASH job id -> JSON {"name", "status", "end-time"}: ``GET /jobs`` in one read."""
    return f"strom:{cluster_id}:job-overview"


def job_id_of_key(cluster_id: str, key: str) -> str | None:
    """The job id of a Redis key under :func:`job_prefix`, None for another key.

    >>> job_id_of_key("c1", "strom:c1:job:ab12:chk:3:v1:0"), job_id_of_key("c1", "strom:c1:jobs")
    ('ab12', None)
    """
    prefix = f"strom:{cluster_id}:job:"
    return key[len(prefix):].split(":", 1)[0] if key.startswith(prefix) else None


def job_record_key(cluster_id: str, job_id: str) -> str:
    """The JobRecord (JSON): what a new JobManager leader needs to take the job over."""
    return f"{job_prefix(cluster_id, job_id)}:record"


def savepoint_key(cluster_id: str, savepoint_id: str) -> str:
    """A savepoint's pointer (JSON: job id, checkpoint id, vertices by state key)."""
    return f"{savepoint_prefix(cluster_id)}:{savepoint_id}"


def savepoints_key(cluster_id: str) -> str:
    """The ZSET of every savepoint id of a cluster, scored by completion time (ms)."""
    return f"strom:{cluster_id}:savepoints"


def savepoint_prefix(cluster_id: str) -> str:
    """Prefix of savepoints, which outlive their job."""
    return f"strom:{cluster_id}:savepoint"


def leader_epoch_key(cluster_id: str) -> str:
    """The newest JobManager leader epoch that wrote to Redis (the leader fence)."""
    return f"strom:{cluster_id}:jobmanager-epoch"


# -- ZooKeeper ------------------------------------------------------------------------------
#: The parent of every cluster's znodes (several clusters may share a ZooKeeper).
ZOOKEEPER_ROOT = "/strom"


def cluster_path(cluster_id: str) -> str:
    """The root of a cluster's znodes (with ZooKeeper credentials, their digest ACLs start here)."""
    return f"{ZOOKEEPER_ROOT}/{cluster_id}"


def role_path(cluster_id: str, role: str) -> str:
    """A leader role's ZooKeeper node: election lock, epoch counter and leader node below it."""
    return f"{cluster_path(cluster_id)}/{role.lower()}"


def leader_path(cluster_id: str, role: str) -> str:
    """The ephemeral node holding the current leader's ``LeaderInfo`` (JSON)."""
    return f"{role_path(cluster_id, role)}/leader"


def metric_endpoints_key(cluster_id: str) -> str:
    """The ZSET of the cluster's live ``/metrics`` endpoints (JSON member, scored by expiry, s)."""
    return f"strom:{cluster_id}:metric-endpoints"
