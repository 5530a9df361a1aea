"""The JobManager endpoint: leader election, Dispatcher + JobMasters, REST API.

Every instance serves REST; a standby redirects to the leader. Only the
leader has a Dispatcher; JobMasters run on the main thread and hear about
slots, subtask states and lost TaskManagers through the control plane.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from prometheus_client.core import Metric

from strom.checkpoint.store import RedisCheckpointStore
from strom.clock import SYSTEM_CLOCK
from strom.cluster.endpoint import ControlEndpoint, Handler
from strom.config import (
    ClusterOptions,
    Configuration,
    JobManagerOptions,
    JobStoreOptions,
    KafkaOptions,
    MetricsOptions,
    RestOptions,
)
from strom.control.codec import ControlMessage
from strom.control.gateways import TaskExecutorGateway
from strom.control.messages import (
    AcknowledgeCheckpoint,
    ControlPayload,
    DeclineCheckpoint,
    SlotOffer,
    SlotRequestFailed,
    TaskExecutionState,
    TaskManagerLost,
    TaskReports,
)
from strom.control.roles import Role
from strom.coordination.leader_election import LeaderInfo
from strom.credentials import cluster_secret, rest_token
from strom.errors import InvalidArtifactError, NotLeaderError, StaleLeaderError
from strom.graph.job_graph import JobGraph
from strom.io.kafka import admin_client, check_kafka_settings
from strom.io.redis import LeaderFence, check_redis_settings, redis_client
from strom.jobmanager.cleanup import JobCleanup
from strom.jobmanager.dispatcher import Dispatcher
from strom.jobmanager.job_master import JobMaster
from strom.jobmanager.job_resources import JobResources
from strom.jobmanager.job_store import RedisJobStore
from strom.jobmanager.rest import Monitoring, RestServer, create_app, rest_tls
from strom.metrics.cluster import job_families
from strom.metrics.fetcher import MetricFetcher
from strom.metrics.reporter import MetricEndpoints
from strom.naming import leader_path
from strom.states import JobStatus


class JobManager(ControlEndpoint):
    """A JobManager process: every instance serves REST; the leader runs the Dispatcher and
    the JobMasters and re-attaches jobs a previous leader left running."""

    role = Role.JOBMANAGER
    leader_scoped = True

    def __init__(self, config: Configuration, instance_id: str | None = None) -> None:
        super().__init__(config, instance_id)
        cluster_id = config.get(ClusterOptions.CLUSTER_ID)
        self.clock = SYSTEM_CLOCK
        self.redis = redis_client(config)
        self.fence = LeaderFence(self.redis, cluster_id, lambda: self.leadership.token)
        self.store = RedisJobStore(self.redis, cluster_id, self.fence, secret=cluster_secret(config, create=True))
        self.task_executors = TaskExecutorGateway(self.channel)
        self.dispatcher: Dispatcher | None = None
        self._reports: list[dict] = []
        self._reports_request: str | None = None
        self._reconcile_at_ms: float | None = None
        self.reconcile_timeout_ms = config.get(JobManagerOptions.RECONCILE_TIMEOUT)
        self.cleanup = JobCleanup(cluster_id, config.get(KafkaOptions.BOOTSTRAP), self.redis, self.fence, self.store,
                                  self._checkpoint_store, config.get(JobStoreOptions.EXPIRATION_TIME))
        endpoints = MetricEndpoints(self.redis, cluster_id)
        monitoring = Monitoring(MetricFetcher(endpoints, config.get(MetricsOptions.FETCHER_UPDATE_INTERVAL)),
                                endpoints, lambda: [(row[0], str(row[2])) for row in config.describe()], cluster_id)
        self.rest = RestServer(
            create_app(self.call, lambda: self._leader_address(), lambda: self.is_leader,
                       self._require_dispatcher, self.confirm_leadership, token=rest_token(config, create=True),
                       max_body_bytes=config.get(RestOptions.MAX_BODY_BYTES), monitoring=monitoring),
            config.get(RestOptions.ADDRESS), config.get(RestOptions.PORT), rest_tls(config))
        self.every(0.2, self._tick)
        self.every(config.get(JobStoreOptions.CLEANUP_INTERVAL) / 1000, self._clean_up)

    def handlers(self) -> Mapping[type[ControlPayload], Handler]:
        return {**super().handlers(),
                TaskReports: self.on_TaskReports,
                SlotOffer: self.on_SlotOffer,
                SlotRequestFailed: self.on_SlotRequestFailed,
                TaskExecutionState: self.on_TaskExecutionState,
                AcknowledgeCheckpoint: self.on_AcknowledgeCheckpoint,
                DeclineCheckpoint: self.on_DeclineCheckpoint,
                TaskManagerLost: self.on_TaskManagerLost}

    def advertised_address(self) -> str:
        return self.rest.address

    def _leader_address(self) -> str | None:
        leader = self.leaders[Role.JOBMANAGER]
        return leader.address if leader else None

    def start(self) -> None:
        """Check that Redis and Kafka keep what exactly-once needs (raises StorageConfigError),
        then serve REST and join the election."""
        check_redis_settings(self.redis)
        check_kafka_settings(admin_client(self.config.get(KafkaOptions.BOOTSTRAP), self.config))
        self.rest.start()
        self.log.info("rest api listening", address=self.rest.address)
        super().start()

    def shutdown(self) -> None:
        self.rest.stop()
        super().shutdown()

    def metric_families(self) -> list[Metric]:
        """The leader adds its jobs' metrics (:func:`~strom.metrics.cluster.job_families`)."""
        families = super().metric_families()
        if self.dispatcher is not None and self.is_leader:
            families += job_families(self.dispatcher.job_masters.values(), self.clock.wall_ms())
        return families

    def confirm_leadership(self, timeout_s: float = 2.0) -> bool:
        """Ask ZooKeeper, through this process's own session, whether it still leads with its
        token. False when the session is gone (a leader frozen past it) or another leads."""
        token = self.leadership.token
        if token is None or self._zk is None:
            return False
        try:
            data, _stat = self._zk.get_async(
                leader_path(self.config.get(ClusterOptions.CLUSTER_ID), self.role)).get(timeout=timeout_s)
        except Exception:  # session expired, connection lost, no leader node, timeout
            return False
        leader = LeaderInfo.from_json(data)
        return leader.id == self.id and leader.token == token == self.leadership.token

    def _require_dispatcher(self) -> Dispatcher:
        if self.dispatcher is None:
            raise NotLeaderError(f"{self.id} is not the leader")
        return self.dispatcher

    # -- leadership -----------------------------------------------------------------------
    def on_grant_leadership(self, token: int) -> None:
        self.dispatcher = Dispatcher(self.store, self._make_job_master, self._checkpoint_store)
        try:
            recovered = self.dispatcher.recover()
        except StaleLeaderError as exc:
            self.log.warning("rejected by fencing", error=str(exc))
            return
        if recovered:
            self._reports, self._reports_request = [], uuid.uuid4().hex
            self._reconcile_at_ms = self.clock.monotonic_ms() + self.reconcile_timeout_ms
            self.log.info("asking TaskManagers for their tasks to re-attach", jobs=len(recovered))
            self.task_executors.request_task_reports(self._reports_request)
        self.post(lambda: self._clean_up(sweep_redis=True))  # after the re-attach is under way

    def _clean_up(self, sweep_redis: bool = False) -> None:
        """Leader only: expire ended jobs, delete leftover topics (and at leadership, orphaned keys)."""
        if self.dispatcher is None:
            return
        running = set(self.dispatcher.job_masters)
        try:
            self.cleanup.expire(self.clock.wall_ms(), running)
            self.cleanup.sweep_topics(running)
            if sweep_redis:
                self.cleanup.sweep_redis()
        except StaleLeaderError as exc:
            self.log.warning("rejected by fencing", error=str(exc))
        except Exception as exc:  # Redis or Kafka unavailable: cleanup is retried next interval
            self.log.warning("cleanup failed; retried at the next interval", error=repr(exc))

    def on_revoke_leadership(self) -> None:
        # Jobs keep running on the TaskManagers; re-attaching them is the new leader's part.
        self.dispatcher = None

    def _checkpoint_store(self, job_id: str, vertices: list[tuple[str, int]]) -> RedisCheckpointStore:
        return RedisCheckpointStore(self.redis, self.config.get(ClusterOptions.CLUSTER_ID), job_id, self.fence,
                                    vertices)

    def _make_job_master(self, job_graph: JobGraph) -> JobMaster:
        cluster_id = self.config.get(ClusterOptions.CLUSTER_ID)
        savepoint = None
        if job_graph.savepoint is not None:
            savepoint = self.store.savepoint(job_graph.savepoint)
            if savepoint is None:
                raise InvalidArtifactError(f"savepoint {job_graph.savepoint!r} does not exist")
        return JobMaster(job_graph, self.channel, cluster_id, self.config.get(KafkaOptions.BOOTSTRAP),
                         self.config.get(JobManagerOptions.SLOT_REQUEST_TIMEOUT), store=self.store,
                         on_terminal=self._job_ended,
                         checkpoints=self._checkpoint_store(job_graph.job_id, job_graph.parallelisms()),
                         savepoint=savepoint, register_savepoint=self.store.add_savepoint, clock=self.clock,
                         resources=JobResources(job_graph, cluster_id, self.config.get(KafkaOptions.BOOTSTRAP),
                                                self.config.get(JobManagerOptions.INTERMEDIATE_RETENTION)))

    def _job_ended(self, job_master: JobMaster) -> None:
        if self.dispatcher is not None:
            self.dispatcher.job_ended(job_master)

    def _job_master(self, job_id: str) -> JobMaster | None:
        return self.dispatcher.job_masters.get(job_id) if self.dispatcher else None

    def _tick(self) -> None:
        if not self.dispatcher:
            return
        try:
            if self._reconcile_at_ms is not None and self.clock.monotonic_ms() >= self._reconcile_at_ms:
                self._reconcile_at_ms = None
                self._reconcile(everything=True)
            for job_master in list(self.dispatcher.job_masters.values()):
                job_master.tick()
        except StaleLeaderError as exc:
            self.log.warning("rejected by fencing: this JobManager no longer leads", error=str(exc))

    def _reconcile(self, everything: bool) -> None:
        """Re-attach (or restart) RECONCILING jobs: those whose every subtask was reported, or all
        of them once ``jobmanager.reconcile-timeout`` is up."""
        if self.dispatcher is None:
            return
        for job_master in list(self.dispatcher.job_masters.values()):
            if job_master.state == JobStatus.RECONCILING and (everything or job_master.reported_all(self._reports)):
                job_master.reconcile(self._reports)

    def on_TaskReports(self, message: ControlMessage) -> None:
        if message.body["request_id"] != self._reports_request or not self.dispatcher:
            return
        self._reports += [{**task, "tm_id": message.body["tm_id"]} for task in message.body["tasks"]]
        try:
            self._reconcile(everything=False)
        except StaleLeaderError as exc:
            self.log.warning("rejected by fencing: this JobManager no longer leads", error=str(exc))

    # -- control messages -----------------------------------------------------------------
    def on_SlotOffer(self, message: ControlMessage) -> None:
        job_master = self._job_master(message.body["job_id"])
        if job_master is not None:
            job_master.on_slot_offer(message.body)
        elif self.is_leader:
            self.task_executors.free_slot(message.body["tm_id"], message.body["allocation_id"],
                                          message.body["job_id"])

    def _forward(self, message: ControlMessage, method: str) -> None:
        """Hand a job-scoped message to its JobMaster (ignored for jobs this leader does not run)."""
        job_master = self._job_master(message.body["job_id"])
        if job_master is not None:
            getattr(job_master, method)(message.body)

    def on_SlotRequestFailed(self, message: ControlMessage) -> None:
        self._forward(message, "on_slot_request_failed")

    def on_TaskExecutionState(self, message: ControlMessage) -> None:
        self._forward(message, "on_task_state")

    def on_AcknowledgeCheckpoint(self, message: ControlMessage) -> None:
        self._forward(message, "on_acknowledge")

    def on_DeclineCheckpoint(self, message: ControlMessage) -> None:
        self._forward(message, "on_decline")

    def on_TaskManagerLost(self, message: ControlMessage) -> None:
        if not self.is_leader or self.dispatcher is None:
            return
        self.log.warning("taskmanager lost", tm_id=message.body["tm_id"], reason=message.body["reason"])
        for job_master in list(self.dispatcher.job_masters.values()):
            job_master.on_task_manager_lost(message.body["tm_id"], message.body["reason"])
