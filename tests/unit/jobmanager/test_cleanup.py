"""Expiry of ended jobs over the in-memory stores: what goes, and what savepoints keep."""

from strom.checkpoint.memory_store import InMemoryCheckpointStore
from strom.jobmanager.cleanup import JobCleanup
from strom.jobmanager.job_store import InMemoryJobStore, JobRecord
from strom.states import JobStatus

HOUR = 3_600_000


def completed(store: InMemoryCheckpointStore, now_ms: int, savepoint: bool = False) -> int:
    checkpoint_id = store.claim(0, store.progress()[0], now_ms, 60_000, join=False, savepoint=savepoint)
    store.write_snapshot(checkpoint_id, "v1", 0, {"offsets": b"{}"})
    store.acknowledge(0, checkpoint_id, "v1[0]#0", 2, 1, now_ms)
    return checkpoint_id


def add_job(jobs: InMemoryJobStore, job_id: str, status: JobStatus, end_time: int) -> None:
    jobs.add(job_id, b"artifact", JobRecord(status, 0, vertices=[["v1", 1]]),
             {"name": job_id, "state": str(status), "end-time": end_time})


def test_ended_jobs_expire_with_their_checkpoints_but_not_what_a_savepoint_points_to():
    jobs, checkpoints = InMemoryJobStore(), {job: InMemoryCheckpointStore() for job in ("old", "recent", "live")}
    for store in checkpoints.values():
        store.set_generation(0)
    savepoint, latest = completed(checkpoints["old"], 1, savepoint=True), completed(checkpoints["old"], 2)
    jobs.add_savepoint("savepoint-old-1", {"job_id": "old", "checkpoint_id": savepoint, "vertices": {}})
    add_job(jobs, "old", JobStatus.FINISHED, end_time=1000)
    add_job(jobs, "recent", JobStatus.CANCELED, end_time=2 * HOUR)
    add_job(jobs, "live", JobStatus.RUNNING, end_time=-1)
    cleanup = JobCleanup("c", "kafka:9092", client=None, fence=None, store=jobs,
                         checkpoint_store=lambda job_id, vertices: checkpoints[job_id], expiration_ms=HOUR)

    assert cleanup.expire(now_ms=2 * HOUR + 1, running={"live"}) == ["old"]
    assert [job["id"] for job in jobs.overview()] == ["recent", "live"]
    assert jobs.record("old") is None and jobs.artifact("old") is None and jobs.details("old") is None
    old = checkpoints["old"]
    assert old.metadata(latest) is None and old.completed_ids() == [savepoint]  # the savepoint's state stays
    assert old.read_vertex(savepoint, "v1", 1)
    assert cleanup.expire(now_ms=3 * HOUR, running={"live"}) == ["recent"]
    assert cleanup.expire(now_ms=100 * HOUR, running={"live"}) == []  # a running job never expires
