"""a2a: audio-to-animation diffusion models — train, evaluate, and serve on Bittensor subnet 25."""

from __future__ import annotations

from typing import TYPE_CHECKING

from a2a.version import __version__

if TYPE_CHECKING:
    from a2a.generate import Generator


def load(path, device: str = "cpu", features_path=None) -> Generator:
    """Rebuild the generator of any a2a checkpoint: ``a2a.load("best.ckpt").generate("song.wav")``.

    ``features_path``: the audio feature extractor's weights (WavLM-Large folder, Jukebox files) for
    checkpoints that name them without carrying them (converted DSG and EDGE Jukebox models).
    """
    from a2a.generate import load as _load  # lazy: importing a2a stays light

    return _load(path, device=device, features_path=features_path)


__all__ = ["__version__", "load"]
