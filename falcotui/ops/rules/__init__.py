"""The rules ConfigMap: validate, push, history, and each node's reload tracked."""
