"""The Deploy screen: the manifests' diff, apply, and the rollout followed node by node."""
