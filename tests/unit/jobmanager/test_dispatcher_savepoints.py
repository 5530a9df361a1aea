"""Savepoints are the user's: listed and disposed through the Dispatcher, over in-memory stores."""

import pytest

from strom.checkpoint.memory_store import InMemoryCheckpointStore
from strom.errors import JobStateError, UnknownSavepointError
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.job_store import InMemoryJobStore


def completed(store: InMemoryCheckpointStore, now_ms: int, savepoint: bool = False) -> int:
    checkpoint_id = store.claim(0, store.progress()[0], now_ms, 60_000, join=False, savepoint=savepoint)
    store.write_snapshot(checkpoint_id, "v", 0, {"offsets": b"{}"})
    assert store.acknowledge(0, checkpoint_id, "v[0]#0", 2, 1, now_ms)
    return checkpoint_id


def dispatcher_with_a_savepoint():
    jobs, checkpoints = InMemoryJobStore(), InMemoryCheckpointStore()
    checkpoints.set_generation(0)
    savepoint = completed(checkpoints, 1000, savepoint=True)
    jobs.add_savepoint("savepoint-job1-1", {"job_id": "job1", "checkpoint_id": savepoint, "vertices": {}})
    dispatcher = Dispatcher(jobs, make_job_master=None, checkpoint_store=lambda job_id, vertices: checkpoints)
    return dispatcher, jobs, checkpoints, savepoint


def test_savepoints_are_listed_and_disposed_with_their_state():
    dispatcher, jobs, checkpoints, savepoint = dispatcher_with_a_savepoint()
    completed(checkpoints, 2000)
    assert dispatcher.savepoints() == [{"id": "savepoint-job1-1", "job-id": "job1", "checkpoint-id": savepoint}]
    dispatcher.dispose_savepoint("savepoint-job1-1")
    assert dispatcher.savepoints() == [] and jobs.savepoint("savepoint-job1-1") is None
    assert checkpoints.metadata(savepoint) is None and checkpoints.completed_ids() == [2]
    with pytest.raises(UnknownSavepointError):
        dispatcher.dispose_savepoint("savepoint-job1-1")


def test_the_newest_checkpoint_of_a_running_job_is_not_disposed():
    dispatcher, jobs, checkpoints, savepoint = dispatcher_with_a_savepoint()
    dispatcher.job_masters["job1"] = object()  # running
    with pytest.raises(JobStateError, match="newest checkpoint of running job job1"):
        dispatcher.dispose_savepoint("savepoint-job1-1")
    assert checkpoints.metadata(savepoint) is not None and jobs.savepoint("savepoint-job1-1") is not None


def test_a_savepoint_a_running_job_would_restore_on_restart_is_not_disposed():
    from types import SimpleNamespace
    dispatcher, jobs, checkpoints, _savepoint = dispatcher_with_a_savepoint()
    completed(checkpoints, 2000)  # the origin job moved on: not its newest checkpoint any more
    resumed = SimpleNamespace(job_id="job2", job_graph=SimpleNamespace(savepoint="savepoint-job1-1"),
                              checkpoints=InMemoryCheckpointStore())
    dispatcher.job_masters["job2"] = resumed
    with pytest.raises(JobStateError, match="job2 was started from savepoint savepoint-job1-1"):
        dispatcher.dispose_savepoint("savepoint-job1-1")
    resumed.checkpoints.set_generation(0)
    completed(resumed.checkpoints, 3000)  # it has a checkpoint of its own now
    dispatcher.dispose_savepoint("savepoint-job1-1")
    assert jobs.savepoint("savepoint-job1-1") is None
