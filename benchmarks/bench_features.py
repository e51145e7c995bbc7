"""Cost and fidelity of EDGE's 35-d baseline audio features: per slice (EDGE) vs once per song + slicing.

    .venv/bin/python benchmarks/bench_features.py              # 60 s of music, ~1 min on 2 cores
    .venv/bin/python benchmarks/bench_features.py --seconds 20

The music is one sequence of ``a2a.data.synthetic`` (drum machine + bass + chords at the AIST++ tempo of
its name) when that module is available, else a click track with chords. Timings:

* cold: feature-cache miss (decode + extract + store) after a warm-up call (numba/librosa first-call
  overhead, reported separately: every new process pays it once);
* cached: cache hit (hash the file, load and verify the ``.npy``);
* EDGE per slice: cut 5 s windows (0.5 s stride as EDGE training, 2.5 s as its test protocol), extract
  each window separately;
* per song: extract once, then slice the [T, 35] features into the same windows.

Agreement of the two ways is reported per feature group over the same windows. Besides the slice edges
(STFT/CQT context, chroma smoothing, beat tracking over 5 s), ``power_to_db(top_db=80)`` inside the
MFCC and onset envelope clamps bins at 80 dB below the maximum *of the analysed signal*, so wherever a
song has such quiet bins (band-limited or quiet passages), per-slice values differ in the interior too.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from a2a.audio import (
    BaselineFeatures,
    FeatureCache,
    extract_per_slice,
    extract_per_song,
    load_audio,
)
from a2a.data.naming import tempo_from_name

SEQUENCE_NAME = "gBR_sBM_cAll_d04_mBR4_ch01"  # mBR4 → 120 BPM


def make_music(folder: Path, seconds: float) -> Path:
    """A ``seconds``-long music file with an AIST++ name in ``folder``."""
    try:
        from a2a.data.synthetic import synthesize
    except ImportError:
        synthesize = None
    if synthesize is not None:
        root = synthesize(folder / "synthetic", sequences=1, seconds=seconds, seed=0, progress=False)
        return sorted((root / "wavs").glob("*.wav"))[0]
    sr, bpm = 22050, 120.0
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.003 * rng.standard_normal(t.size)
    for k, start in enumerate(np.arange(0.25, seconds, 60.0 / bpm)):
        i = int(start * sr)
        m = min(int(0.05 * sr), t.size - i)
        y[i : i + m] += (
            rng.standard_normal(m) * np.exp(-np.arange(m) / (0.01 * sr)) * (1.0 if k % 4 == 0 else 0.6)
        )
    for f in (220.0, 277.18, 329.63):
        y += 0.1 * np.sin(2 * np.pi * f * t)
    path = folder / f"{SEQUENCE_NAME}.wav"
    sf.write(path, 0.5 * y / np.abs(y).max(), sr)
    return path


def timed(fn, repeats: int = 1):
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def event_f1(a: np.ndarray, b: np.ndarray, tolerance: int) -> float:
    """F-measure of one-hot events ``a`` vs ``b`` ``[K, W]``, matched within ``tolerance`` frames."""
    hits_a = hits_b = total_a = total_b = 0
    for row_a, row_b in zip(a, b, strict=True):
        ia, ib = np.flatnonzero(row_a), np.flatnonzero(row_b)
        total_a, total_b = total_a + ia.size, total_b + ib.size
        if ia.size and ib.size:
            distance = np.abs(ia[:, None] - ib[None, :])
            hits_a += int((distance.min(axis=1) <= tolerance).sum())
            hits_b += int((distance.min(axis=0) <= tolerance).sum())
    if total_a + total_b == 0:
        return 1.0
    return (hits_a + hits_b) / (total_a + total_b)


def mel_floor_fraction(wave: np.ndarray, sr: int) -> float:
    """Fraction of mel bins more than 80 dB below the song's maximum (clamped by ``power_to_db``)."""
    y = librosa.resample(wave, orig_sr=sr, target_sr=15360)
    db = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=15360), top_db=None)
    return float((db < db.max() - 80.0).mean())


