"""features=wavlm_tiny: a deterministic tiny WavLM written to a cache folder, and the waveform
normalisation choice of WavLM features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from a2a.audio import PretrainedAudioFeatures, TinyWavLMFeatures, tiny_wavlm_dir
from a2a.config import instantiate
from a2a.errors import AudioError
from tests.conftest import compose_train

pytest.importorskip("transformers")


def speech_like(seconds: float, sr: int = 16000, seed: int = 0) -> np.ndarray:
    """A voiced tone with an offset and a loud level, so normalisation visibly changes it."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    return (0.2 + 0.6 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("a2a-cache")


def test_model_folder_is_written_once_and_deterministically(cache, tmp_path):
    rng_before = torch.random.get_rng_state()
    folder = tiny_wavlm_dir(cache)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the global RNG is left alone
    assert folder.parent == cache and folder.name.startswith("wavlm-tiny-seed0-")
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "preprocessor_config.json"} <= names
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    assert weights
    preprocessor = json.loads((folder / "preprocessor_config.json").read_text())
    assert preprocessor["do_normalize"] is False and preprocessor["sampling_rate"] == 16000
    config = json.loads((folder / "config.json").read_text())
    assert (config["hidden_size"], config["num_hidden_layers"], config["do_stable_layer_norm"]) == (
        16,
        2,
        True,
    )
    stamp = weights[0].stat().st_mtime_ns
    assert tiny_wavlm_dir(cache) == folder and weights[0].stat().st_mtime_ns == stamp  # reused, not rewritten
    other = tiny_wavlm_dir(tmp_path)
    assert other.name == folder.name
    assert (other / weights[0].name).read_bytes() == weights[0].read_bytes()
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    another_seed = tiny_wavlm_dir(tmp_path, seed=1)
    assert another_seed != other and (another_seed / weights[0].name).read_bytes() != weights[0].read_bytes()


def test_features_have_the_configured_rate_and_width(cache):
    features = TinyWavLMFeatures(cache_dir=cache)
    assert (features.dim, features.name, features.fps, features.hop, features.do_normalize) == (
        16,
        "wavlm",
        20,
        320,
        False,
    )
    out = features(speech_like(2.0), 16000)
    assert out.shape == (1 + 2 * 20, 16) and out.dtype == np.float32 and np.isfinite(out).all()
    assert features(speech_like(2.0, sr=22050), 22050).shape == (41, 16)  # resampled first
    assert features(speech_like(2.0), 16000, num_frames=88).shape == (88, 16)


def test_normalisation_is_a_choice(cache):
    wave = speech_like(1.5)
    raw = TinyWavLMFeatures(cache_dir=cache, layer=0)
    standardised = TinyWavLMFeatures(cache_dir=cache, layer=0, normalize=True)
    centres = (np.arange(raw._run(wave).shape[0]) * 320 + 200) / 16000
    frames = np.arange(1 + int(1.5 * 20)) / 20

    def interpolated(hidden: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(frames, centres, hidden[:, c]) for c in range(16)], axis=1)

    np.testing.assert_allclose(raw(wave, 16000), interpolated(raw._run(wave)), atol=1e-5)
    normalised = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
    np.testing.assert_allclose(standardised(wave, 16000), interpolated(raw._run(normalised)), atol=1e-5)
    assert np.abs(standardised(wave, 16000) - raw(wave, 16000)).max() > 1e-2
    assert (
        raw.config()["normalize"] is False and standardised.config()["normalize"] is True
    )  # cache keys differ
    # None follows the folder's preprocessor_config.json, which says do_normalize: false.
    assert PretrainedAudioFeatures(tiny_wavlm_dir(cache), normalize=None).do_normalize is False


def test_unusable_settings_are_named(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(
        AudioError, match=r"a-file: cannot write the tiny WavLM here .*set features.cache_dir"
    ):
        tiny_wavlm_dir(blocker)
    with pytest.raises(AudioError, match=r"features.seed must be a non-negative integer, got -1"):
        tiny_wavlm_dir(tmp_path, seed=-1)


def test_config_builds_the_tiny_extractor(tmp_path):
    cfg = compose_train(["features=wavlm_tiny", f"features.cache_dir={tmp_path}", "data.source=-"])
    extractor = instantiate(cfg.features.extractor)
    assert isinstance(extractor, TinyWavLMFeatures)
    assert (extractor.dim, extractor.fps, extractor.do_normalize) == (cfg.features.dim, 20, False)
    assert extractor.path.parent == tmp_path
    large = compose_train(["features=wavlm", "features.path=/models/wavlm-large", "data.source=-"])
    assert (large.features.dim, large.features.fps, large.features.extractor.normalize) == (1024, 20, False)
