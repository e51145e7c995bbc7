"""a2a.lightning."""
