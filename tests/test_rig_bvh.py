"""BVH of motions on any rig (the ZEGGS rig and others): writer layout, round trips through the reader and
bvhio, the Motion built from a parsed file, and the errors."""

from __future__ import annotations

import bvhio
import numpy as np
import pytest
from PIL import Image

from a2a.cli import main
from a2a.errors import BVHError
from a2a.motion import SMPL24, Motion, Skeleton
from a2a.motion.bvh import bvh_to_motion, motion_to_bvh, motion_to_rig_bvh, read_bvh, write_rig_bvh
from a2a.motion.rigs import ZEGGS75, ZEGGS_JOINT_NAMES, ZEGGS_PARENTS, check_rig
from a2a.motion.rotations import axis_angle_to_matrix


def _zeggs_motion(frames: int = 8, fps: float = 60.0, seed: int = 0) -> Motion:
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / fps
    poses = 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 2.0, (1, 75, 3)) * t + rng.uniform(0, 6, (1, 75, 3)))
    trans = np.stack([0.2 * t[:, 0, 0], 0.94 + 0.01 * t[:, 0, 0], -0.1 * t[:, 0, 0]], axis=-1)
    return Motion(poses, trans, fps, ZEGGS75)


def test_zeggs_rig_matches_dsg_bone_list_and_parents():
    assert len(ZEGGS_JOINT_NAMES) == 75 and len(ZEGGS_PARENTS) == 75
    # Spot checks against DSG's pose2bvh parents: HeadEnd → Head, RightForeArmEnd → RightHand,
    # RightArmEnd → RightForeArm, LeftUpLegEnd → LeftLeg.
    pairs = {
        "HeadEnd": "Head",
        "RightShoulder": "Spine3",
        "RightHandThumb1": "RightHand",
        "RightForeArmEnd": "RightHand",
        "RightArmEnd": "RightForeArm",
        "LeftArmEnd": "LeftForeArm",
        "RightUpLeg": "Hips",
        "RightLegEnd": "RightFoot",
        "LeftUpLegEnd": "LeftLeg",
    }
    for child, parent in pairs.items():
        assert ZEGGS75.names[ZEGGS75.parents[ZEGGS75.index(child)]] == parent
    assert ZEGGS75.names[:9] == (
        "Hips",
        "Spine",
        "Spine1",
        "Spine2",
        "Spine3",
        "Neck",
        "Neck1",
        "Head",
        "HeadEnd",
    )


def test_rig_bvh_layout_is_zeggs_like():
    motion = _zeggs_motion(3)
    text = motion_to_rig_bvh(motion)
    lines = text.splitlines()
    assert lines[:5] == [
        "HIERARCHY",
        "ROOT Hips",
        "{",
        "\tOFFSET 0.000000 0.000000 0.000000",
        "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation",
    ]
    assert "\tJOINT Spine" in lines and "\t\tCHANNELS 3 Zrotation Yrotation Xrotation" in lines
    right_arm = lines.index(
        "\t\t\t\t\t\tJOINT RightArm"
    )  # Hips > Spine > Spine1 > Spine2 > Spine3 > RightShoulder
    assert lines[right_arm + 2] == "\t\t\t\t\t\t\tOFFSET -13.000000 0.000000 0.000000"  # stand-in offsets, cm
    assert "Frames: 3" in lines and "Frame Time: 0.016667" in lines
    assert "\n\n" not in text
    data = read_bvh(text)
    assert data.names == ZEGGS75.names and data.parents == ZEGGS75.parents
    leaves = [j for j in range(75) if not ZEGGS75.children(j)]
    assert [j for j, _ in data.end_sites] == leaves
    first_row = [float(v) for v in lines[lines.index("Frame Time: 0.016667") + 1].split()]
    assert len(first_row) == 6 + 3 * 74
    np.testing.assert_allclose(first_row[:3], (motion.trans[0] + ZEGGS75.offsets[0]) * 100, atol=1e-6)


@pytest.mark.parametrize("order", ["ZYX", "XYZ", "YXZ"])
def test_rig_bvh_round_trips_through_the_reader(order):
    motion = _zeggs_motion(10)
    back = bvh_to_motion(read_bvh(motion_to_rig_bvh(motion, order=order)), fps=60.0)
    assert back.skeleton.names == ZEGGS75.names and back.fps == 60.0
    # %f keeps 6 decimals of degrees and cm: rotations to ~1e-7, positions to ~1e-8 m.
    np.testing.assert_allclose(
        axis_angle_to_matrix(back.poses), axis_angle_to_matrix(motion.poses), atol=2e-7
    )
    np.testing.assert_allclose(back.skeleton.offsets, ZEGGS75.offsets, atol=1e-8)
    np.testing.assert_allclose(back.joints(), motion.joints(), atol=2e-6)


def test_rig_bvh_world_positions_agree_with_bvhio(tmp_path):
    motion = _zeggs_motion(5, seed=4)
    path = write_rig_bvh(motion, tmp_path / "take.bvh")
    root = bvhio.readAsHierarchy(str(path))
    names = list(ZEGGS75.names)
    got = np.zeros((5, 75, 3))
    for frame in range(5):
        root.loadPose(frame)
        for joint, _, _ in root.layout():
            got[frame, names.index(joint.Name)] = np.array(joint.PositionWorld)
    np.testing.assert_allclose(got / 100.0, motion.joints(), atol=1e-5)


