"""The simulated nodes: kubelets, pod workers, container runtimes, logs, exec, port-forward."""
