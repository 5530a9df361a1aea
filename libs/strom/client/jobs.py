"""Talking to the JobManager leader's REST API (httpx): submit, inspect, cancel, wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from strom.config import Configuration
from strom.coordination.leader_election import current_leader, zookeeper_client
from strom.credentials import rest_token
from strom.errors import JobClientError
from strom.graph.artifact import dump_artifact
from strom.graph.job_graph import JobGraph
from strom.io.client_config import rest_verify
from strom.states import JobStatus


class JobClient:
    """REST client of the JobManager that leads now, found in ZooKeeper, with the cluster's bearer
    token (:func:`~strom.credentials.rest_token`; ConfigError when there is none).

    A standby's 307 is not followed with the token: the client asks ZooKeeper for the leader again
    and retries there once, so it never sends the token to an address only a redirect named.
    Over https (``security.ssl.rest.enabled``) it checks the leader's certificate and host name
    against ``security.ssl.rest.ca-file``, so a leader entry forged in ZooKeeper gets no token.
    """

    def __init__(self, config: Configuration | None = None, address: str | None = None) -> None:
        self.config = config or Configuration()
        self.headers = {"Authorization": f"Bearer {rest_token(self.config)}"}
        self.address = address or self._leader_address()
        self.verify = rest_verify(self.config)
        self.http = self._client()

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.address, follow_redirects=False, timeout=30, headers=self.headers,
                            verify=self.verify)

    def _leader_address(self) -> str:
        zk = zookeeper_client(self.config)
        try:
            leader = current_leader(zk, self.config, "JOBMANAGER")
        finally:
            zk.stop()
            zk.close()
        if leader is None or not leader.address:
            raise JobClientError("no JobManager leader found in ZooKeeper; is the cluster up? "
                                 "(strom cluster up / strom status)")
        return leader.address

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
            if response.status_code == 307:  # a standby: the leader changed since we looked
                self.http.close()
                self.address = self._leader_address()
                self.http = self._client()
                response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise JobClientError(f"JobManager at {self.address} unreachable: {exc}") from exc
        if response.status_code == 307:
            raise JobClientError(f"{method} {path}: the JobManager ZooKeeper names as leader ({self.address}) "
                                 f"says it is not; leadership is changing, retry shortly")
        if response.status_code >= 400:
            try:
                message = "; ".join(response.json()["errors"])
            except Exception:
                message = response.text
            raise JobClientError(f"{method} {path}: {response.status_code} {message}")
        return response.json()

    def submit(self, artifact: bytes) -> str:
        return self._request("POST", "/jobs", content=artifact,
                             headers={"Content-Type": "application/octet-stream"})["jobid"]

    def jobs(self) -> list[dict[str, Any]]:
        return self._request("GET", "/jobs")["jobs"]

    def details(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/jobs/{job_id}")

    def cancel(self, job_id: str) -> None:
        self._request("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    def trigger_savepoint(self, job_id: str, cancel_job: bool = False, timeout_s: float = 120) -> str:
        """Take a savepoint (and cancel the job after it, with ``cancel_job``); returns its id.

        Raises :class:`JobClientError` if it fails, TimeoutError after ``timeout_s``.
        """
        request_id = self._request("POST", f"/jobs/{job_id}/savepoints",
                                   json={"cancel-job": cancel_job})["request-id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status = self._request("GET", f"/jobs/{job_id}/savepoints/{request_id}")
            if status["status"]["id"] == "COMPLETED" and status["operation"]["location"]:
                return status["operation"]["location"]
            if status["status"]["id"] == "FAILED":
                raise JobClientError(f"savepoint of job {job_id} failed: "
                                     f"{status['operation']['failure-cause']}")
            time.sleep(0.2)
        raise TimeoutError(f"savepoint {request_id} of job {job_id} not done after {timeout_s} s")

    def savepoints(self) -> list[dict[str, Any]]:
        """Every savepoint of the cluster, oldest first: {"id", "job-id", "checkpoint-id"}."""
        return self._request("GET", "/savepoints")["savepoints"]

    def dispose_savepoint(self, savepoint_id: str) -> None:
        """Delete a savepoint; raises :class:`JobClientError` (404 unknown, 409 still in use)."""
        self._request("POST", "/savepoint-disposal", json={"savepoint-path": savepoint_id})

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        return self._request("GET", f"/jobs/{job_id}/checkpoints")

    def wait(self, job_id: str, timeout_s: float | None = None,
             on_change: Callable[[dict[str, Any]], None] | None = None,
             on_progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll until the job is FINISHED, FAILED or CANCELED; returns its details.

        ``on_change(details)``: at each change of state; ``on_progress(details)``: about every 2 s
        while it runs. Raises :class:`TimeoutError` after ``timeout_s``.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last_state, next_progress = None, time.monotonic() + 2
        while True:
            details = self.details(job_id)
            if details["state"] != last_state:
                last_state = details["state"]
                if on_change:
                    on_change(details)
            elif on_progress and details["state"] == "RUNNING" and time.monotonic() >= next_progress:
                next_progress = time.monotonic() + 2
                on_progress(details)
            if JobStatus(details["state"]).is_globally_terminal:
                return details
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {details['state']} after {timeout_s} s")
            time.sleep(0.2)

    def close(self) -> None:
        self.http.close()


def submit_and_wait(job_graph: JobGraph) -> dict[str, Any]:
    """Default of ``env.execute()`` outside ``strom run``: submit, wait, return the final details."""
    client = JobClient()
    try:
        return client.wait(client.submit(dump_artifact(job_graph)))
    finally:
        client.close()
