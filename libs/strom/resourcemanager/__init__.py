"""ResourceManager logic: the ResourceManager endpoint and its slot table (Flink's SlotManager)."""
