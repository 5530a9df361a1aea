"""Clients of the external systems: Kafka and Redis."""
