"""Checkpoints: configuration, the coordinator's protocol, and their store in Redis."""
