"""falcotui: run Falco across a Kubernetes cluster from the terminal."""

__version__ = "0.1.0"
