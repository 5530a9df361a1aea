"""``strom resourcemanager``: TaskManager registration, heartbeats and the slot table."""

from strom.services.resourcemanager.service import ResourceManager

__all__ = ["ResourceManager"]
