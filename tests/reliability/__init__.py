"""Reliability scenarios: real processes, real Redis and PostgreSQL, things breaking."""
