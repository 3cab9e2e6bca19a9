"""The connector service: dashboard, JSON API, run queue and auto-sync scheduler."""