def agreement(per_slice: np.ndarray, per_song: np.ndarray, below_floor: float) -> list[tuple[str, str]]:
    """Per-feature-group agreement of ``[K, 150, 35]`` windows extracted per slice vs per song."""
    cols = BaselineFeatures.COLUMNS
    diff = np.abs(per_slice - per_song)
    envelope_scale = float(per_song[..., 0].max())
    slice_beats, song_beats = per_slice[..., 34] > 0, per_song[..., 34] > 0
    slice_peaks, song_peaks = per_slice[..., 33] > 0, per_song[..., 33] > 0
    return [
        (
            "envelope",
            f"max |Δ| frames 6..149: {diff[:, 6:, cols['envelope']].max() / envelope_scale:.1e} of max; "
            f"frames 0..5: {diff[:, :6, cols['envelope']].max() / envelope_scale:.2f} of max",
        ),
        (
            "mel floor",
            f"{below_floor:.0%} of the song's mel bins lie below max - 80 dB, where power_to_db(top_db=80) "
            "clamps relative to each slice's own maximum (moves MFCC and envelope in the interior)",
        ),
        (
            "mfcc (20)",
            f"max |Δ| frames 2..148: {diff[:, 2:149, cols['mfcc']].max():.1e}, "
            f"|Δ| < 0.01 for {(diff[:, 2:149, cols['mfcc']] < 0.01).mean():.0%} of them; "
            f"edge frames 0,1,149: {diff[:, [0, 1, 149], cols['mfcc']].max():.1f} (MFCC range "
            f"{per_song[..., cols['mfcc']].min():.0f}..{per_song[..., cols['mfcc']].max():.0f})",
        ),
        (
            "chroma (12)",
            f"max |Δ| frames 30..119: {diff[:, 30:120, cols['chroma']].max():.3f}; mean |Δ| all frames: "
            f"{diff[..., cols['chroma']].mean():.4f}; max |Δ|: {diff[..., cols['chroma']].max():.3f} "
            "(range 0..1)",
        ),
        (
            "onset peaks",
            f"same frame: F={event_f1(slice_peaks, song_peaks, 0):.3f}; "
            f"frames 6..144: F={event_f1(slice_peaks[:, 6:145], song_peaks[:, 6:145], 0):.3f}",
        ),
        (
            "beats",
            f"same frame: F={event_f1(slice_beats, song_beats, 0):.3f}; ±1 frame: "
            f"F={event_f1(slice_beats, song_beats, 1):.3f}; "
            f"±2: F={event_f1(slice_beats, song_beats, 2):.3f}; "
            f"beats/window {slice_beats.sum(1).mean():.1f} vs {song_beats.sum(1).mean():.1f}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the test music")
    args = parser.parse_args()

    extractor = BaselineFeatures()
    with tempfile.TemporaryDirectory(prefix="a2a-bench-features-") as tmp:
        folder = Path(tmp)
        path = make_music(folder, args.seconds)
        wave, sr = load_audio(path)
        start_bpm = tempo_from_name(path.name)
        print(f"music: {path.name}, {wave.size / sr:.1f} s at {sr} Hz, start_bpm={start_bpm}")

        warmup, _ = timed(lambda: extractor(wave[: 2 * sr], sr, start_bpm=start_bpm))
        cache = FeatureCache(folder / "cache")
        cold, features = timed(lambda: cache.get_or_compute(path, extractor))
        cached, again = timed(lambda: cache.get_or_compute(path, extractor), repeats=5)
        assert np.array_equal(features, again)

        rows: list[tuple[str, float, str]] = [
            ("first call in a process (2 s clip)", warmup, "numba/librosa lazy-load, once per process"),
            (f"song {wave.size / sr:.0f} s, cold (cache miss)", cold, f"features {tuple(features.shape)}"),
            ("song, cached (cache hit)", cached, f"{cold / cached:.0f}x faster than cold"),
        ]
        agreements: dict[str, list[tuple[str, str]]] = {}
        below_floor = mel_floor_fraction(wave, sr)
        for label, stride in (("train, stride 0.5 s", 0.5), ("test, stride 2.5 s", 2.5)):
            t_slice, per_slice = timed(
                lambda s=stride: extract_per_slice(wave, sr, extractor, stride_s=s, start_bpm=start_bpm)
            )
            t_song, per_song = timed(
                lambda s=stride: extract_per_song(wave, sr, extractor, stride_s=s, start_bpm=start_bpm)
            )
            assert per_slice.shape == per_song.shape
            rows.append((f"EDGE per slice, {label}", t_slice, f"{per_slice.shape[0]} windows of 150 frames"))
            rows.append((f"per song + slicing, {label}", t_song, f"speed-up {t_slice / t_song:.1f}x"))
            agreements[label] = agreement(per_slice, per_song, below_floor)

    width = max(len(name) for name, _, _ in rows)
    print(f"\n{'step':<{width}}  {'seconds':>8}  note")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:8.3f}  {note}")
    for label, items in agreements.items():
        print(f"\nagreement per slice vs per song ({label}):")
        for group, text in items:
            print(f"  {group:<12} {text}")


if __name__ == "__main__":
    main()
