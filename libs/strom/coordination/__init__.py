"""ZooKeeper coordination: leader election and leader retrieval (kazoo)."""
