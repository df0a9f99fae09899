"""Alerts once parsed: the hub, the store, queries and views, reports and responses."""
