"""A package of the job's own."""
