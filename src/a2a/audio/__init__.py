"""a2a.audio."""
