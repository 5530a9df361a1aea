"""``strom jobmanager``: leader-elected JobManager."""

from strom.services.jobmanager.service import JobManager

__all__ = ["JobManager"]
