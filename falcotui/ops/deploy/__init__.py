"""Deploying Falco: manifests, diff, apply, rollout and what keeps pods from starting."""
