"""Cost of EDGE's Jukebox features (``features=jukebox``) for a song: per 5-s slice as EDGE does, per song.

    .venv/bin/python benchmarks/bench_jukebox.py                 # tiny random Jukebox on the CPU, ~40 s
    A2A_JUKEBOX_DIR=DIR .venv/bin/python benchmarks/bench_jukebox.py   # + the real 5B model (GPU)

The tiny model (the 5B model's structure at widths 8/32, 5 blocks, in the release's file layout, written to a
temporary folder) measures the pipeline's CPU overhead: decoding aside, the same code as the real model. The
real model is timed when ``A2A_JUKEBOX_DIR`` (or ``--weights``) holds ``vqvae.pth.tar`` and
``prior_level_2.pth.tar`` and CUDA is available (``--device cpu`` forces the CPU: ~18 GB of RAM, minutes per
slice). Rows: loading, EDGE's test protocol (5-s slices, 2.5-s stride: 11 slices for 30 s), its training
protocol (0.5-s stride: 51 slices), and once per song (context-sized chunks). Peak memory is the process's
peak resident set on the CPU and ``torch.cuda.max_memory_allocated`` on a GPU; CPU times are the best of 3.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from a2a.audio.jukebox import PRIOR_FILE, VQVAE_FILE, JukeboxFeatures, save_random_jukebox
from a2a.audio.jukebox_model import JukeboxArchitecture

SR = 44100
TINY = JukeboxArchitecture(
    vqvae_width=8,
    vqvae_depth=2,
    vqvae_emb_width=16,
    codebook_size=256,
    width=32,
    depth=5,
    heads=2,
    n_ctx=2048,
    blocks=32,
)


def music(seconds: float, seed: int = 0) -> np.ndarray:
    """Chords, bass and noise bursts on the beat at 44.1 kHz ``[n]``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) + 0.3 * np.sin(2 * np.pi * 55 * t)
    for beat in np.arange(0.0, seconds, 0.5):
        i = int(beat * SR)
        n = min(int(0.05 * SR), t.size - i)
        y[i : i + n] += rng.standard_normal(n) * np.exp(-np.arange(n) / (0.01 * SR))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def edge_slices(song: np.ndarray, stride_s: float) -> np.ndarray:
    """EDGE's ``slice_audio``: 5-s windows every ``stride_s`` seconds ``[K, 5·SR]``."""
    window, step = 5 * SR, int(stride_s * SR)
    return np.stack([song[s : s + window] for s in range(0, song.size - window + 1, step)])


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB GPU"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB RSS"


def best_of(repeats: int, run):
    """(fastest wall time, result) of ``repeats`` calls: the least disturbed run on a shared machine."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def measure(label: str, folder: Path, seconds: float, repeats: int, **kwargs) -> list[tuple[str, float, str]]:
    device = torch.device(kwargs.get("device", "cpu"))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    extractor = JukeboxFeatures(folder, **kwargs)
    rows = [(f"{label}: load", time.perf_counter() - start, f"{extractor.dtype}, {peak_memory(device)}")]
    song = music(seconds)
    extractor.slices(edge_slices(song, 0.5)[: extractor.batch_size], SR)  # warm-up: one full batch
    for name, stride in (("test protocol, 2.5-s stride", 2.5), ("training protocol, 0.5-s stride", 0.5)):
        pieces = edge_slices(song, stride)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        took, features = best_of(repeats, lambda p=pieces: extractor.slices(p, SR))
        rows.append(
            (
                f"{label}: {len(pieces)} slices, {name}",
                took,
                f"{features.shape}, {took / len(pieces) * 1000:.0f} ms/slice, {peak_memory(device)}",
            )
        )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    took, features = best_of(repeats, lambda: extractor(song, SR))
    rows.append((f"{label}: per song", took, f"{features.shape}, {peak_memory(device)}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the test music")
    parser.add_argument("--weights", default=os.environ.get("A2A_JUKEBOX_DIR"), help="folder of the 5B model")
    parser.add_argument("--device", default="auto", help="device for the real model (auto: CUDA if present)")
    parser.add_argument("--batch-size", type=int, default=8, help="5-s slices per forward pass")
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))

    rows: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="a2a-bench-jukebox-") as tmp:
        tiny = save_random_jukebox(Path(tmp), TINY, seed=0)
        rows += measure("tiny, cpu", tiny, args.seconds, 3, layer=4, architecture=TINY, device="cpu")
    weights = Path(args.weights) if args.weights else None
    if weights and (weights / VQVAE_FILE).is_file() and (weights / PRIOR_FILE).is_file():
        device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        rows += measure(f"5B, {device}", weights, args.seconds, 1, device=device, batch_size=args.batch_size)
    else:
        print("no real weights (set A2A_JUKEBOX_DIR or --weights): tiny model only")

    width = max(len(name) for name, _, _ in rows)
    print(f"\n{args.seconds:.0f} s of music\n{'step':<{width}}  {'seconds':>8}  note")
    for name, seconds, note in rows:
        print(f"{name:<{width}}  {seconds:8.3f}  {note}")


if __name__ == "__main__":
    main()
