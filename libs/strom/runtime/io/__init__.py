"""Network stack of a task over Kafka edges: element codec, record writer, input gate, source reader."""
