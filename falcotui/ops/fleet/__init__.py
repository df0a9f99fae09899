"""The fleet: each node's Falco pod, its state and problems, from the cluster's objects."""
