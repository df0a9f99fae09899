"""Falco's domain, with no network and no UI: alerts, log lines, display sanitizing, rules, gRPC protocol."""
