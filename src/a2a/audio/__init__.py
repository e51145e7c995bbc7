"""Audio input: decoding, per-frame features (EDGE baseline, WavLM/HuBERT, a tiny WavLM for tests), caching.

Hydra configs can point at the classes directly, e.g. ``_target_: a2a.audio.BaselineFeatures``. EDGE's
Jukebox features live in :mod:`a2a.audio.jukebox` (``a2a.audio.jukebox.JukeboxFeatures``), imported only
when used, since it needs torch.
"""

from a2a.audio.cache import ExtractedFeatures, FeatureCache, audio_sha256, extract_many
from a2a.audio.decode import load_audio
from a2a.audio.features import (
    AudioFeatureExtractor,
    BaselineFeatures,
    PretrainedAudioFeatures,
    audio_slices,
    check_windowing,
    edge_window_count,
    estimate_tempo,
    extract_per_slice,
    extract_per_song,
    extract_slices,
    file_params,
    fit_length,
    frame_count,
    slice_features,
)
from a2a.audio.wavlm_tiny import TinyWavLMFeatures, tiny_wavlm_dir

__all__ = [
    "AudioFeatureExtractor",
    "BaselineFeatures",
    "ExtractedFeatures",
    "FeatureCache",
    "PretrainedAudioFeatures",
    "TinyWavLMFeatures",
    "audio_sha256",
    "audio_slices",
    "check_windowing",
    "edge_window_count",
    "estimate_tempo",
    "extract_many",
    "extract_per_slice",
    "extract_per_song",
    "extract_slices",
    "file_params",
    "fit_length",
    "frame_count",
    "load_audio",
    "slice_features",
    "tiny_wavlm_dir",
]
