"""The latency benchmark runs end to end on a tiny model: both paths, the ratio, equal outputs, JSON."""

from __future__ import annotations

import importlib.util
import json

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
