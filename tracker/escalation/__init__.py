"""Escalation to the next rung of the ladder."""
