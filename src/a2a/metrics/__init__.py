"""a2a.metrics."""
