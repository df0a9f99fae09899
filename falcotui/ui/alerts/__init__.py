"""The Alerts screen: the live list, its filters and counts, an alert's detail, exports."""
