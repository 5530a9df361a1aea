"""The Dispatcher: accepts submitted jobs, stores them, starts a JobMaster for each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strom.checkpoint.store import CheckpointStore
from strom.errors import InvalidArtifactError, JobStateError, UnknownJobError, UnknownSavepointError
from strom.graph.artifact import load_artifact
from strom.graph.job_graph import JobGraph
from strom.jobmanager.job_master import JobMaster
from strom.jobmanager.job_store import JobStore
from strom.states import JobStatus


class Dispatcher:
    """Holds the running JobMasters of the leading JobManager; finished jobs are read from Redis.

    ``checkpoint_store(job_id, vertices)``: that job's checkpoints (where a savepoint's data lives),
    ``vertices`` its (vertex id, parallelism).
    """

    def __init__(self, store: JobStore, make_job_master: Callable[[JobGraph], JobMaster],
                 checkpoint_store: Callable[[str, list[tuple[str, int]]], CheckpointStore]) -> None:
        self.store = store
        self.make_job_master = make_job_master
        self.checkpoint_store = checkpoint_store
        self.job_masters: dict[str, JobMaster] = {}

    def submit(self, artifact: bytes) -> str:
        """Store and start a job. Raises :class:`InvalidArtifactError` (bad artifact, duplicate id)."""
        job_graph = load_artifact(artifact)
        if job_graph.job_id in self.job_masters or self.store.record(job_graph.job_id) is not None:
            raise InvalidArtifactError(f"job {job_graph.job_id} was already submitted")
        job_master = self.make_job_master(job_graph)
        self.store.add(job_graph.job_id, artifact, job_master.record(),
                       {"jid": job_graph.job_id, "name": job_graph.job_name, "state": JobStatus.CREATED})
        self.job_masters[job_graph.job_id] = job_master
        job_master.start()
        return job_graph.job_id

    def recover(self) -> list[JobMaster]:
        """JobMasters for the jobs a previous leader left unfinished (FINISHED ones never re-run)."""
        recovered = []
        for job_id in self.store.job_ids():
            record = self.store.record(job_id)
            if record is None or record.status.is_globally_terminal or job_id in self.job_masters:
                continue
            artifact = self.store.artifact(job_id)
            if artifact is None:
                continue
            job_master = self.make_job_master(load_artifact(artifact))
            self.job_masters[job_id] = job_master
            job_master.recover(record)
            recovered.append(job_master)
        return recovered

    def job_ended(self, job_master: JobMaster) -> None:
        """A job became globally terminal: it is served from the job store from now on."""
        self.job_masters.pop(job_master.job_id, None)

    def details(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/:id``: live from its JobMaster, else as stored; raises :class:`UnknownJobError`."""
        if job_id in self.job_masters:
            return self.job_masters[job_id].details()
        status = self.store.details(job_id)
        if status is None:
            raise UnknownJobError(job_id)
        return status

    def overview(self) -> list[dict[str, Any]]:
        """``GET /jobs``: id, name, status and end time (ms, -1) of every job of the cluster, oldest
        first: from the job store's index, the status of running jobs live."""
        jobs = self.store.overview()
        for job in jobs:
            if job["id"] in self.job_masters:
                job["status"] = str(self.job_masters[job["id"]].state)
        return jobs

    def checkpoint(self, job_id: str, checkpoint_id: int) -> dict[str, Any] | None:
        """A retained checkpoint's metadata (``acks`` per execution id: size, ack ms after trigger);
        None if it is gone. Raises :class:`UnknownJobError` for an unknown job."""
        details = self.details(job_id)
        vertices = [(v["id"], v["parallelism"]) for v in details.get("vertices", [])]
        return self.checkpoint_store(job_id, vertices).metadata(checkpoint_id)

    def running(self, job_id: str) -> JobMaster:
        """The JobMaster of a running job; raises :class:`UnknownJobError` otherwise."""
        if job_id not in self.job_masters:
            raise UnknownJobError(job_id)
        return self.job_masters[job_id]

    def savepoints(self) -> list[dict[str, Any]]:
        """``GET /savepoints``: every savepoint of the cluster, oldest first: id, job id, checkpoint id."""
        listed = []
        for savepoint_id in self.store.savepoint_ids():
            pointer = self.store.savepoint(savepoint_id)
            if pointer is not None:
                listed.append({"id": savepoint_id, "job-id": pointer["job_id"],
                               "checkpoint-id": pointer["checkpoint_id"]})
        return listed

    def dispose_savepoint(self, savepoint_id: str) -> None:
        """Delete a savepoint (Flink's savepoint disposal): its pointer, then its checkpoint data.

        Raises :class:`UnknownSavepointError` for an unknown id, :class:`JobStateError` while a
        restart of a running job would restore it (its own job's newest completed checkpoint, or
        the start of a job that has no completed checkpoint yet).
        """
        pointer = self.store.savepoint(savepoint_id)
        if pointer is None:
            raise UnknownSavepointError(savepoint_id)
        job_id, checkpoint_id = pointer["job_id"], pointer["checkpoint_id"]
        vertices = [(v["vertex_id"], v["parallelism"]) for v in pointer["vertices"].values()]
        checkpoints = self.checkpoint_store(job_id, vertices)
        latest = checkpoints.latest()
        if job_id in self.job_masters and latest is not None and latest["id"] == checkpoint_id:
            raise JobStateError(f"savepoint {savepoint_id} is the newest checkpoint of running job {job_id}; "
                                f"dispose of it once a newer checkpoint completed")
        for running in self.job_masters.values():  # started from it, nothing of its own to restore yet
            if running.job_graph.savepoint == savepoint_id and running.checkpoints.latest() is None:
                raise JobStateError(f"running job {running.job_id} was started from savepoint {savepoint_id} and "
                                    f"has no checkpoint of its own yet; a restart would restore the savepoint")
        self.store.remove_savepoint(savepoint_id)
        checkpoints.discard(checkpoint_id)

    def cancel(self, job_id: str) -> None:
        """Cancel a running job (a terminal one stays as it is); raises :class:`UnknownJobError`."""
        if job_id not in self.job_masters:
            if self.store.details(job_id) is None:
                raise UnknownJobError(job_id)
            return  # already terminal
        self.job_masters[job_id].cancel()
