"""Denoisers and their shared layers (pure ``nn.Module``s, below the training loop in the import graph)."""

from a2a.models.dsg import DSGDenoiser
from a2a.models.edge import EdgeDenoiser
from a2a.models.edge_genre import EdgeGenreDenoiser

__all__ = ["DSGDenoiser", "EdgeDenoiser", "EdgeGenreDenoiser"]
