"""``strom taskmanager``: offers task slots, registers and heartbeats with the ResourceManager."""

from strom.services.taskmanager.service import build

__all__ = ["build"]
