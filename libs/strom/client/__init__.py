"""Client side: submitting jobs over the JobManager's REST API."""
