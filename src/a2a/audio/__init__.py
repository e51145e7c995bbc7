"""Audio input for the dance model: decoding, per-frame features (EDGE baseline, WavLM/HuBERT), caching.

Hydra configs can point at the classes directly, e.g. ``_target_: a2a.audio.BaselineFeatures``.
"""

from a2a.audio.cache import ExtractedFeatures, FeatureCache, audio_sha256, extract_many
from a2a.audio.decode import load_audio
from a2a.audio.features import (
    AudioFeatureExtractor,
    BaselineFeatures,
    PretrainedAudioFeatures,
    edge_window_count,
    estimate_tempo,
    extract_per_slice,
    extract_per_song,
    file_params,
    fit_length,
    frame_count,
    slice_features,
)

__all__ = [
    "AudioFeatureExtractor",
    "BaselineFeatures",
    "ExtractedFeatures",
    "FeatureCache",
    "PretrainedAudioFeatures",
    "audio_sha256",
    "edge_window_count",
    "estimate_tempo",
    "extract_many",
    "extract_per_slice",
    "extract_per_song",
    "file_params",
    "fit_length",
    "frame_count",
    "load_audio",
    "slice_features",
]