def test_rig_bvh_root_offset_and_depth_first_order():
    # Joints given as root, left, right, left-tip: the file is depth first (root, left, left-tip, right).
    offsets = np.array([[0.1, 1.0, 0.0], [0.2, 0.0, 0.0], [-0.1, 0.0, 0.0], [0.3, 0.0, 0.0]])
    rig = Skeleton(("root", "left", "right", "tip"), (-1, 0, 0, 1), offsets)
    rng = np.random.default_rng(1)
    motion = Motion(rng.normal(0, 0.5, (4, 4, 3)), rng.normal(0, 0.3, (4, 3)), 20.0, rig)
    text = motion_to_rig_bvh(motion)
    assert "Frame Time: 0.050000" in text and "\tOFFSET 10.000000 100.000000 0.000000" in text
    back = bvh_to_motion(read_bvh(text))
    assert back.skeleton.names == ("root", "left", "tip", "right") and back.skeleton.parents == (-1, 0, 1, 0)
    order = [0, 1, 3, 2]
    np.testing.assert_allclose(back.skeleton.offsets, offsets[order], atol=1e-9)
    np.testing.assert_allclose(back.trans, motion.trans, atol=1e-8)
    np.testing.assert_allclose(back.joints(), motion.joints()[:, order], atol=1e-6)


def test_rig_bvh_resamples_to_the_asked_rate():
    motion = _zeggs_motion(7, fps=20.0)
    text = motion_to_rig_bvh(motion, fps=60.0)
    data = read_bvh(text)
    assert data.num_frames == 19 and "Frame Time: 0.016667" in text  # (7 − 1) · 3 + 1
    back = bvh_to_motion(data, fps=60.0)
    np.testing.assert_allclose(back.joints()[::3], motion.joints(), atol=2e-6)


def test_validator_writer_refuses_a_rig_motion():
    with pytest.raises(BVHError, match="75-joint rig .*write_rig_bvh"):
        motion_to_bvh(_zeggs_motion(2))
    assert motion_to_bvh(Motion(np.zeros((1, 24, 3)), np.zeros((1, 3)))).startswith("HIERARCHY")


def test_bvh_to_motion_refuses_animated_bone_translation():
    text = (
        "HIERARCHY\nROOT a\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation "
        "Xrotation\n JOINT b\n {\n  OFFSET 0 10 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation "
        "Yrotation Xrotation\n  End Site\n  {\n   OFFSET 0 1 0\n  }\n }\n}\n"
        "MOTION\nFrames: 2\nFrame Time: 0.05\n"
        "0 0 0 0 0 0 0 10 0 0 0 0\n0 0 0 0 0 0 0 12 0 0 0 0\n"
    )
    with pytest.raises(BVHError, match=r"<string>: joints b are animated in translation"):
        bvh_to_motion(read_bvh(text))
    constant = text.replace("0 12 0 0 0 0\n", "0 10 0 0 0 0\n")
    assert bvh_to_motion(read_bvh(constant)).skeleton.offsets[1].tolist() == [0.0, 0.1, 0.0]


def test_check_rig_names_the_file_and_the_joints():
    names, parents = list(ZEGGS75.names), list(ZEGGS75.parents)
    check_rig(tuple(names), tuple(parents), ZEGGS75, "take.bvh")  # the rig itself passes
    with pytest.raises(
        BVHError,
        match=r"take.bvh: joints do not match the 75-joint rig: missing HeadEnd; "
        r"unexpected Nose \(file has 75 joints\)",
    ):
        check_rig(tuple(n if n != "HeadEnd" else "Nose" for n in names), tuple(parents), ZEGGS75, "take.bvh")
    with pytest.raises(BVHError, match=r"missing LeftUpLegEnd \(file has 74 joints\)"):
        check_rig(tuple(names[:-1]), tuple(parents[:-1]), ZEGGS75, "take.bvh")
    reparented = list(parents)
    reparented[ZEGGS75.index("HeadEnd")] = ZEGGS75.index("Neck")
    with pytest.raises(BVHError, match="other parents for HeadEnd"):
        check_rig(tuple(names), tuple(reparented), ZEGGS75, "take.bvh")
    with pytest.raises(BVHError, match="24 joints"):
        check_rig(SMPL24.names, SMPL24.parents, ZEGGS75, "smpl.bvh")


def test_cli_exports_and_renders_a_rig_motion(tmp_path, capsys):
    motion = _zeggs_motion(12, fps=20.0)
    motion.to_npz(tmp_path / "gesture.npz")
    assert main(["export", str(tmp_path / "gesture.npz"), str(tmp_path / "gesture.bvh")]) == 0
    assert "12 frames at 20 fps, 75-joint rig" in capsys.readouterr().out
    back = bvh_to_motion(read_bvh(tmp_path / "gesture.bvh"))
    np.testing.assert_allclose(back.joints(), motion.joints(), atol=2e-6)
    out = tmp_path / "gesture.gif"
    assert (
        main(["render", str(tmp_path / "gesture.bvh"), str(out), "--fps", "10", "--max-seconds", "0.3"]) == 0
    )
    with Image.open(out) as gif:
        assert gif.n_frames == 3
