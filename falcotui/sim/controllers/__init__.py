"""The simulated controllers: DaemonSet, ReplicaSet, scheduling, events."""
