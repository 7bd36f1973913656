"""Evidence: files caseworkers upload and automatic capture records, sealed with the case key."""
