"""Cost of the dance metrics on Bailando-protocol sizes.

    .venv/bin/python benchmarks/bench_dance_metrics.py            # a few seconds on 2 cores
    .venv/bin/python benchmarks/bench_dance_metrics.py --seconds 60

Times, per clip of random-walk SMPL-24 joints at 60 fps: kinetic features (72-d), geometric features
(32-d), Beat Align Score in both directions, PFC on 5-s 30-fps windows; and the FID/Div step for the
protocol's set sizes (40 generated clips against a pool of 1,320).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from a2a.metrics.dance import (
    beat_align_score,
    geometric_features,
    kinetic_features,
    pfc,
    quantized_metrics,
)


def best_of(function: Callable[[], object], repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls, in milliseconds."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return 1e3 * min(timings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="clip length at 60 fps")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    frames = int(args.seconds * 60)
    joints = np.cumsum(rng.normal(scale=0.01, size=(frames, 24, 3)), axis=0)
    beats = np.arange(0.25, args.seconds, 0.5)
    window = joints[:300:2]  # 5 s at 30 fps

    print(f"clip: {frames} frames at 60 fps ({args.seconds:g} s), best of {args.repeats}")
    print(f"  kinetic_features     {best_of(lambda: kinetic_features(joints), args.repeats):8.2f} ms")
    print(f"  geometric_features   {best_of(lambda: geometric_features(joints), args.repeats):8.2f} ms")
    for direction in ("bailando", "fact"):
        elapsed = best_of(lambda d=direction: beat_align_score(joints, beats, 60.0, d), args.repeats)
        print(f"  BAS ({direction:8s})      {elapsed:8.2f} ms")
    print(f"  pfc (5 s, 30 fps)    {best_of(lambda: pfc(window, up_axis='y'), args.repeats):8.2f} ms")

    pred_k, pred_g = rng.normal(size=(40, 72)), rng.uniform(size=(40, 32))
    gt_k, gt_g = rng.normal(size=(1320, 72)), rng.uniform(size=(1320, 32))
    elapsed = best_of(lambda: quantized_metrics(pred_k, pred_g, gt_k, gt_g), args.repeats)
    print(f"quantized_metrics (40 vs 1320) {elapsed:8.2f} ms")


if __name__ == "__main__":
    main()
