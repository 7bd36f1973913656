"""Browser tests of the web console (real Chromium through Playwright)."""
