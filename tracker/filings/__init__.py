"""filings."""
