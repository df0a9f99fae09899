"""The Rules screen: edit, lint, push and roll back the rules, each node's reload."""
