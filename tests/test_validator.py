"""The subnet-25 validator score: formula values from subnet25.md §3.2, the quirks of §3.4 on hand-built
files, and agreement with a step-by-step re-implementation of the validator's bvhio loop."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from a2a.errors import BVHError
from a2a.metrics.validator import (
    EDGE_EDGE,
    EDGE_LIBRARY,
    JOINT_MAPS,
    LIBRARY_LIBRARY,
    correctness,
    detect_joint_map,
    detect_rig,
    missing_joints,
    reward,
    rmse,
    score,
    score_files,
    speed,
)
from a2a.motion.bvh import ExportTransform, motion_to_bvh, read_bvh, write_bvh

sys.path.insert(0, str(Path(__file__).parent))
from reference_chain import random_smooth_motion, validator_compute_rmse

# --- joint maps ------------------------------------------------------------------------------------------


def test_joint_maps():
    assert set(JOINT_MAPS) == {"edge_library", "edge_edge", "library_library"}
    for pairs in (EDGE_LIBRARY, EDGE_EDGE, LIBRARY_LIBRARY):
        assert len(pairs) == 22
    assert EDGE_LIBRARY[0] == ("Pelvis", "hips_JNT")
    assert EDGE_LIBRARY[4] == ("Left_foot", "l_toebase_JNT")
    assert EDGE_LIBRARY[9] == ("Spine1", "spine_JNT")
    assert EDGE_LIBRARY[15] == ("Left_elbow", "l_arm_JNT")
    assert EDGE_LIBRARY[21] == ("Right_palm", "r_hand_JNT")
    assert all(a == b for a, b in EDGE_EDGE) and all(a == b for a, b in LIBRARY_LIBRARY)
    assert [b for _, b in EDGE_LIBRARY] == [a for a, _ in LIBRARY_LIBRARY]
    assert "Left_collar" not in {a for a, _ in EDGE_EDGE}


# --- formula ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "expected"),
    [(0, 0.622459), (30, 0.582570), (90, 0.5), (120, 0.458430), (180, 0.377541), (None, 0.458430)],
)
def test_speed_table(t, expected):
    assert speed(t) == pytest.approx(expected, abs=1e-6)


def test_speed_is_float32_like_the_validator():
    # 1 / (1 + exp(-0.5)) = 0.6224593312018546 in float64; the validator's float32 tensor gives this:
    assert speed(0) == float(np.float32(0.622459352016449))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 1.0), (500.0, 0.8875), (1000.0, 0.775), (2000.0, 0.55), (4000.0001, 0.1), (1e9, 0.1)],
)
def test_correctness_table(value, expected):
    assert correctness(value) == pytest.approx(expected, abs=1e-12)


def test_correctness_at_exactly_4000_is_float_arithmetic():
    assert correctness(4000.0) == 0.09999999999999998


def test_reward_weights():
    assert reward(1.0, 0.622459352016449) == pytest.approx(0.7 + 0.3 * 0.622459352016449, abs=1e-15)
    assert reward(0.1, speed(180)) == pytest.approx(0.1833, abs=1e-4)  # lowest for a valid answer
    assert reward(1.0, speed(0)) == pytest.approx(0.8867, abs=1e-4)  # highest
    assert reward(float("nan"), 0.5) == 0.0  # the validator turns a NaN reward into 0


# --- rmse on hand-built files ---------------------------------------------------------------------------


def _bvh(
    names: list[str], root_positions: list[tuple[float, float, float]], child_offset=(0.0, 10.0, 0.0)
) -> str:
    """Root with 3 position channels and a chain of zero-rotation children, one per extra name."""
    lines = ["HIERARCHY", f"ROOT {names[0]}", "{", "OFFSET 0 0 0", "CHANNELS 3 Xposition Yposition Zposition"]
    for name in names[1:]:
        lines += [
            f"JOINT {name}",
            "{",
            "OFFSET " + " ".join(f"{v:f}" for v in child_offset),
            "CHANNELS 3 Zrotation Yrotation Xrotation",
        ]
    lines += ["End Site", "{", "OFFSET 0 1 0", "}"] + ["}"] * len(names)
    lines += ["MOTION", f"Frames: {len(root_positions)}", "Frame Time: 0.033333"]
    zeros = " 0 0 0" * (len(names) - 1)
    lines += [" ".join(f"{v:f}" for v in p) + zeros for p in root_positions]
    return "\n".join(lines) + "\n"


def test_rmse_hand_computed():
    pred = read_bvh(_bvh(["A", "B"], [(3, 4, 0), (0, 0, 0)]))
    ref = read_bvh(_bvh(["A", "B"], [(0, 0, 0), (0, 0, 6)]))
    # Both joints move rigidly: per frame ‖d‖/√3 = 5/√3 then 6/√3; mean per joint, summed over 2 joints.
    expected = 2 * (5 / math.sqrt(3) + 6 / math.sqrt(3)) / 2
    assert rmse(pred, ref, [("A", "A"), ("B", "B")]) == pytest.approx(expected, rel=1e-12)


def test_rmse_uses_only_common_frames():
    pred = read_bvh(_bvh(["A"], [(3, 4, 0)]))
    ref = read_bvh(_bvh(["A"], [(0, 0, 0), (100, 100, 100), (50, 0, 0)]))
    assert rmse(pred, ref, [("A", "A")]) == pytest.approx(5 / math.sqrt(3), rel=1e-12)
    assert score(pred, ref, 0.0, [("A", "A")])["frames"] == 1


def test_missing_joint_reuses_previous_position_at_last_frame():
    # The answer lacks "B": it keeps A's position at the last compared frame, (0, 0, 6), for all frames.
    pred = read_bvh(_bvh(["A"], [(0, 0, 0), (0, 0, 0), (0, 0, 6)]))
    ref = read_bvh(_bvh(["A", "B"], [(0, 0, 0), (0, 0, 0), (0, 0, 6)]))
    # A matches exactly; B: ref (0,10,0), (0,10,0), (0,10,6) vs (0,0,6): ‖(0,10,−6)‖ twice, then 10.
    expected = (2 * math.sqrt(136) + 10) / math.sqrt(3) / 3
    assert rmse(pred, ref, [("A", "A"), ("B", "B")]) == pytest.approx(expected, rel=1e-12)
    assert missing_joints(pred, ref, [("A", "A"), ("B", "B")]) == ["answer:B"]
    with pytest.raises(BVHError, match="no joint 'B'"):
        rmse(pred, ref, [("A", "A"), ("B", "B")], strict=True)


def test_missing_first_joint_is_the_origin():
    pred = read_bvh(_bvh(["X"], [(3, 4, 0)]))
    ref = read_bvh(_bvh(["A"], [(3, 4, 0)]))
    assert rmse(pred, ref, [("A", "A")]) == pytest.approx(5 / math.sqrt(3), rel=1e-12)


def test_repeated_name_uses_the_last_joint():
    pred = read_bvh(_bvh(["A", "B", "B"], [(0, 0, 0)]))  # second B is 20 cm up
    ref = read_bvh(_bvh(["A", "B"], [(0, 0, 0)]))
    assert rmse(pred, ref, [("B", "B")]) == pytest.approx(10 / math.sqrt(3), rel=1e-12)


def test_frame_rate_is_not_checked():
    pred_text = _bvh(["A"], [(3, 4, 0)]).replace("Frame Time: 0.033333", "Frame Time: 0.5")
    ref = read_bvh(_bvh(["A"], [(0, 0, 0)]))
    assert rmse(read_bvh(pred_text), ref, [("A", "A")]) == pytest.approx(5 / math.sqrt(3), rel=1e-12)


def test_unknown_joint_map_name():
    data = read_bvh(_bvh(["A"], [(0, 0, 0)]))
    with pytest.raises(BVHError, match="unknown joint map 'edge'"):
        rmse(data, data, "edge")


# --- rig detection -----------------------------------------------------------------------------------


def test_joint_map_follows_the_rigs_of_the_two_files(tmp_path):
    export = read_bvh(write_bvh(random_smooth_motion(5, 1), tmp_path / "a.bvh"))
    library = read_bvh(_bvh(list(_library_names()), [(0, 0, 0)] * 5))
    assert detect_rig(export) == "edge" and detect_rig(library) == "library"
    assert detect_joint_map(export, export) == "edge_edge"
    assert detect_joint_map(export, library) == "edge_library"
    assert detect_joint_map(library, library) == "library_library"
    auto = score(export, library, 10.0, "auto")
    assert auto == score(export, library, 10.0, "edge_library") and auto["joint_map"] == "edge_library"
    assert auto["missing_joints"] == []
    with pytest.raises(BVHError, match="uses the library rig and .* the edge rig: no validator joint map"):
        detect_joint_map(library, export)
    other = read_bvh(_bvh(["Hips", "Spine"], [(0, 0, 0)]))
    assert detect_rig(other) is None
    with pytest.raises(BVHError, match="the reference's joints are neither the smpl2bvh names"):
        score(export, other, joint_map="auto")


def test_two_a2a_exports_score_zero_with_the_automatic_map(tmp_path):
    ref = write_bvh(random_smooth_motion(5, 1), tmp_path / "ref.bvh")
    result = score_files(ref, ref, time=30.0, joint_map="auto")
    assert result["rmse"] == 0.0 and result["missing_joints"] == [] and result["joint_map"] == "edge_edge"


def _library_names() -> tuple[str, ...]:
    return tuple(b for _, b in EDGE_LIBRARY)


# --- score_files ---------------------------------------------------------------------------------------


def test_score_files(tmp_path):
    ref = write_bvh(random_smooth_motion(5, 1), tmp_path / "ref.bvh")
    same = score_files(ref, ref, time=30.0, joint_map="edge_edge")
    assert same["rmse"] == 0.0 and same["correctness"] == 1.0 and same["frames"] == 5
    assert same["reward"] == pytest.approx(0.7 + 0.3 * 0.582570, abs=1e-6)
    assert same["missing_joints"] == []
    # Default map is edge_library: the SMPL reference lacks every library name (quirk 1, no error).
    lib = score_files(ref, ref)
    assert len(lib["missing_joints"]) == 22 and lib["speed"] == pytest.approx(0.458430, abs=1e-6)
    empty = tmp_path / "empty.bvh"
    empty.write_text("")
    assert score_files(empty, ref)["reward"] == 0.0
    assert score_files("", ref)["reward"] == 0.0
    text = score_files(ref.read_text(), ref, joint_map="edge_edge")
    assert text["rmse"] == 0.0


def test_nan_answer_scores_zero():
    pred = read_bvh(_bvh(["A"], [(float("nan"), 0, 0)]))
    ref = read_bvh(_bvh(["A"], [(0, 0, 0)]))
    result = score(pred, ref, 10.0, [("A", "A")])
    assert math.isnan(result["rmse"]) and result["reward"] == 0.0


# --- agreement with the validator's own bvhio loop -------------------------------------------------------

_LIBRARY_NAME = dict(EDGE_LIBRARY)


def _as_library_rig(text: str) -> str:
    """The same file with the SMPL joint names replaced by the library's (collars keep their names)."""
    lines = []
    for line in text.splitlines():
        head, _, name = line.rpartition(" ")
        if head.strip() in ("ROOT", "JOINT") and name in _LIBRARY_NAME:
            line = f"{head} {_LIBRARY_NAME[name]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("case", "map_name"),
    [
        ("plain", "edge_edge"),
        ("rotated_reference", "edge_edge"),
        ("library", "edge_library"),
        ("library_both", "library_library"),
        ("missing_joints", "edge_edge"),
        ("different_lengths", "edge_edge"),
    ],
)
def test_rmse_matches_validator_loop(tmp_path, case, map_name):
    pred_motion = random_smooth_motion(8, 100 + len(case), 0.8, 1.0)
    ref_motion = random_smooth_motion(10 if case == "different_lengths" else 8, 200 + len(case), 0.8, 1.0)
    pred_text = motion_to_bvh(pred_motion)
    transform = ExportTransform(rotation=(-90.0, 120.0, 0.0)) if case == "rotated_reference" else None
    ref_text = motion_to_bvh(ref_motion, transform)
    if case in ("library", "library_both"):
        ref_text = _as_library_rig(ref_text)
    if case == "library_both":
        pred_text = _as_library_rig(pred_text)
    if case == "missing_joints":
        pred_text = pred_text.replace("JOINT Left_knee", "JOINT LeftKnee").replace("ROOT Pelvis", "ROOT Hips")
        ref_text = ref_text.replace("JOINT Neck", "JOINT neck")
    pred_path, ref_path = tmp_path / "pred.bvh", tmp_path / "ref.bvh"
    pred_path.write_text(pred_text)
    ref_path.write_text(ref_text)
    expected = validator_compute_rmse(pred_path, ref_path, JOINT_MAPS[map_name])
    got = score_files(pred_path, ref_path, joint_map=map_name)["rmse"]
    assert got == pytest.approx(expected, rel=1e-5)
    assert expected > 100  # a real difference, not two identical files
