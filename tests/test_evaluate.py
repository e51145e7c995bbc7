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


def test_evaluate_writes_a_complete_report(tiny_checkpoint, synthetic_root, tmp_path):
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
