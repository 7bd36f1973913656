"""Scorecards: how platforms answer takedown requests, from rollups kept as reports move."""
