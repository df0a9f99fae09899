"""A simulated Kubernetes cluster on loopback: API server, object store, controllers and kubelets.

`SimCluster` (in `cluster.py`) assembles everything on one asyncio loop; the real `kubectl` and the
official Python client talk to it over HTTP(S) exactly as they would to a real API server.
"""
