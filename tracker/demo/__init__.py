"""The demo (``tracker serve --demo``): sandbox platform, mail sink and a short-rung policy."""
