"""Takedown-request tracker: domain model and HTTP API."""
