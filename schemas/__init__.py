"""Avro schemas (*.avsc), shipped inside the package as ``strom.schemas``."""
