"""Tests for a2a.audio: decoding, EDGE baseline features, WavLM features, feature cache, batch extraction."""

from __future__ import annotations

import io
import json
import logging
import math
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

import a2a
from a2a.audio import (
    AudioFeatureExtractor,
    BaselineFeatures,
    FeatureCache,
    PretrainedAudioFeatures,
    audio_sha256,
    edge_window_count,
    estimate_tempo,
    extract_many,
    extract_per_slice,
    extract_per_song,
    file_params,
    fit_length,
    load_audio,
    slice_features,
)
from a2a.data.naming import tempo_from_name
from a2a.errors import A2AError, AudioError

SR = 22050
BPM = 120.0
FIRST_CLICK_FRAME = 8  # clicks sit exactly on 30 fps frames: 8, 23, 38, ... at 120 BPM


def click_song(seconds: float, bpm: float = BPM, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Drum-like noise bursts on every beat (accented downbeats) over a chord progression, [n] float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = 0.003 * rng.standard_normal(n)
    period = 60.0 / bpm
    starts = np.arange(FIRST_CLICK_FRAME / 30.0, seconds, period)
    burst = int(0.05 * sr)
    for k, start in enumerate(starts):
        i = round(start * sr)
        m = min(burst, n - i)
        y[i : i + m] += (
            rng.standard_normal(m) * np.exp(-np.arange(m) / (0.01 * sr)) * (1.0 if k % 4 == 0 else 0.6)
        )
    chords = [(220.0, 277.18, 329.63), (293.66, 369.99, 440.0), (246.94, 311.13, 369.99)]
    bar = 4 * period
    for c in range(int(seconds / bar) + 1):
        a, b = int(c * bar * sr), min(n, int((c + 1) * bar * sr))
        for f in chords[c % len(chords)]:
            y[a:b] += 0.1 * np.sin(2 * np.pi * f * t[a:b])
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def click_frames(seconds: float, bpm: float = BPM) -> np.ndarray:
    return np.round(np.arange(FIRST_CLICK_FRAME / 30.0, seconds, 60.0 / bpm) * 30).astype(int)


@pytest.fixture(scope="module")
def song10() -> np.ndarray:
    return click_song(10.0)


@pytest.fixture(scope="module")
def song10_features(song10: np.ndarray) -> np.ndarray:
    return BaselineFeatures()(song10, SR, start_bpm=BPM)


def write_wav(path: Path, wave: np.ndarray, sr: int = SR, **kwargs: object) -> Path:
    sf.write(path, wave, sr, **kwargs)
    return path


# ----------------------------------------------------------------------------------------------- decoding


def test_load_wav_stereo_int16_and_resample(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    left = 0.5 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    right = 0.1 * rng.standard_normal(SR)
    path = write_wav(tmp_path / "a.wav", np.stack([left, right], axis=1), subtype="PCM_16")

    wave, sr = load_audio(path)
    assert sr == SR and wave.dtype == np.float32 and wave.shape == (SR,)
    np.testing.assert_allclose(wave, (left + right) / 2, atol=2 / 32768)

    resampled, sr16 = load_audio(str(path), sr=16000)
    assert sr16 == 16000 and resampled.shape == (math.ceil(SR * 16000 / SR),)


def test_load_flac_resamples_keeping_pitch(tmp_path: Path) -> None:
    tone = (0.3 * np.sin(2 * np.pi * 1000 * np.arange(44100) / 44100)).astype(np.float32)
    path = write_wav(tmp_path / "tone.flac", tone, 44100)
    wave, sr = load_audio(path, sr=16000)
    assert sr == 16000 and wave.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(wave))
    assert np.argmax(spectrum) * sr / wave.size == pytest.approx(1000, abs=1)


def test_load_bytes_ogg_and_array_sources(tmp_path: Path) -> None:
    wave = click_song(1.0)
    flac = io.BytesIO()
    sf.write(flac, wave, SR, format="FLAC")
    decoded, sr = load_audio(flac.getvalue())
    assert sr == SR
    np.testing.assert_allclose(decoded, wave, atol=1 / 32768)

    ogg = io.BytesIO()
    sf.write(ogg, wave, SR, format="OGG")
    decoded_ogg, _ = load_audio(ogg.getvalue())
    assert abs(decoded_ogg.size - wave.size) < 1024
    m = min(decoded_ogg.size, wave.size)
    assert np.corrcoef(decoded_ogg[:m], wave[:m])[0, 1] > 0.9

    pcm = (wave * 32767).astype(np.int16)
    from_int, _ = load_audio(pcm, source_sr=SR)
    np.testing.assert_allclose(from_int, pcm / 32768, atol=1e-7)
    stereo = np.stack([wave, np.zeros_like(wave)])  # [C, n]
    mono_cf, _ = load_audio(stereo, source_sr=SR)
    mono_cl, _ = load_audio(stereo.T, source_sr=SR)  # [n, C]
    np.testing.assert_allclose(mono_cf, wave / 2, atol=1e-7)
    np.testing.assert_array_equal(mono_cf, mono_cl)
    up, sr2 = load_audio(wave, sr=2 * SR, source_sr=SR)
    assert sr2 == 2 * SR and up.size == 2 * wave.size


def test_load_mp3_through_libsndfile(tmp_path: Path) -> None:
    wave = click_song(1.0)
    try:
        sf.write(tmp_path / "a.mp3", wave, SR, format="MP3")
    except (sf.LibsndfileError, TypeError, ValueError):
        pytest.skip("this libsndfile cannot write MP3")
    decoded, sr = load_audio(tmp_path / "a.mp3")
    assert sr == SR and abs(decoded.size - wave.size) < 3000


def test_ffmpeg_fallback_when_soundfile_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wave = click_song(0.5)
    stereo = np.stack([wave, np.zeros_like(wave)], axis=1)
    path = write_wav(tmp_path / "fallback.wav", stereo, subtype="PCM_16")
    expected, _ = load_audio(path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise sf.LibsndfileError(0, "refused for the test")

    monkeypatch.setattr("a2a.audio.decode.sf.SoundFile", refuse)
    decoded, sr = load_audio(path)  # ffmpeg decodes it, averaging the channels the same way
    assert sr == SR
    np.testing.assert_allclose(decoded, expected, atol=1e-6)
    decoded_bytes, _ = load_audio(path.read_bytes())
    np.testing.assert_allclose(decoded_bytes, expected, atol=1e-6)
    resampled, sr16 = load_audio(path, sr=16000)  # resampled by ffmpeg
    assert sr16 == 16000 and abs(resampled.size - 8000) <= 2

    monkeypatch.setattr("a2a.audio.ffmpeg.find_ffmpeg", lambda: None)
    with pytest.raises(
        AudioError,
        match=r"fallback\.wav: cannot decode audio \(soundfile: .*refused for the test"
        r".*; ffmpeg: not found, neither on PATH nor from the imageio-ffmpeg package",
    ):
        load_audio(path)


def test_load_audio_bad_inputs(tmp_path: Path) -> None:
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioError, match=r"missing\.wav: no such audio file"):
        load_audio(missing)
    with pytest.raises(AudioError, match="is a directory"):
        load_audio(tmp_path)

    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(AudioError, match=r"garbage\.wav: cannot decode audio"):
        load_audio(garbage)
    with pytest.raises(AudioError, match=r"<bytes>: cannot decode audio"):
        load_audio(garbage.read_bytes())
    with pytest.raises(AudioError, match=r"<bytes>: audio is empty \(0 bytes\)"):
        load_audio(b"")

    empty = write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(AudioError, match=r"empty\.wav: audio is empty \(0 samples\)"):
        load_audio(empty)

    silent = write_wav(tmp_path / "silent.wav", np.zeros(SR, dtype=np.float32))
    with pytest.raises(AudioError, match=r"silent\.wav: audio is silent.*allow_silent=True"):
        load_audio(silent)
    wave, _ = load_audio(silent, allow_silent=True)
    assert wave.shape == (SR,) and not wave.any()

    nan_wave = click_song(1.0)
    nan_wave[100] = np.nan
    nan_file = write_wav(tmp_path / "nan.wav", nan_wave, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"nan\.wav: audio contains NaN or infinite samples \(1 of 22050"):
        load_audio(nan_file)
    with pytest.raises(AudioError, match=r"<array>: audio contains NaN"):
        load_audio(nan_wave, source_sr=SR)

    long_file = write_wav(tmp_path / "long.wav", click_song(3.0))
    with pytest.raises(AudioError, match=r"long\.wav: audio is 3\.00 s long, longer than max_seconds=2"):
        load_audio(long_file, max_seconds=2)
    with pytest.raises(AudioError, match=r"<bytes>: audio is 3\.00 s long"):
        load_audio(long_file.read_bytes(), max_seconds=2.5)
    with pytest.raises(AudioError, match=r"<array>: audio is 3\.00 s long"):
        load_audio(click_song(3.0), source_sr=SR, max_seconds=2)
    assert load_audio(long_file, max_seconds=3.0)[0].size == 3 * SR

    with pytest.raises(AudioError, match="pass source_sr"):
        load_audio(np.ones(10, dtype=np.float32))
    with pytest.raises(AudioError, match=r"shape \[n\], \[n, C\] or \[C, n\]"):
        load_audio(np.ones((2, 2, 2), dtype=np.float32), source_sr=SR)
    with pytest.raises(AudioError, match="cannot read audio from a int"):
        load_audio(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- baseline features


def test_baseline_columns_match_direct_librosa_calls(song10: np.ndarray, song10_features: np.ndarray) -> None:
    feats = song10_features
    y = librosa.resample(song10, orig_sr=SR, target_sr=15360)
    assert feats.dtype == np.float32 and feats.shape == (1 + y.size // 512, 35) == (301, 35)
    envelope = librosa.onset.onset_strength(y=y, sr=15360)
    np.testing.assert_array_equal(feats[:, 0], envelope)
    np.testing.assert_array_equal(feats[:, 1:21], librosa.feature.mfcc(y=y, sr=15360, n_mfcc=20).T)
    chroma = librosa.feature.chroma_cens(y=y, sr=15360, hop_length=512, n_chroma=12).T
    np.testing.assert_array_equal(feats[:, 21:33], chroma)
    peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=15360, hop_length=512)
    np.testing.assert_array_equal(np.flatnonzero(feats[:, 33]), peaks)
    assert set(np.unique(feats[:, 33:35])) <= {0.0, 1.0}
    for name, columns in BaselineFeatures.COLUMNS.items():
        assert (
            feats[:, columns].shape[1]
            == {"envelope": 1, "mfcc": 20, "chroma": 12, "onset": 1, "beat": 1}[name]
        )


def test_baseline_beats_and_onsets_follow_the_click_track(song10_features: np.ndarray) -> None:
    clicks = click_frames(10.0)
    beats = np.flatnonzero(song10_features[:, 34])
    onsets = np.flatnonzero(song10_features[:, 33])
    # Every detected beat lies within 2 frames (67 ms) of a click, and nearly every click gets a beat.
    beat_error = np.abs(beats[:, None] - clicks[None, :]).min(axis=1)
    assert beat_error.max() <= 2, beats
    found = np.abs(clicks[:, None] - beats[None, :]).min(axis=1) <= 2
    assert found.mean() >= 0.85, (clicks, beats)
    assert np.median(np.diff(beats)) == 15  # 120 BPM at 30 fps
    assert (np.abs(clicks[:, None] - onsets[None, :]).min(axis=1) <= 2).all()
    # Onset strength peaks on the clicks: the envelope at click frames is far above its median.
    envelope = song10_features[:, 0]
    assert np.median(np.maximum(envelope[clicks], envelope[clicks + 1])) > 5 * np.median(envelope)


def test_baseline_frame_count_and_sample_rates(song10: np.ndarray) -> None:
    extractor = BaselineFeatures()
    for n in (76800, 76800 + 511, 76800 + 512):
        assert (
            extractor(song10[:n] if n <= song10.size else song10, 15360, start_bpm=BPM).shape[0]
            == 1 + n // 512
        )
    with pytest.raises(A2AError, match=r"sr \(16000\) must equal hop_length·fps \(512·30\)"):
        BaselineFeatures(sr=16000)
    sixty_fps = BaselineFeatures(sr=30720, hop_length=512, fps=60)  # the FACT/Bailando 60 fps variant
    assert sixty_fps(song10[: 5 * SR], SR, start_bpm=BPM).shape == (301, 35)
    with pytest.raises(AudioError, match="mono waveform"):
        extractor(np.stack([song10, song10]), SR)
    with pytest.raises(AudioError, match="NaN"):
        extractor(np.full(1000, np.nan, dtype=np.float32), SR)


def test_short_audio_features_do_not_warn(song10: np.ndarray) -> None:
    """Two seconds (the generator's warm-up tone) used to print librosa's n_fft warning each start."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        features = BaselineFeatures()(song10[: 2 * 15360], 15360, start_bpm=BPM)  # 30720 samples
    assert features.shape == (61, 35) and np.isfinite(features).all()
    # Only that one message is silenced, and only inside the chroma call.
    with pytest.warns(UserWarning, match="n_fft=512 is too large"):
        librosa.stft(np.zeros(480, dtype=np.float32), n_fft=512)


def test_num_frames_pads_continuous_columns_and_zeroes_events(song10_features: np.ndarray) -> None:
    feats = song10_features.copy()
    feats[-1, 33:35] = 1.0
    padded = fit_length(feats, 310, zero_pad_columns=slice(33, 35))
    assert padded.shape == (310, 35)
    np.testing.assert_array_equal(padded[:301], feats)
    np.testing.assert_array_equal(padded[301:, :33], np.repeat(feats[-1:, :33], 9, axis=0))
    assert not padded[301:, 33:].any()
    np.testing.assert_array_equal(fit_length(feats, 150), feats[:150])
    with pytest.raises(A2AError, match="num_frames must be at least 1"):
        fit_length(feats, 0)


def test_tempo_from_name_and_estimate() -> None:
    assert tempo_from_name("gBR_sBM_cAll_d04_mBR0_ch01") == 80
    assert tempo_from_name("/data/wavs/gHO_sFM_cAll_d20_mHO5_ch13.wav") == 135
    assert tempo_from_name("gJB_sBM_cAll_d07_mJB3_ch02_slice17.wav") == 110
    assert tempo_from_name("mKR2.wav") == 100
    assert tempo_from_name("x_y_z_w_mLO4_extra") == 120  # EDGE's 5th-field rule
    assert tempo_from_name("my_song.mp3") is None
    assert tempo_from_name("gBR_sBM_cAll_d04_mBR9_ch01") is None  # tempo digit out of range
    assert estimate_tempo(click_song(8.0), SR) == pytest.approx(BPM, rel=0.03)


def test_for_file_takes_start_bpm_as_a_file_param(tmp_path: Path, song10: np.ndarray) -> None:
    wave = song10[: 6 * SR]
    named = write_wav(tmp_path / "gJS_sBM_cAll_d01_mJS4_ch01.wav", wave, subtype="FLOAT")  # mJS4 → 120 BPM
    extractor = BaselineFeatures()
    params = file_params(extractor, start_bpm=tempo_from_name(named.name), unused_hint=3)
    assert params == {"start_bpm": 120.0}
    np.testing.assert_array_equal(extractor.for_file(named, **params), extractor(wave, SR, start_bpm=120.0))
    plain = write_wav(tmp_path / "song.wav", wave, subtype="FLOAT")
    assert file_params(extractor, start_bpm=tempo_from_name(plain.name)) == {"start_bpm": None}
    estimated = extractor(wave, SR, start_bpm=estimate_tempo(wave, SR))
    np.testing.assert_array_equal(extractor.for_file(plain, num_frames=150), estimated[:150])


# ------------------------------------------------------------------------------- slicing, per-song vs EDGE


def test_edge_window_count_matches_slice_audio_loop() -> None:
    def edge_loop(n: int, sr: int, length: float, stride: float) -> int:
        start, idx, window, step = 0, 0, int(length * sr), int(stride * sr)
        while start <= n - window:
            start, idx = start + step, idx + 1
        return idx

    for n in (0, 110249, 110250, 110251, 441000, 1323001):
        for stride in (0.5, 2.5):
            assert edge_window_count(n, 22050, 5.0, stride) == edge_loop(n, 22050, 5.0, stride)


def test_slice_features_windows() -> None:
    feats = np.arange(200 * 2, dtype=np.float32).reshape(200, 2)
    windows = slice_features(feats, window=150, stride=15)
    assert windows.shape == (4, 150, 2)
    for k in range(4):
        np.testing.assert_array_equal(windows[k], feats[15 * k : 15 * k + 150])
    assert slice_features(feats, window=150, stride=15, num_windows=2).shape == (2, 150, 2)
    assert slice_features(feats[:100], window=150).shape == (0, 150, 2)
    with pytest.raises(
        A2AError, match="asked for 5 windows of 150 frames with stride 15, but 200 frames hold only 4"
    ):
        slice_features(feats, num_windows=5)


def test_per_song_agrees_with_edge_per_slice(song10: np.ndarray) -> None:
    extractor = BaselineFeatures()
    per_slice = extract_per_slice(song10, SR, extractor, stride_s=2.5, start_bpm=BPM)
    per_song = extract_per_song(song10, SR, extractor, stride_s=2.5, start_bpm=BPM)
    assert per_slice.shape == per_song.shape == (3, 150, 35)
    diff = np.abs(per_slice - per_song)
    cols = BaselineFeatures.COLUMNS
    # The click track's noise floor keeps every mel bin within 80 dB of the maximum, so power_to_db's
    # top_db clamp (relative to the analysed signal's maximum) plays no part here; see the benchmark for
    # music where it does. Onset envelope: identical once the STFT padding and flux lag are behind.
    assert diff[:, 6:, cols["envelope"]].max() < 1e-3 * per_song[:, :, 0].max()
    assert diff[:, :6, cols["envelope"]].max() > 1e-2  # and it really differs at the slice start
    # MFCC: only the first 2 and last frame see the slice edge (n_fft/2 = 2 hops).
    assert diff[:, 2:149, cols["mfcc"]].max() < 1e-3
    assert diff[:, :2, cols["mfcc"]].max() > 1.0
    # Chroma CENS is smoothed over 41 frames and uses long CQT filters: agreement only in the interior.
    assert diff[:, 30:120, cols["chroma"]].max() < 0.03
    assert diff[:, :10, cols["chroma"]].max() > 0.03
    # Onset peaks: onset_detect normalises the envelope by its maximum (per slice vs per song), so a few
    # borderline peaks flip; the interior peaks mostly coincide.
    slice_peaks, song_peaks = per_slice[:, 6:145, 33] > 0, per_song[:, 6:145, 33] > 0
    assert (slice_peaks & song_peaks).sum() / (slice_peaks | song_peaks).sum() >= 0.9
    # Beats: tracked per slice vs over the song; most beats agree within one frame.
    a, b = per_slice[:, :, 34] > 0, per_song[:, :, 34] > 0
    near = [
        np.abs(np.flatnonzero(a[k])[:, None] - np.flatnonzero(b[k])[None, :]).min(axis=1) <= 1
        for k in range(3)
    ]
    assert np.concatenate(near).mean() >= 0.8
    # pcm16=True reproduces EDGE's 16-bit slice files: close to, but not identical with, the float slices.
    quantised = extract_per_slice(song10[: 5 * SR], SR, extractor, start_bpm=BPM, pcm16=True)
    mfcc_change = np.abs(quantised[0, :, 1:21] - per_slice[0, :, 1:21]).max()
    assert 0 < mfcc_change < 1.0


# ------------------------------------------------------------------------------------ pretrained (WavLM)


@pytest.fixture(scope="module")
def tiny_wavlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    transformers = pytest.importorskip("transformers")
    import torch

    torch.manual_seed(0)
    config = transformers.WavLMConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8, 8, 8, 8, 8, 8, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",  # "group" normalises over time, which would make chunking non-local
        num_buckets=16,
        max_bucket_distance=40,
    )
    directory = tmp_path_factory.mktemp("tiny-wavlm")
    transformers.WavLMModel(config).save_pretrained(directory)
    transformers.Wav2Vec2FeatureExtractor(sampling_rate=16000, do_normalize=True).save_pretrained(directory)
    return directory


def test_pretrained_features_shape_interpolation_and_chunking(tiny_wavlm_dir: Path) -> None:
    wave = click_song(3.0, sr=16000)
    last = PretrainedAudioFeatures(tiny_wavlm_dir)
    assert last.dim == 16 and last.name == "wavlm" and last.hop == 320 and last.receptive_field == 400
    feats = last(wave, 16000)
    assert feats.shape == (1 + 3 * 30, 16) and feats.dtype == np.float32
    assert last(click_song(3.0), SR).shape == (91, 16)  # resampled from 22.05 kHz
    assert last(wave, 16000, num_frames=150).shape == (150, 16)

    layer0 = PretrainedAudioFeatures(tiny_wavlm_dir, layer=0)
    normalised = (wave - wave.mean()) / np.sqrt(wave.var() + 1e-7)
    hidden = layer0._run(normalised)  # [T_model, 16]
    assert hidden.shape[0] == (wave.size - 400) // 320 + 1
    centres = (np.arange(hidden.shape[0]) * 320 + 200) / 16000
    expected = np.stack([np.interp(np.arange(91) / 30, centres, hidden[:, c]) for c in range(16)], axis=1)
    got = layer0(wave, 16000)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(got - feats).max() > 1e-2  # layer 0 is not the last layer

    # Layer 0 only sees a local neighbourhood, so chunked encoding must reproduce it exactly.
    chunked = PretrainedAudioFeatures(tiny_wavlm_dir, layer=0, chunk_seconds=0.5, context_seconds=0.2)
    np.testing.assert_allclose(chunked._encode(normalised), hidden, atol=1e-4)
    assert (
        chunked.config() != layer0.config()
        and layer0.config() == PretrainedAudioFeatures(tiny_wavlm_dir, layer=0).config()
    )

    assert PretrainedAudioFeatures(tiny_wavlm_dir, kind="wavlm").name == "wavlm"
    with pytest.raises(AudioError, match="features=hubert but the model at .* is a 'wavlm' model"):
        PretrainedAudioFeatures(tiny_wavlm_dir, kind="hubert")
    with pytest.raises(AudioError, match="layer=5 is out of range for a 2-layer model"):
        PretrainedAudioFeatures(tiny_wavlm_dir, layer=5)
    with pytest.raises(AudioError, match="expects 16000 Hz audio but sr=22050"):
        PretrainedAudioFeatures(tiny_wavlm_dir, sr=22050)


def test_pretrained_features_explain_missing_model_and_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        AudioError, match=r"no model directory.*huggingface-cli download microsoft/wavlm-large"
    ):
        PretrainedAudioFeatures(tmp_path / "nowhere")
    with pytest.raises(AudioError, match=r"need a local model directory \(features.path\)"):
        PretrainedAudioFeatures(None, kind="wavlm")
    (tmp_path / "config.json").write_text("{}")

    def no_transformers(name: str) -> object:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr("a2a.audio.features.importlib.import_module", no_transformers)
    with pytest.raises(AudioError, match="pip install transformers"):
        PretrainedAudioFeatures(tmp_path)


# ------------------------------------------------------------------------------------------------- cache


def test_cache_hit_miss_and_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FeatureCache(tmp_path / "cache")
    audio = write_wav(tmp_path / "gBR_sBM_cAll_d04_mBR0_ch01.wav", click_song(1.0))
    extractor = BaselineFeatures()
    calls: list[int] = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.arange(70, dtype=np.float32).reshape(2, 35) + len(calls)

    aist = file_params(extractor, start_bpm=tempo_from_name(audio.name))  # mBR0 → 80 BPM
    first = cache.get_or_compute(audio, extractor, compute, params=aist)
    second = cache.get_or_compute(audio, extractor, compute, params=aist)
    assert len(calls) == 1
    np.testing.assert_array_equal(first, second)

    key = cache.key(audio, extractor, aist)
    assert cache.entry_path(key).is_file()
    meta = json.loads(cache.entry_path(key).with_suffix(".json").read_text())
    assert meta["shape"] == [2, 35] and meta["dtype"] == "float32" and meta["params"] == {"start_bpm": 80.0}
    assert meta["audio_sha256"] == audio_sha256(audio) == audio_sha256(audio.read_bytes())

    # Same content under another name with the same inputs: same entry; other inputs or config: new key.
    copy = tmp_path / "copy"
    copy.mkdir()
    same_content = copy / "song.wav"
    same_content.write_bytes(audio.read_bytes())
    assert cache.key(same_content, extractor, {"start_bpm": 80.0}) == key
    assert cache.key(same_content, extractor) != key  # no tempo prior: estimated, other features
    assert cache.key(audio, extractor) == cache.key(audio, extractor, {"start_bpm": None})
    assert cache.key(audio, BaselineFeatures(sr=30720, fps=60), aist) != key
    write_wav(tmp_path / "other.wav", click_song(1.0, seed=5))
    assert cache.key(tmp_path / "other.wav", extractor, params={"start_bpm": 80.0}) != key
    monkeypatch.setattr("a2a.audio.cache.__version__", a2a.__version__ + ".other")
    assert cache.key(audio, extractor, aist) != key
    monkeypatch.undo()

    # Default computation is extractor.for_file; bytes work as the source too.
    from_bytes = cache.get_or_compute(audio.read_bytes(), extractor)
    np.testing.assert_array_equal(
        from_bytes, extractor(*load_audio(audio), start_bpm=estimate_tempo(*load_audio(audio)))
    )
    with pytest.raises(AudioError, match=r"nothing\.wav: no such audio file"):
        cache.get_or_compute(tmp_path / "nothing.wav", extractor, compute)


@pytest.mark.parametrize("damage", ["truncate", "sidecar_shape", "checksum", "no_sidecar", "garbage_sidecar"])
def test_cache_recovers_from_damaged_entries(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache = FeatureCache(tmp_path / "cache")
    audio = write_wav(tmp_path / "a.wav", click_song(0.5))
    extractor = BaselineFeatures()
    calls: list[int] = []

    def compute() -> np.ndarray:
        calls.append(1)
        return np.full((4, 35), 7.0, dtype=np.float32)

    cache.get_or_compute(audio, extractor, compute)
    array_path = cache.entry_path(cache.key(audio, extractor))
    meta_path = array_path.with_suffix(".json")
    if damage == "truncate":
        array_path.write_bytes(array_path.read_bytes()[:100])
    elif damage == "sidecar_shape":
        meta = json.loads(meta_path.read_text())
        meta["shape"] = [5, 35]
        meta_path.write_text(json.dumps(meta))
    elif damage == "checksum":
        np.save(array_path, np.full((4, 35), 8.0, dtype=np.float32))
    elif damage == "no_sidecar":
        meta_path.unlink()
    else:
        meta_path.write_text("{not json")

    with caplog.at_level(logging.WARNING, logger="a2a.audio.cache"):
        recovered = cache.get_or_compute(audio, extractor, compute)
    assert len(calls) == 2
    assert "is corrupt" in caplog.text and array_path.name in caplog.text
    np.testing.assert_array_equal(recovered, np.full((4, 35), 7.0, dtype=np.float32))
    cache.get_or_compute(audio, extractor, compute)  # rewritten entry is trusted again
    assert len(calls) == 2
    assert not list(array_path.parent.glob("*.tmp"))


class FrameRms(AudioFeatureExtractor):
    """A cheap picklable extractor (numpy only) so the process-pool test does not pay librosa's per-process
    warm-up (~5 s of numba loading per worker)."""

    name = "rms"
    fps = 30

    @property
    def dim(self) -> int:
        return 1

    def config(self) -> dict[str, object]:
        return {"name": self.name, "fps": self.fps}

    def __call__(self, wave: np.ndarray, sr: int, *, num_frames: int | None = None) -> np.ndarray:
        hop = sr // self.fps
        frames = wave[: wave.size // hop * hop].reshape(-1, hop)
        return np.sqrt((frames**2).mean(axis=1, keepdims=True)).astype(np.float32)


def test_extract_many_with_two_workers(tmp_path: Path) -> None:
    paths = [write_wav(tmp_path / f"song{i}.wav", click_song(1.0, seed=i)) for i in range(3)]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF junk")
    cache = FeatureCache(tmp_path / "cache")
    extractor = FrameRms()

    result = extract_many([*paths, bad, paths[0]], extractor, cache, workers=2, progress=False, skip_bad=True)
    assert list(result) == paths
    assert list(result.failed) == [bad] and "broken.wav: cannot decode audio" in result.failed[bad]
    for path in paths:
        np.testing.assert_array_equal(result[path], extractor.for_file(path))
    assert len(list(cache.root.glob("*/*.npy"))) == 3

    with pytest.raises(AudioError, match=r"broken\.wav: cannot decode audio"):
        extract_many([*paths, bad], extractor, None, workers=2, progress=False)
    # Inline path (workers=1): a bad file raises too; the good ones now come from the cache untouched.
    with pytest.raises(AudioError, match=r"broken\.wav: cannot decode audio"):
        extract_many([*paths, bad], extractor, cache, workers=1, progress=False)
    mtimes = [p.stat().st_mtime_ns for p in cache.root.glob("*/*.npy")]
    again = extract_many(paths, extractor, cache, workers=1, progress=False)
    assert [p.stat().st_mtime_ns for p in cache.root.glob("*/*.npy")] == mtimes
    for path in paths:
        np.testing.assert_array_equal(again[path], result[path])


@pytest.mark.slow
def test_extract_many_baseline_features_in_worker_processes(tmp_path: Path) -> None:
    paths = [
        write_wav(tmp_path / f"gBR_sBM_cAll_d0{i}_mBR4_ch01.wav", click_song(2.0, seed=i)) for i in range(3)
    ]
    extractor = BaselineFeatures()
    result = extract_many(paths, extractor, FeatureCache(tmp_path / "cache"), workers=2, progress=False)
    for path in paths:
        np.testing.assert_array_equal(result[path], extractor(*load_audio(path), start_bpm=120.0))


def test_tempo_estimation_works_in_a_fresh_process():
    """Regression: librosa's lazy submodules must not depend on what else was imported first."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from a2a.audio.features import estimate_tempo\n"
        "sr = 22050; w = np.zeros(sr * 6, dtype=np.float32)\n"
        "for b in np.arange(0, 6, 0.5): w[int(b * sr) : int(b * sr) + 200] = 1\n"
        "print(estimate_tempo(w, sr))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert abs(float(out.stdout.strip()) - 120) < 6
