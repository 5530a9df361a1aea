"""Strom: Apache Flink's runtime model in Python, on Kafka, ZooKeeper and Redis."""

__version__ = "0.1.0"
