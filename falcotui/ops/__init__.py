"""Services shared by the TUI and the CLI: manifests and deployment, fleet state, alerts, rules."""
