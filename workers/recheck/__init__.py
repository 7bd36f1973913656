"""Re-checks: fetch reported URLs safely and decide whether the content is still up."""
