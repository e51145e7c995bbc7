"""The latency benchmark runs end to end on a tiny model: both paths, the ratio, equal outputs, JSON."""

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
    optimized = rows["optimized"]
    assert optimized["max_abs_diff"] < 1e-4 and optimized["speedup"] > 0
    assert optimized["windows"] == 1 and optimized["sampling_flops"] > 0
    assert report["peaks_gflops"]["fp32"] > 0
    printed = capsys.readouterr().out
    assert "reference (EDGE's way)" in printed and f"wrote {out}" in printed


@pytest.mark.parametrize("name", ["latency"])
def test_benchmark_help_runs(name, capsys):
    with pytest.raises(SystemExit) as stop:
        _load(name).main(["--help"])
    assert stop.value.code == 0 and "usage" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command",
    [
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
        ["bench_validator.py", "--seconds", "2", "--repeats", "1"],
    ],
    ids=lambda command: command[0],
)
def test_benchmark_scripts_run(command):
    """``make bench`` runs each script; the smallest settings catch an API change that breaks one."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / command[0]), *command[1:]],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
