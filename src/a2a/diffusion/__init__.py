"""a2a.diffusion."""
