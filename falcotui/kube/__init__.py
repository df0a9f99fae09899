"""Cluster I/O over the official `kubernetes` client: connecting, applying, watching, following, exec.

`config` loads kubeconfig/context/in-cluster credentials into `KubeClients` (timeouts on every call);
`informer` keeps list+watch caches; `logs` follows Falco pods' logs; `apply` does server-side apply with
diffs and conflict reports; `rollout` explains DaemonSet rollouts per node; `exec` and `portforward` use
the websocket channel protocol. Errors surface as `KubeError` subclasses (see `config`).
"""
