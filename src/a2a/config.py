"""OmegaConf resolvers used by a2a's configs (registered on import, idempotently)."""

from __future__ import annotations

from omegaconf import OmegaConf


def _frames(seconds: float, fps: float) -> int:
    """Whole frames in ``seconds`` at ``fps`` (``${a2a.frames:5.0,30}`` → 150)."""
    return round(float(seconds) * float(fps))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("a2a.frames"):
        OmegaConf.register_new_resolver("a2a.frames", _frames)


register_resolvers()
