"""The benchmarks run: the latency one end to end on a tiny model (both paths, the ratio, equal outputs,
JSON), and every script ``make bench`` runs at its smallest settings, printing its report."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_latency_benchmark_prints_both_paths_and_writes_json(tmp_path, capsys):
    latency = _load("latency")
    out = tmp_path / "latency.json"
    args = ["--models", "edge_tiny", "--seconds", "3", "--steps", "2", "--threads", "1"]
    assert latency.main([*args, "--precisions", "fp32", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    rows = {row["path"]: row for row in report["rows"]}
    assert set(rows) == {"reference (EDGE's way)", "optimized", "posterior mean (k=1)"}
    optimized, reference = rows["optimized"], rows["reference (EDGE's way)"]
    assert optimized["max_abs_diff"] < 1e-4
    # The reported ratio is the two paths' measured sampling times, and each total adds up its stages.
    assert reference["sampling"] > 0 and optimized["sampling"] > 0
    assert optimized["speedup"] == pytest.approx(reference["sampling"] / optimized["sampling"])
    for row in rows.values():
        stages = row["decode"] + row["features"] + row["sampling"] + row["export"]
        assert row["total"] == pytest.approx(stages)
    assert optimized["windows"] == 1 and optimized["sampling_flops"] > 0
    assert report["peaks_gflops"]["fp32"] > 0
    printed = capsys.readouterr().out
    assert "reference (EDGE's way)" in printed and f"wrote {out}" in printed


@pytest.mark.parametrize("name", ["latency"])
def test_benchmark_help_runs(name, capsys):
    with pytest.raises(SystemExit) as stop:
        _load(name).main(["--help"])
    assert stop.value.code == 0 and "usage" in capsys.readouterr().out


# Every script ``make bench`` runs (benchmarks/bench_*.py), at its smallest settings, with a line its
# report must print. ``{ckpt}`` is the tiny test checkpoint (bench_miner would otherwise train one).
SCRIPTS = [
    (
        [
            "bench_attention.py",
            "--batch-sizes",
            "1",
            "--tiny-batch-sizes",
            "2",
            "--iters",
            "1",
            "--warmup",
            "0",
        ],
        "relative to the manual softmax(QK^T)V path",
    ),
    (
        [
            "bench_train.py",
            "--batch-sizes",
            "1",
            "--tiny-batch-sizes",
            "2",
            "--iters",
            "1",
            "--warmup",
            "0",
            "--no-memory",
            "--no-backends",
        ],
        "edge_tiny B=2 vs edge B=1: throughput x",
    ),
    (["bench_validator.py", "--seconds", "2", "--repeats", "1"], "relative rmse difference: "),
    (["bench_dance_metrics.py", "--seconds", "2", "--repeats", "1"], "quantized_metrics (40 vs 1320)"),
    (["bench_features.py", "--seconds", "6"], "song, cached (cache hit)"),
    (
        ["bench_gesture_metrics.py", "--steps", "2", "--repeats", "1", "--threads", "1"],
        "scoring 60 s of motion",
    ),
    (
        ["bench_jukebox.py", "--seconds", "6"],
        "no real weights (set A2A_JUKEBOX_DIR or --weights): tiny model",
    ),
    (["bench_preprocess.py", "--sequences", "2", "--seconds", "6", "--workers", "1"], "synthesized 2 × 6 s"),
    (
        [
            "bench_dsg.py",
            "--threads",
            "1",
            "--batch-sizes",
            "1",
            "--warmup",
            "0",
            "--iters",
            "1",
            "--check-steps",
            "2",
            "--train-batch",
            "0",
            "--end-to-end-seconds",
            "0",
        ],
        '"sampler_check": {"steps": 2',
    ),
    (
        ["bench_miner.py", "--ckpt", "{ckpt}", "--seconds", "2", "--repeats", "1"],
        "seconds per audio minute (process_time, url): ",
    ),
]


def test_every_make_bench_script_is_smoke_tested():
    assert {command[0] for command, _ in SCRIPTS} == {
        p.name for p in (REPO / "benchmarks").glob("bench_*.py")
    }


@pytest.mark.parametrize(("command", "expected"), SCRIPTS, ids=[command[0] for command, _ in SCRIPTS])
def test_benchmark_scripts_run(command, expected, request):
    """``make bench`` runs each script; the smallest settings catch an API change that breaks one."""
    if "{ckpt}" in command:
        command = [arg.format(ckpt=request.getfixturevalue("tiny_checkpoint")) for arg in command]
    # Without the variable bench_jukebox times the tiny random model only (the 5B one takes minutes).
    env = {k: v for k, v in os.environ.items() if k != "A2A_JUKEBOX_DIR"}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / command[0]),
            *command[1:],
        ],
        cwd=REPO,
        env={**env, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout, done.stdout[-2000:]
