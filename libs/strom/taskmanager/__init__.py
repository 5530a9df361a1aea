"""TaskManager logic: the TaskExecutor, its slot table and the job artifacts it runs."""
