"""The control plane: Avro control messages on Kafka control topics."""
