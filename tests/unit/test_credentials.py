"""The REST token and the cluster secret: where they come from, made once, never half-written."""

import stat
import threading

import pytest

from strom.config import Configuration
from strom.credentials import cluster_secret, rest_token
from strom.errors import ConfigError


def config(tmp_path, **env):
    return Configuration(env={"STROM_STATE_DIR": str(tmp_path), **env})


def test_the_environment_wins_over_the_file(tmp_path):
    assert cluster_secret(config(tmp_path, STROM_CLUSTER_SECRET="s3"), create=True) == b"s3"
    assert not (tmp_path / "cluster-secret").exists()
    assert rest_token(config(tmp_path, STROM_REST_TOKEN="t1")) == "t1"


def test_without_either_reading_names_both_places(tmp_path):
    with pytest.raises(ConfigError, match=r"STROM_CLUSTER_SECRET.*cluster-secret"):
        cluster_secret(config(tmp_path))


def test_many_processes_starting_at_once_agree_on_one_secret_made_0600(tmp_path):
    found, barrier = [], threading.Barrier(8)

    def start():
        barrier.wait()
        found.append(cluster_secret(config(tmp_path), create=True))
    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found[0]) >= 32
    assert stat.S_IMODE((tmp_path / "cluster-secret").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["cluster-secret"]  # nothing left aside
