"""a2a.models."""
