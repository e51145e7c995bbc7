"""Preprocessing throughput: audio features + encoding + windows + normaliser for a synthetic dataset.

Runs the datamodule's full preprocessing (``prepare_data`` fills the feature cache, ``setup`` encodes
motions, cuts windows and fits the normaliser) on ``--sequences`` synthetic AIST++ sequences of
``--seconds`` each, cold (empty cache) and cached, with 1 and 2 feature worker processes, and prints a
table. Usage::

    python benchmarks/bench_preprocess.py [--sequences 100] [--seconds 8] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from a2a.audio import BaselineFeatures
from a2a.data.datamodule import MotionDataModule
from a2a.data.synthetic import synthesize


def run(root: Path, cache: Path, workers: int) -> dict[str, float]:
    """One full preprocessing pass; returns timings (s) and counts."""
    dm = MotionDataModule(root, BaselineFeatures(), cache_dir=cache, feature_workers=workers, progress=False)
    start = time.perf_counter()
    dm.prepare_data()
    features = time.perf_counter() - start
    dm.setup(None)
    total = time.perf_counter() - start
    windows = sum(len(dm.dataset(role)) for role in ("train", "val", "test"))
    songs = sum(len(dm._prepared[split].names) for split in dm._prepared)
    return {
        "features": features,
        "setup": total - features,
        "total": total,
        "windows": windows,
        "songs": songs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="a2a-bench-") as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        root = synthesize(tmp_path / "data", sequences=args.sequences, seconds=args.seconds, progress=False)
        print(f"synthesized {args.sequences} × {args.seconds:g} s in {time.perf_counter() - start:.1f} s")
        rows = []
        for workers in args.workers:
            cache = tmp_path / f"cache-{workers}"
            for label in ("cold", "cached"):
                rows.append((workers, label, run(root, cache, workers)))

    print()
    header = ("workers", "cache", "features s", "setup s", "total s", "songs", "windows", "songs/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (7, 7, 11, 8, 8, 6, 8, 8), strict=True)))
    for workers, label, r in rows:
        print(
            f"{workers:>7} {label:>7} {r['features']:>11.2f} {r['setup']:>8.2f} {r['total']:>8.2f} "
            f"{r['songs']:>6.0f} {r['windows']:>8.0f} {r['songs'] / r['total']:>8.1f}"
        )


if __name__ == "__main__":
    main()
