"""evaluate(): validator approximation, dance metrics, baselines and the report, on the tiny checkpoint."""

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from a2a.errors import A2AError
from a2a.evaluate import _fit_length, evaluate, mean_pose_motion
from a2a.motion import Motion
from tests.conftest import CONF


def _cfg(overrides):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("evaluate", overrides=overrides)


def test_evaluate_writes_a_complete_report(tiny_checkpoint, synthetic_root, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    y_limits = []
    save = Figure.savefig
    monkeypatch.setattr(
        Figure, "savefig", lambda fig, *a, **k: (y_limits.append(fig.axes[0].get_ylim()), save(fig, *a, **k))
    )
    cfg = _cfg(
        [
            f"ckpt=[{tiny_checkpoint},{tiny_checkpoint}]",
            f"data.source={synthetic_root}",
            f"output_dir={tmp_path}",
            "samples=[1,2]",
            "render=1",
            "bootstrap=200",
        ]
    )
    report = evaluate(cfg)
    names = [r["name"] for r in report["rows"]]
    assert names[:4] == ["ground truth", "mean pose", "random train clip", "audio nearest neighbour"]
    assert len(names) == 8  # two checkpoints × (1 sample, 2 samples)
    gt = report["rows"][0]
    assert gt["rmse_mean"] == 0.0 and gt["correctness_mean"] == 1.0
    assert gt["reward_mean"] == pytest.approx(0.7 + 0.3 * 0.6224593, abs=1e-6)
    for row in report["rows"]:
        assert 0.18 < row["reward_mean"] <= gt["reward_mean"] + 1e-12
        lo, hi = row["reward_ci95"]
        assert lo <= row["reward_mean"] <= hi
        assert {"FID_k", "FID_g", "Div_k", "Div_g", "BAS_bailando", "BAS_fact", "PFC"} <= set(row["dance"])
        assert row["dance"]["n_pred"] == report["n_sequences"]
    model = report["rows"][4]
    assert model["seconds_mean"] > 0 and model["speed_mean"] < 0.6225
    # The mean-pose baseline never moves: its diversity is zero and it has no motion beats.
    assert report["rows"][1]["dance"]["Div_k"] == pytest.approx(0.0, abs=1e-9)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["rows"][0]["name"] == "ground truth"
    markdown = (tmp_path / "report.md").read_text()
    assert "| ground truth |" in markdown and "FID_k" in markdown and "N = " in markdown
    assert (tmp_path / "plots" / "rewards.png").exists()
    assert y_limits == [(0.0, 1.0)]  # rewards plotted from 0, not from just under the lowest bar
    # The synthetic pool (12 sequences, 16 of 32 geometric features constant) cannot support FID: every
    # FID is null in the JSON and "n/a" in the table, with the reason under Protocol.
    pool = report["protocol"]["pool"]
    assert pool["k"]["clips"] == report["protocol"]["n_gt"] and pool["k"]["features"] == 72
    assert pool["g"]["constant"] > 0 and pool["g"]["problem"].startswith("the GT pool is constant in ")
    for row in saved["rows"]:
        assert (
            row["dance"]["FID_k"] is None and row["dance"]["FID_g"] is None and row["dance"]["Div_g"] is None
        )
    assert "| n/a (pool too small) | n/a (pool constant) |" in markdown
    assert f"FID_k is n/a: GT pool too small: {pool['k']['clips']} clips for 72 features" in markdown
    assert (
        "## How to read the rows" in markdown
        and "**mean pose** holds the training set's average pose" in markdown
    )
    # Strict JSON: numbers or null, never NaN.
    json.loads(
        (tmp_path / "report.json").read_text(), parse_constant=lambda name: pytest.fail(f"{name} in JSON")
    )
    assert len(report["renders"]) == 1
    assert len(list((tmp_path / "bvh" / "ground_truth").glob("*.bvh"))) == report["n_sequences"]


def test_baselines_have_the_right_length():
    motion = Motion(np.random.default_rng(0).normal(size=(7, 24, 3)) * 0.1, np.zeros((7, 3)), 30.0)
    looped = _fit_length(motion, 16)
    assert looped.num_frames == 16
    np.testing.assert_array_equal(looped.poses[7:14], motion.poses)

    class Seq:
        def __init__(self, m):
            self.motion = m

    still = mean_pose_motion([Seq(motion)], 5)
    assert still.num_frames == 5 and np.allclose(still.poses, still.poses[0])


def test_evaluate_refuses_bad_requests(synthetic_root, tmp_path, tiny_checkpoint):
    with pytest.raises(A2AError, match="ckpt=PATH"):
        evaluate(_cfg([f"data.source={synthetic_root}", f"output_dir={tmp_path}", "ckpt=null"]))
    with pytest.raises(A2AError, match="split 'holdout'"):
        evaluate(
            _cfg(
                [
                    f"ckpt={tiny_checkpoint}",
                    f"data.source={synthetic_root}",
                    f"output_dir={tmp_path}",
                    "split=holdout",
                ]
            )
        )


def test_report_json_is_strict():
    from a2a.evaluate import json_ready

    value = {"ci": (np.float32(1.5), float("nan")), "n": np.int64(3), "inf": np.float64("inf"), "s": "x"}
    assert json_ready(value) == {"ci": [1.5, None], "n": 3, "inf": None, "s": "x"}
    assert type(json_ready(value)["n"]) is int


def test_sampler_sweep_rows_and_recommendation(tiny_checkpoint, synthetic_root, tmp_path):
    cfg = _cfg(
        [
            f"ckpt={tiny_checkpoint}",
            f"data.source={synthetic_root}",
            f"output_dir={tmp_path}",
            "sweep=[tiny,ddim]",
            "render=0",
            "bootstrap=50",
            "genre_classifier_steps=0",
        ]
    )
    report = evaluate(cfg)
    models = [row for row in report["rows"] if row["kind"] == "model"]
    assert [row["setting"] for row in models] == ["tiny", "ddim"]
    assert [row["name"].split(" (")[1] for row in models] == ["tiny)", "ddim)"]
    assert models[1]["seconds_mean"] > models[0]["seconds_mean"]  # 50 steps take longer than 5
    best = max(models, key=lambda row: row["reward_mean"])
    assert report["recommendation"]["mining"] == best["name"]
    assert (tmp_path / "plots" / "reward_vs_time.png").exists()
    markdown = (tmp_path / "report.md").read_text()
    assert (
        "## Which setting to mine with" in markdown
        and "tiny: reward" in markdown
        and "ddim: reward" in markdown
    )
    with pytest.raises(A2AError, match="no sampler named 'fast'; the sampler group has"):
        evaluate(
            _cfg(
                [
                    f"ckpt={tiny_checkpoint}",
                    f"data.source={synthetic_root}",
                    f"output_dir={tmp_path}",
                    "sweep=[fast]",
                ]
            )
        )


def _report_rows(mean_pose: float, model: float) -> list[dict]:
    def row(name: str, kind: str, reward: float) -> dict:
        return {"name": name, "kind": kind, "reward_mean": reward, "seconds_mean": 0.5}

    return [
        row("ground truth", "ground truth", 1.0),
        row("mean pose", "baseline", mean_pose),
        row("random train clip", "baseline", 0.70),
        row("last", "model", model),
    ]


def test_the_recommendation_says_when_a_baseline_beats_every_model():
    from a2a.evaluate import _recommendation, _recommendation_lines

    rows = _report_rows(mean_pose=0.80, model=0.75)
    line = _recommendation_lines({"rows": rows, "recommendation": _recommendation(rows)})[-1]
    assert line.startswith(
        "On this data no model row beats the mean pose baseline (0.8000): the best model row, **last** "
        "(0.7500, 0.50 s per sequence), would earn less than answering that baseline; train longer"
    )
    rows = _report_rows(mean_pose=0.70, model=0.75)  # the model wins: the plain recommendation
    lines = _recommendation_lines({"rows": rows, "recommendation": _recommendation(rows)})
    assert lines[-1].startswith("On this data the best validator reward is **last** (0.7500, 0.50 s per")
