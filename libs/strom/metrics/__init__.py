"""Prometheus metrics of every Strom service (Flink's metric names under ``strom_``).

Each process serves ``/metrics`` (``prometheus_client``'s server) on the first
free port of ``metrics.reporter.prom.port`` (Flink's 9249-9259) and publishes
it in Redis (:class:`~strom.metrics.reporter.MetricEndpoints`), where the
JobManager's ``GET /metrics/targets`` (Prometheus HTTP service discovery), its
REST API and ``strom status`` find it.

Values are read when scraped (custom collectors over the live objects): the
record path only adds to plain ints and floats, per batch where it can.

Per subtask, labels ``job_id, job_name, task_id`` (vertex id), ``task_name, subtask_index, tm_id``
(TaskManagers, :mod:`strom.metrics.task`):

=================================================  ==========================================
``strom_task_numRecordsIn_total``                  Kafka records read (counter)
``strom_task_numRecordsOut_total``                 elements written to edges and sinks
``strom_task_numRecordsIn/OutPerSecond``           over the last ~5 s
``strom_task_numBytesIn/Out_total``                librdkafka's statistics (rxbytes, txbytes)
``strom_task_currentInput/OutputWatermark_seconds`` event time; NaN before the first watermark
``strom_task_busy/idle/backPressuredTimeMsPerSecond`` idle: waiting in consume; back-pressured:
                                                   blocked on a full producer queue
``strom_task_numLateRecordsDropped_total``         window operators' late elements
``strom_task_checkpointAlignmentTime_seconds``     the last alignment
``strom_source_pendingRecords``                    + ``topic, partition``: records behind the
                                                   source partition's end (Flink's FLIP-33 name)
=================================================  ==========================================

Per job (JobManager leader, ``job_id, job_name``): ``strom_job_numRestarts_total``,
``strom_job_uptime_seconds``, ``strom_job_lastCheckpointDuration_seconds``,
``strom_job_lastCheckpointSize_bytes``, ``strom_job_numberOfCompletedCheckpoints_total``,
``strom_job_numberOfFailedCheckpoints_total``. Per cluster: ``strom_cluster_numRunningJobs``
(JobManager leader), ``strom_cluster_numRegisteredTaskManagers``,
``strom_cluster_taskSlotsTotal``, ``strom_cluster_taskSlotsAvailable`` (ResourceManager leader).
Per process (``service``): ``strom_control_lag_records``, control messages not yet read.
"""
