"""Lightning glue: the diffusion training module, the condition classifier, callbacks."""

from a2a.lightning.classifier import ClassifierModule
from a2a.lightning.module import DiffusionModule

__all__ = ["ClassifierModule", "DiffusionModule"]
