"""High availability: every ops/drill fault on one shared cluster, plus fencing of a deposed leader.

The drills run WordCount with exactly-once output over 200,000 words and
check every word's committed running counts against the input (see
strom.cluster.drill); here each verdict must be OK.
"""

from __future__ import annotations

import time

import pytest

from strom.cluster.drill import Drill, DrillResult
from strom.coordination.leader_election import current_leader
from strom.io.redis import redis_client

from .conftest import TestCluster
from .test_checkpoints import corpus


@pytest.fixture(scope="module")
def drill_cluster(stack, tmp_path_factory):
    cluster = TestCluster(tmp_path_factory.mktemp("drills"))
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def drill(drill_cluster) -> Drill:
    return Drill(drill_cluster.config, drill_cluster.local, corpus(200_000), say=lambda _line: None)


def run(drill: Drill, fault: str) -> DrillResult:
    result = drill.run(fault)
    assert result.ok, result.line(None)
    return result


def test_jobmanager_leader_kill_reattaches_without_restarting_tasks(drill):
    result = run(drill, "kill-jobmanager")
    assert result.new_leader_s <= 4.0 + 2.0  # ZooKeeper session timeout + 2 s
    assert result.restarts == 0              # attempt numbers unchanged: re-attached


def test_deposed_jobmanager_is_fenced(drill, drill_cluster: TestCluster):
    result = run(drill, "partition-zookeeper")
    assert result.new_leader_s <= 6.0 and result.restarts == 0
    time.sleep(1.0)
    logs = {name: (drill_cluster.local.log_dir / f"{name}.log").read_text()
            for name in ("jobmanager-1", "jobmanager-2")}
    assert any("stepping down" in text or "leadership revoked" in text for text in logs.values())
    leader = current_leader(drill_cluster.client.zk, drill_cluster.config, "JOBMANAGER")
    epoch = int(redis_client(drill_cluster.config).get(f"strom:{drill_cluster.cluster_id}:jobmanager-epoch"))
    assert epoch == leader.token  # the newest leader wrote last; nobody older can


def test_resourcemanager_leader_kill_disturbs_no_task(drill):
    result = run(drill, "kill-resourcemanager")
    assert result.new_leader_s <= 6.0 and result.restarts == 0


@pytest.mark.parametrize("fault", ["kill-taskmanager", "pause-taskmanager"])
def test_taskmanager_faults(drill, fault):
    result = run(drill, fault)
    assert result.restarts >= 1


@pytest.mark.parametrize("fault", ["restart-redis", "restart-kafka"])
def test_storage_restarts_lose_nothing(drill, fault):
    run(drill, fault)


def test_stale_leader_write_to_redis_is_refused(drill_cluster: TestCluster):
    from strom.io.redis import LeaderFence, StaleLeaderError
    client = redis_client(drill_cluster.config)
    newest = LeaderFence(client, "fence-test", lambda: 7)
    newest.write(lambda pipe: pipe.set("strom:fence-test:probe", "new"))
    stale = LeaderFence(client, "fence-test", lambda: 6)
    with pytest.raises(StaleLeaderError, match="epoch 6 is older than 7"):
        stale.write(lambda pipe: pipe.set("strom:fence-test:probe", "old"))
    with pytest.raises(StaleLeaderError):
        LeaderFence(client, "fence-test", lambda: None).write(lambda pipe: pipe.set("strom:fence-test:probe", "x"))
    assert client.get("strom:fence-test:probe") == b"new"
    client.delete("strom:fence-test:probe", "strom:fence-test:jobmanager-epoch")
