"""JobManager logic: job store (Redis), Dispatcher, JobMaster, REST API."""
