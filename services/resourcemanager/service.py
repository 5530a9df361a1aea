"""Entry point of ``strom resourcemanager``: builds the ResourceManager of one process."""

from __future__ import annotations

from strom.config import Configuration
from strom.resourcemanager.resource_manager import ResourceManager


def build(config: Configuration, instance_id: str | None = None) -> ResourceManager:
    """The ResourceManager (leader or standby once it runs); ``run()`` it."""
    return ResourceManager(config, instance_id)
