"""Reports: one URL of a case, from intake to confirmed removal."""
