"""Simulated platforms that run as real HTTP servers on loopback, for demos and tests."""
