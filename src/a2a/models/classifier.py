"""A small classifier of audio-feature windows (e.g. the dance genre a piece of music implies).

``[B, T, F]`` features → per-frame layer norm → a stack of 1-D convolutions over time (GELU) → mean over
time → ``[B, classes]`` logits. Small on purpose: it runs once per request, on the features the dance model
already computed.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from a2a.errors import A2AError


class AudioClassifier(nn.Module):
    """Logits over ``classes`` for windows of audio features.

    Args:
        feature_dim: channels of the features (``features.dim``).
        classes: number of labels.
        channels: width of the convolutions.
        layers: convolution layers (kernel 5, stride 2 after the first).
        dropout: before the output layer.
    """

    def __init__(
        self, feature_dim: int, classes: int, channels: int = 64, layers: int = 3, dropout: float = 0.1
    ) -> None:
        super().__init__()
        for name, value in (("feature_dim", feature_dim), ("classes", classes), ("channels", channels)):
            if value < 1:
                raise A2AError(f"model.network.{name} must be positive, got {value}")
        if layers < 1:
            raise A2AError(f"model.network.layers must be at least 1, got {layers}")
        self.feature_dim = int(feature_dim)
        self.classes = int(classes)
        self.norm = nn.LayerNorm(feature_dim)
        convs: list[nn.Module] = []
        width = feature_dim
        for i in range(layers):
            convs += [
                nn.Conv1d(width, channels, kernel_size=5, stride=1 if i == 0 else 2, padding=2),
                nn.GELU(),
            ]
            width = channels
        self.convs = nn.Sequential(*convs)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(channels, classes)

    def forward(self, features: Tensor) -> Tensor:
        """``features [B, T, feature_dim]`` → logits ``[B, classes]``."""
        if features.ndim != 3 or features.shape[-1] != self.feature_dim:
            raise A2AError(
                f"classifier input must be [B, T, {self.feature_dim}] features, got {list(features.shape)}"
            )
        h = self.convs(self.norm(features).transpose(1, 2))  # [B, C, T']
        return self.output(self.dropout(h.mean(dim=-1)))

    @torch.no_grad()
    def predict_song(self, windows: Tensor) -> Tensor:
        """Class probabilities ``[classes]`` of a song from its feature windows ``[n, T, F]`` (the mean of
        the windows' logits)."""
        return torch.softmax(self(windows).mean(dim=0), dim=-1)
