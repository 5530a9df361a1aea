"""ResourceManager logic: the slot table (Flink's SlotManager)."""
