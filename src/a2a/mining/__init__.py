"""a2a.mining."""
