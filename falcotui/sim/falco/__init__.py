"""The simulated Falco: its process, config, rules, alerts, gRPC output."""
