"""a2a.data."""
