"""a2a: audio-to-animation diffusion models — train, evaluate, and serve on Bittensor subnet 25."""

from __future__ import annotations

from typing import TYPE_CHECKING

from a2a.version import __version__

if TYPE_CHECKING:
    from a2a.generate import Generator


def load(
    path, device: str = "cpu", precision: str = "fp32", compile: bool = False, features_path=None
) -> Generator:
    """Rebuild the generator of any a2a checkpoint: ``a2a.load("best.ckpt").generate("song.wav")``.

    ``precision`` (fp32, bf16, fp16) and ``compile`` choose how the denoiser runs (see :mod:`a2a.runtime`).
    ``features_path``: the audio feature extractor's weights (WavLM-Large folder, Jukebox files) for
    checkpoints that name them without carrying them (converted DSG and EDGE Jukebox models).
    """
    from a2a.generate import load as _load  # lazy: importing a2a stays light

    return _load(path, device=device, precision=precision, compile=compile, features_path=features_path)


__all__ = ["__version__", "load"]
