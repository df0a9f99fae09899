"""The simulated API server: store, verbs, watch, auth/RBAC, admission, discovery."""
