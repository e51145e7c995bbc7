"""EDGE with a genre condition: the music decoder of :mod:`a2a.models.edge`, plus a genre embedding added to
the FiLM vector that modulates every decoder layer.

The genre arrives as a one-hot ``[B, G]`` (``cond["genre"]``); dropped rows (classifier-free guidance) use a
learned null genre. Every EDGE weight keeps its name, so an EDGE checkpoint can initialise the music part
of this model.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from a2a.diffusion.conditions import KeepMask, keep_mask
from a2a.errors import A2AError
from a2a.models.edge import AUDIO, EdgeDenoiser

GENRE = "genre"


class EdgeGenreDenoiser(EdgeDenoiser):
    """:class:`EdgeDenoiser` conditioned on music and genre; both droppable.

    Args:
        genre_dim: genres in the one-hot (AIST++: 10).
        genre_key: the categorical condition it reads (``genre``).
        **edge: :class:`EdgeDenoiser`'s arguments.
    """

    def __init__(self, genre_dim: int = 10, genre_key: str = GENRE, **edge) -> None:
        super().__init__(**edge)
        if genre_dim < 1:
            raise A2AError(f"model.denoiser.genre_dim must be positive, got {genre_dim}")
        self.genre_dim = int(genre_dim)
        self.genre_key = str(genre_key)
        self.conditions = (AUDIO, self.genre_key)
        self.droppable = (AUDIO, self.genre_key)
        self.genre_embedding = nn.Linear(self.genre_dim, self.latent_dim)
        self.null_genre = nn.Parameter(torch.zeros(self.latent_dim))

    def global_condition(
        self, cond: Mapping[str, Tensor], keep_cond: KeepMask, batch: int, like: Tensor
    ) -> Tensor:
        """``[B, latent_dim]``: the embedded genre, or the null genre where it is dropped."""
        genre = cond.get(self.genre_key)
        if genre is None:
            raise A2AError(f"the genre model needs the {self.genre_key!r} condition; got {', '.join(cond)}")
        if tuple(genre.shape) != (batch, self.genre_dim):
            raise A2AError(
                f"condition {self.genre_key!r} must be a one-hot [B, genre_dim] = "
                f"[{batch}, {self.genre_dim}], got {list(genre.shape)}"
            )
        keep = keep_mask(keep_cond, self.genre_key, batch, like.device)
        embedded = self.genre_embedding(genre.to(like.dtype))
        return torch.where(keep[:, None], embedded, self.null_genre.to(like.dtype))
