"""evaluate() on gesture data: the gesture report (FGD, beat consistency, diversity, style accuracy per
style), its baselines and the cached metric networks, on the tiny synthetic set and a 2-step dsg_tiny."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from a2a.config import compose_config
from a2a.data.zeggs import DSG_STYLES
from a2a.errors import A2AError
from a2a.evaluate import evaluate
from a2a.evaluate_gestures import is_gesture_data, upper_body_joints
from a2a.motion.bvh import read_bvh
from a2a.motion.rigs import ZEGGS75
from a2a.motion.skeleton import SMPL24, Skeleton
from a2a.train import train
from tests.conftest import CONF
from tests.test_docs import _bash_lines

FAST = ["fgd_encoder_steps=30", "style_classifier_steps=100"]


def _cfg(overrides):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("evaluate", overrides=overrides)


@pytest.fixture(scope="module")
def dsg_two_steps(gesture_root, tmp_path_factory):
    """dsg_tiny trained for two steps on the session's synthetic gesture set."""
    out = tmp_path_factory.mktemp("dsg_eval_run")
    cfg = compose_config(
        "train",
        [
            "experiment=dsg_tiny",
            f"data.source={gesture_root}",
            f"output_dir={out}",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
        ],
    )
    return train(cfg)["last_checkpoint"]


