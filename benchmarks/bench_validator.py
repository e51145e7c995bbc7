"""Benchmark: a2a's validator score against the subnet-25 validator's own bvhio loop.

Writes a pair of a2a-exported BVHs of two random smooth motions (``--seconds`` long at 30 fps), then times
(a) a2a: parse both files + score, and (b) the validator's ``compute_rmse`` loop re-implemented step by
step with bvhio (``tests/reference_chain.py``), checks the rmse values agree (relative difference ≤ 1e-5)
and prints a table with the speed ratio.

    python benchmarks/bench_validator.py [--seconds 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reference_chain import random_smooth_motion, validator_compute_rmse

from a2a.metrics.validator import EDGE_EDGE, score
from a2a.motion.bvh import read_bvh, write_bvh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="clip length in seconds (30 fps)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of the a2a scorer")
    args = parser.parse_args(argv)
    frames = max(1, round(args.seconds * 30))

    with tempfile.TemporaryDirectory() as folder:
        pred = write_bvh(random_smooth_motion(frames, 1, 0.8, 1.0), Path(folder) / "pred.bvh")
        ref = write_bvh(random_smooth_motion(frames, 2, 0.8, 1.0), Path(folder) / "ref.bvh")

        a2a_times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = score(read_bvh(pred), read_bvh(ref), process_time=None, joint_map=EDGE_EDGE)
            a2a_times.append(time.perf_counter() - start)

        start = time.perf_counter()
        validator_rmse = validator_compute_rmse(pred, ref, EDGE_EDGE)
        validator_time = time.perf_counter() - start

    rel = abs(result["rmse"] - validator_rmse) / abs(validator_rmse)
    a2a_median = statistics.median(a2a_times)
    print(f"{frames} frames ({args.seconds:g} s at 30 fps), 22 joints (edge_edge map)")
    print(f"{'scorer':<32}{'time (s)':>12}{'rmse':>18}")
    print(f"{'validator bvhio loop':<32}{validator_time:>12.3f}{validator_rmse:>18.6f}")
    print(f"{'a2a parse both + score (median)':<32}{a2a_median:>12.4f}{result['rmse']:>18.6f}")
    print(f"{'a2a best of ' + str(args.repeats):<32}{min(a2a_times):>12.4f}")
    print(f"relative rmse difference: {rel:.2e} ({'ok' if rel <= 1e-5 else 'MISMATCH'})")
    print(f"speed ratio (validator / a2a median): {validator_time / a2a_median:.0f}x")
    return 0 if rel <= 1e-5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
