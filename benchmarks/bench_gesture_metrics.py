"""Cost of the gesture metrics at ZEGGS sizes (75 joints, 60 fps), on CPU.

    .venv/bin/python benchmarks/bench_gesture_metrics.py                 # ≈ 1 min on 2 cores
    .venv/bin/python benchmarks/bench_gesture_metrics.py --threads 1 --steps 50

Times: training steps of the FGD autoencoder and of the style classifier at the default sizes (window 34,
stride 17, batch 64; GENEA's channels 32, hidden 128, latent 32), with the wall time GENEA's 10 epochs
would take on ZEGGS (≈ 135 min of motion); then scoring one minute of motion: cutting windows + encoding,
FGD against a ground-truth pool, latent diversity, beat consistency and style predictions.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from a2a.metrics.fgd import diversity, fgd, train_fgd_encoder
from a2a.metrics.gesture_beats import beat_consistency
from a2a.metrics.style import train_style_classifier
from a2a.metrics.window_nets import parameter_count

FPS = 60.0
JOINTS = 75
ZEGGS_MINUTES = 135.0


def best_of(function: Callable[[], object], repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls, in seconds."""
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def random_gestures(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """``[T, 75, 3]`` smooth random-walk joints around a rest pose (metres)."""
    frames = int(seconds * FPS)
    rest = rng.normal(scale=0.3, size=(1, JOINTS, 3))
    walk = np.cumsum(rng.normal(scale=0.002, size=(frames, JOINTS, 3)), axis=0)
    return rest + walk - walk.mean(axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--steps", type=int, default=100, help="training steps timed (default 100)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)

    train = [random_gestures(rng, 60.0) for _ in range(6)]
    styles = ["Happy", "Sad", "Old"] * 2
    start = time.perf_counter()
    encoder = train_fgd_encoder(train, FPS, steps=args.steps, seed=0)
    fgd_seconds = time.perf_counter() - start
    windows = encoder.windows(train)
    zeggs_windows = ZEGGS_MINUTES * 60 * FPS / encoder.spec.stride
    genea_steps = 10 * zeggs_windows / 64
    per_step = fgd_seconds / args.steps
    print(f"CPU, torch threads={torch.get_num_threads()}; {encoder.spec.describe()}")
    print(
        f"FGD autoencoder ({parameter_count(encoder.net):,} parameters): {args.steps} steps in "
        f"{fgd_seconds:.2f} s = {1e3 * per_step:.1f} ms/step (batch 64); GENEA's 10 epochs on ZEGGS "
        f"(≈{genea_steps:,.0f} steps) ≈ {genea_steps * per_step / 60:.1f} min"
    )
    start = time.perf_counter()
    classifier = train_style_classifier(train, styles, FPS, steps=args.steps, seed=0)
    style_seconds = time.perf_counter() - start
    print(
        f"style classifier ({parameter_count(classifier.net):,} parameters): {args.steps} steps in "
        f"{style_seconds:.2f} s = {1e3 * style_seconds / args.steps:.1f} ms/step (batch 64)"
    )

    minute = random_gestures(rng, 60.0)
    pool = encoder.encode(windows)
    onsets = np.sort(rng.uniform(0, 60, size=240))  # ≈ 4 syllables per second
    upper_body = list(range(0, JOINTS, 4))
    generated = encoder.features(minute)
    timings = {
        "windows + encode": best_of(lambda: encoder.features(minute), args.repeats),
        f"fgd ({len(generated)} vs {len(pool)} windows)": best_of(lambda: fgd(pool, generated), args.repeats),
        "diversity": best_of(lambda: diversity(generated), args.repeats),
        f"beat consistency ({len(upper_body)} joints)": best_of(
            lambda: beat_consistency(minute, onsets, FPS, joint_indices=upper_body), args.repeats
        ),
        "style predictions": best_of(lambda: classifier.predict(classifier.windows(minute)), args.repeats),
    }
    print(f"scoring 60 s of motion ({len(generated)} windows), best of {args.repeats}:")
    for name, seconds in timings.items():
        print(f"  {name:34s} {1e3 * seconds:8.1f} ms")
    print(f"  {'total':34s} {1e3 * sum(timings.values()):8.1f} ms")


if __name__ == "__main__":
    main()
