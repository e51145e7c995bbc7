"""Lightning glue: the diffusion training module."""

from a2a.lightning.module import DiffusionModule

__all__ = ["DiffusionModule"]
