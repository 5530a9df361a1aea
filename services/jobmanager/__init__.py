"""``strom jobmanager``: leader-elected JobManager (its logic: :mod:`strom.jobmanager.endpoint`)."""

from strom.jobmanager.endpoint import JobManager

__all__ = ["JobManager"]
