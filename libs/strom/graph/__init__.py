"""StreamGraph -> JobGraph (operator chaining) -> ExecutionGraph (subtasks, attempts)."""