@pytest.fixture(scope="module")
def gesture_report(dsg_two_steps, gesture_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("gesture_eval")
    nets = tmp_path_factory.mktemp("metric_nets")
    cfg = _cfg(
        [
            f"ckpt={dsg_two_steps}",
            "data=gesture_tiny",
            f"data.source={gesture_root}",
            f"output_dir={out}",
            f"fgd_encoder={nets / 'fgd.pt'}",
            f"style_classifier={nets / 'style.pt'}",
            "render=1",
            *FAST,
        ]
    )
    return evaluate(cfg), out, nets


def test_gesture_data_configs_are_recognised():
    assert is_gesture_data(_cfg(["ckpt=x", "data=zeggs"]).data)
    assert is_gesture_data(_cfg(["ckpt=x", "data=gesture_synthetic"]).data)
    assert not is_gesture_data(_cfg(["ckpt=x", "data=synthetic"]).data)
    assert not is_gesture_data(_cfg(["ckpt=x", "data=aistpp"]).data)


def test_beat_consistency_scores_the_upper_body_of_the_rig():
    joints = upper_body_joints(ZEGGS75)
    assert [ZEGGS75.names[j] for j in joints][:4] == ["Spine", "Spine1", "Spine2", "Spine3"]
    assert len(joints) == 15 and "LeftHand" in [ZEGGS75.names[j] for j in joints]
    # SMPL-24 shares a few names (Spine1..3, Neck, Head); a rig with none of them cannot be scored.
    assert [SMPL24.names[j] for j in upper_body_joints(SMPL24)] == [
        "Spine1",
        "Spine2",
        "Spine3",
        "Neck",
        "Head",
    ]
    with pytest.raises(A2AError, match="the data's 2-joint rig has none of the upper-body joints"):
        upper_body_joints(Skeleton(("Root", "Tail"), (-1, 0), np.zeros((2, 3))))


def test_gesture_report_rows_and_structure(gesture_report, dsg_two_steps):
    report, out, nets = gesture_report
    assert report["kind"] == "gesture"
    # The synthetic set has no test split: split=test falls back to its held-out val takes, one per style.
    assert report["split"] == "val" and report["n_sequences"] == 6
    assert report["styles"] == list(DSG_STYLES)
    names = [row["name"] for row in report["rows"]]
    assert names == ["ground truth", "mean pose", "random train clip", "audio nearest neighbour", "last"]
    for row in report["rows"]:
        assert list(row["per_style"]) == list(DSG_STYLES)
        assert all(entry["takes"] == 1 for entry in row["per_style"].values())
        assert {"FGD", "BC", "BC_motion", "diversity", "style_accuracy", "fgd_windows"} <= set(row["overall"])
        # Every window in the confusion matrix (classifier order), its diagonal the accuracy.
        assert row["confusion"]["styles"] == sorted(DSG_STYLES)
        counts = np.array(row["confusion"]["counts"])
        assert counts.shape == (6, 6) and counts.sum() == row["overall"]["style_windows"] == 36
        assert np.trace(counts) / 36 == pytest.approx(row["overall"]["style_accuracy"])
    # 6 s takes at 20 fps = 120 frames: windows of 34 every 17 frames → (120 − 34) // 17 + 1 = 6 per take.
    gt, model = report["rows"][0], report["rows"][4]
    assert gt["overall"]["fgd_real_windows"] == 36 and model["overall"]["fgd_windows"] == 36
    assert model["per_style"]["Happy"]["fgd_windows"] == 6
    # 6 windows per style < 32 latent dimensions: flagged; 36 overall is not.
    assert model["per_style"]["Happy"]["fgd_rank_deficient"] and not model["overall"]["fgd_rank_deficient"]
    # Every take was generated and timed; the reference rows took no time.
    assert all(t["seconds"] > 0 for t in model["per_take"].values())
    assert model["overall"]["seconds_mean"] > 0 and gt["overall"]["seconds_mean"] is None
    # Files: strict JSON, the report, the plot, one render, every generated take as a rig BVH, the nets.
    saved = json.loads(
        (out / "report.json").read_text(), parse_constant=lambda name: pytest.fail(f"{name} in JSON")
    )
    assert saved["rows"][0]["overall"]["FGD"] is None
    assert (out / "plots" / "gestures.png").is_file() and len(report["renders"]) == 1
    bvhs = sorted((out / "bvh" / "last").glob("*.bvh"))
    assert len(bvhs) == 6 and read_bvh(bvhs[0]).num_frames == 120
    assert (nets / "fgd.pt").is_file() and (nets / "style.pt").is_file()
    assert report["protocol"]["fgd"]["trained"] and report["protocol"]["fgd"]["steps"] == 30
    markdown = (out / "report.md").read_text()
    assert "| ground truth | reference (N=36) |" in markdown
    assert "## How to read" in markdown and "### Style accuracy" in markdown and "†" in markdown


def test_gesture_report_ground_truth_and_baselines_are_sane(gesture_report):
    report = gesture_report[0]
    gt, mean_pose, random_clip, neighbour, model = report["rows"]
    chance = report["protocol"]["style_classifier"]["chance"]
    assert chance == pytest.approx(1 / 6)
    # Trained on one take per style, the classifier knows its training takes (the random clip's answers)
    # and recognises most held-out ones (measured 4 of 6); a 2-step model is no better than them.
    assert random_clip["overall"]["style_accuracy"] == 1.0
    assert gt["overall"]["style_accuracy"] >= 2 * chance
    assert model["overall"]["style_accuracy"] <= gt["overall"]["style_accuracy"]
    # The reference rows: GT is FGD's reference; a still pose has no beats and no spread.
    assert gt["overall"]["FGD"] is None and gt["overall"]["BC"] > 0.1 and gt["overall"]["BC_motion"] > 0.1
    assert mean_pose["overall"]["BC"] == 0.0 and mean_pose["overall"]["BC_motion"] == 0.0
    assert mean_pose["overall"]["diversity"] == pytest.approx(0, abs=1e-9)
    assert mean_pose["overall"]["FGD"] > 0 and model["overall"]["FGD"] > 0
    # One training take per style: the random clip of the style and the audio neighbour are that same
    # take, so their rows agree exactly.
    assert random_clip["per_style"] == neighbour["per_style"]


def test_cached_metric_networks_are_reused(gesture_report, dsg_two_steps, gesture_root, tmp_path):
    report, _, nets = gesture_report
    before = {path: path.stat().st_mtime_ns for path in nets.iterdir()}
    again = evaluate(
        _cfg(
            [
                f"ckpt={dsg_two_steps}",
                "data=gesture_tiny",
                f"data.source={gesture_root}",
                f"output_dir={tmp_path}",
                f"fgd_encoder={nets / 'fgd.pt'}",
                f"style_classifier={nets / 'style.pt'}",
                "max_sequences=2",
                "render=0",
                "fgd_encoder_steps=1",  # would give another encoder if it were trained again
                "style_classifier_steps=1",
            ]
        )
    )
    assert {path: path.stat().st_mtime_ns for path in nets.iterdir()} == before
    assert not again["protocol"]["fgd"]["trained"] and not again["protocol"]["style_classifier"]["trained"]
    assert again["styles"] == ["Happy", "Sad"]
    # Same networks, same seed, same takes: the same numbers for the styles both runs scored.
    for first, second in zip(report["rows"], again["rows"], strict=True):
        for style in ("Happy", "Sad"):
            assert second["per_style"][style] == {
                **first["per_style"][style],
                "seconds_mean": second["per_style"][style]["seconds_mean"],
            }
    assert not (tmp_path / "fgd_encoder.pt").exists()


def test_metric_networks_train_into_the_run_dir_by_default(dsg_two_steps, gesture_root, tmp_path):
    report = evaluate(
        _cfg(
            [
                f"ckpt={dsg_two_steps}",
                "data=gesture_tiny",
                f"data.source={gesture_root}",
                f"output_dir={tmp_path}",
                "max_sequences=1",
                "render=0",
                *FAST,
            ]
        )
    )
    assert report["protocol"]["fgd"]["path"] == str(tmp_path / "fgd_encoder.pt")
    assert report["protocol"]["style_classifier"]["path"] == str(tmp_path / "style_classifier.pt")
    assert (tmp_path / "fgd_encoder.pt").is_file() and (tmp_path / "style_classifier.pt").is_file()
    # One 120-frame take: 6 windows, fewer than the 32 latent dimensions, flagged everywhere.
    assert report["rows"][4]["overall"]["fgd_rank_deficient"]


def test_gesture_evaluation_refuses_what_it_cannot_score(
    tiny_checkpoint, dsg_two_steps, gesture_root, tmp_path
):
    common = ["data=gesture_tiny", f"data.source={gesture_root}", f"output_dir={tmp_path}", *FAST]
    with pytest.raises(A2AError, match="takes no style input, so it cannot be scored on gesture data"):
        evaluate(_cfg([f"ckpt={tiny_checkpoint}", *common]))
    with pytest.raises(A2AError, match=r"samples=\[1, 2\]: the gesture evaluation draws one sample"):
        evaluate(_cfg([f"ckpt={dsg_two_steps}", "samples=[1,2]", *common]))
    with pytest.raises(A2AError, match="split 'holdout' not in"):
        evaluate(_cfg([f"ckpt={dsg_two_steps}", "split=holdout", *common]))


def test_dance_evaluation_refuses_a_gesture_checkpoint(dsg_two_steps, synthetic_root, tmp_path):
    with pytest.raises(
        A2AError,
        match=r"answers in its own rig \(DSGRepresentation: a gesture model\?\), so it cannot be scored on "
        r"dance data; evaluate it with gesture data",
    ):
        evaluate(
            _cfg(
                [
                    f"ckpt={dsg_two_steps}",
                    "data=tiny",
                    f"data.source={synthetic_root}",
                    f"output_dir={tmp_path}",
                ]
            )
        )
    assert not any(tmp_path.iterdir())  # refused before any output


@pytest.mark.parametrize("command", _bash_lines("python evaluate.py "), ids=lambda c: " ".join(c[2:]))
def test_readme_evaluate_commands_compose_and_route(command):
    cfg = _cfg(command[2:])
    gesture = any(arg.startswith(("data=zeggs", "data=gesture")) for arg in command)
    assert is_gesture_data(cfg.data) == gesture
    if gesture:
        assert (
            cfg.fgd_encoder_steps == 4000 and cfg.style_classifier_steps == 2000 and cfg.gesture_window == 34
        )
