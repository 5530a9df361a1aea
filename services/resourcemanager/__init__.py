"""``strom resourcemanager``: TaskManager registration, heartbeats and the slot table."""

from strom.services.resourcemanager.service import build

__all__ = ["build"]
