"""A tiny randomly initialised WavLM, written to a cache folder on first use (``features=wavlm_tiny``).

It has WavLM-Large's structure (convolutional front end with layer norm, stable layer norm in the
transformer, hop 320 at 16 kHz) at toy widths, so the whole speech-to-gesture path — feature extraction,
caching, conditioning a DSG denoiser — runs in tests with no download. Its features carry no meaning.

The weights come from a fixed seed with the global torch RNG left untouched, and the folder is written
atomically (a temporary folder renamed into place), so concurrent first uses agree. The same seed and
``transformers`` version give the same model; the folder's name records the seed and the configuration.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from a2a.audio.features import PretrainedAudioFeatures, import_transformers
from a2a.errors import AudioError

# WavLM-Large's layout at toy sizes: 7 conv layers (hop 320, receptive field 400), 2 transformer layers.
TINY_WAVLM_CONFIG: dict[str, Any] = {
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "conv_dim": [8, 8, 8, 8, 8, 8, 8],
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 2,
    "feat_extract_norm": "layer",  # as WavLM-Large; "group" would normalise over time
    "do_stable_layer_norm": True,  # as WavLM-Large: final layer norm after the last transformer layer
    "num_buckets": 16,
    "max_bucket_distance": 40,
}
SAMPLE_RATE = 16000


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/a2a`` (``~/.cache/a2a`` when unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root).expanduser() / "a2a"


def tiny_wavlm_dir(cache_dir: str | os.PathLike | None = None, seed: int = 0) -> Path:
    """The folder of the tiny WavLM for ``seed`` under ``cache_dir`` (default :func:`default_cache_dir`),
    written on first use: ``config.json``, the weights, ``preprocessor_config.json`` (16 kHz, no
    normalisation)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise AudioError(f"features.seed must be a non-negative integer, got {seed!r}")
    parent = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    digest = hashlib.sha256(json.dumps(TINY_WAVLM_CONFIG, sort_keys=True).encode()).hexdigest()[:12]
    target = parent / f"wavlm-tiny-seed{seed}-{digest}"
    if (target / "config.json").is_file():
        return target
    transformers = import_transformers()
    import torch

    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=parent))
    except OSError as error:
        raise AudioError(
            f"{parent}: cannot write the tiny WavLM here ({error}); set features.cache_dir"
        ) from None
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = transformers.WavLMModel(transformers.WavLMConfig(**TINY_WAVLM_CONFIG))
        model.save_pretrained(staging)
        transformers.Wav2Vec2FeatureExtractor(sampling_rate=SAMPLE_RATE, do_normalize=False).save_pretrained(
            staging
        )
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():  # not a concurrent writer's finished folder
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class TinyWavLMFeatures(PretrainedAudioFeatures):
    """Hidden states of the tiny WavLM of :func:`tiny_wavlm_dir` → ``[T, 16]`` at ``fps``.

    Args:
        cache_dir: where the model folder is kept (None: ``$XDG_CACHE_HOME/a2a`` or ``~/.cache/a2a``).
        seed: the weights' seed.
        layer, fps, normalize, device, chunk_seconds, context_seconds: as :class:`PretrainedAudioFeatures`.
    """

    local_paths: ClassVar[tuple[str, ...]] = ("cache_dir",)

    def __init__(
        self,
        cache_dir: str | os.PathLike | None = None,
        seed: int = 0,
        layer: int | None = None,
        fps: int = 20,
        normalize: bool | None = False,
        device: str = "cpu",
        chunk_seconds: float = 30.0,
        context_seconds: float = 1.0,
    ) -> None:
        super().__init__(
            tiny_wavlm_dir(cache_dir, seed),
            kind="wavlm",
            layer=layer,
            sr=SAMPLE_RATE,
            fps=fps,
            normalize=normalize,
            device=device,
            chunk_seconds=chunk_seconds,
            context_seconds=context_seconds,
        )
