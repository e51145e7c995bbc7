"""BVH writer and reader: golden test against the reference miner chain (smpl2bvh + bvhio), agreement of
the reader with bvhio on a2a files and hand-made CMU-style fixtures, layout details and error messages."""

from __future__ import annotations

import sys
from pathlib import Path

import bvhio
import numpy as np
import pytest

from a2a.errors import A2AError, BVHError
from a2a.motion import SMPL24, Motion
from a2a.motion.bvh import ExportTransform, motion_to_bvh, read_bvh, write_bvh
from a2a.motion.rotations import axis_angle_to_matrix

# The helper sits next to this file; put its folder on the path whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))
from reference_chain import (
    bvhio_world_positions,
    edge_zup,
    random_smooth_motion,
    reference_miner_bvh,
    smpl2bvh_text,
)

FIXTURES = Path(__file__).parent / "fixtures"
SMPL2BVH_ORDER = [
    "Pelvis",
    "Left_hip",
    "Left_knee",
    "Left_ankle",
    "Left_foot",
    "Right_hip",
    "Right_knee",
    "Right_ankle",
    "Right_foot",
    "Spine1",
    "Spine2",
    "Spine3",
    "Neck",
    "Head",
    "Left_collar",
    "Left_shoulder",
    "Left_elbow",
    "Left_wrist",
    "Left_palm",
    "Right_collar",
    "Right_shoulder",
    "Right_elbow",
    "Right_wrist",
    "Right_palm",
]


def _assert_close_to_bvhio(ours: np.ndarray, theirs: np.ndarray, rel: float = 1e-6) -> None:
    """bvhio computes in float32: compare relative to the largest coordinate in the clip."""
    scale = np.abs(theirs).max()
    assert np.abs(ours - theirs).max() <= rel * scale, np.abs(ours - theirs).max() / scale


# --- golden test: native writer vs the reference miner chain ------------------------------------------


@pytest.mark.parametrize(
    ("seed", "rotation_amplitude", "translation_amplitude"),
    [(0, 0.6, 1.0), (1, 1.2, 2.5), (2, 0.2, 0.1)],
)
def test_world_positions_match_reference_chain(tmp_path, seed, rotation_amplitude, translation_amplitude):
    motion = random_smooth_motion(12, seed, rotation_amplitude, translation_amplitude)
    reference = reference_miner_bvh(motion, tmp_path)
    ours = write_bvh(motion, tmp_path / "ours.bvh")
    expected = bvhio_world_positions(reference, SMPL24.names)
    got = bvhio_world_positions(ours, SMPL24.names)
    assert np.abs(got - expected).max() <= 1e-3  # cm
    # And in closed form: the chain puts joints at (-40, -95, 40) + 100 · Y-up FK (root offset 0).
    closed_form = np.array([-40.0, -95.0, 40.0]) + 100.0 * motion.joints(SMPL24)
    assert np.abs(got - closed_form).max() <= 1e-3


def test_non_default_transform_matches_reference_chain(tmp_path):
    motion = random_smooth_motion(10, 5, 0.8, 1.0)
    transform = ExportTransform(rotation=(-70.0, 30.0, 15.0), position=(10.0, 20.0, -30.0), scale=1.7)
    reference = reference_miner_bvh(motion, tmp_path, transform.rotation, transform.position, transform.scale)
    ours = write_bvh(motion, tmp_path / "ours.bvh", transform)
    expected = bvhio_world_positions(reference, SMPL24.names)
    assert np.abs(bvhio_world_positions(ours, SMPL24.names) - expected).max() <= 1e-3


def test_zero_rotation_is_nan_in_smpl2bvh_but_not_in_a2a():
    motion = Motion(np.zeros((3, 24, 3)), np.zeros((3, 3)), 30.0)
    poses, trans = edge_zup(motion)
    assert "nan" in smpl2bvh_text(poses, trans)
    text = motion_to_bvh(motion)
    assert "nan" not in text
    world = read_bvh(text).world_positions()
    rest = np.array([-40.0, -95.0, 40.0]) + 100.0 * motion.joints(SMPL24)
    np.testing.assert_allclose(world, rest[:, [SMPL24.index(n) for n in SMPL2BVH_ORDER]], atol=1e-5)


# --- writer layout ---------------------------------------------------------------------------------------


def test_layout_follows_smpl2bvh():
    motion = random_smooth_motion(4, 11)
    text = motion_to_bvh(motion)
    lines = text.splitlines()
    assert lines[:5] == [
        "HIERARCHY",
        "ROOT Pelvis",
        "{",
        "\tOFFSET -40.000000 -95.000000 40.000000",
        "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation",
    ]
    assert "\t\tCHANNELS 3 Zrotation Yrotation Xrotation" in lines
    assert "\t\tOFFSET 5.858135 -8.228004 -1.766408" in lines  # Left_hip, cm, Y-up
    assert lines.count("MOTION") == 1
    assert "Frames: 4" in lines and "Frame Time: 0.033333" in lines
    assert "\n\n" not in text  # bvhio 1.3.8 (the validator's pin) crashes on blank lines
    data = read_bvh(text)
    assert list(data.names) == SMPL2BVH_ORDER
    assert data.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation")
    assert len(data.end_sites) == 5  # head, two feet, two palms
    assert all(np.array_equal(offset, np.zeros(3)) for _, offset in data.end_sites)
    assert data.num_frames == 4 and data.fps == pytest.approx(30.0, rel=1e-4)


def test_round_trip_rotations_and_translation():
    motion = random_smooth_motion(6, 12, rotation_amplitude=1.0, translation_amplitude=2.0)
    data = read_bvh(motion_to_bvh(motion))
    order = [SMPL24.index(n) for n in data.names]
    # %f degrees → about 1e-8 rad; the default transform leaves a2a's Y-up rotations unchanged.
    np.testing.assert_allclose(data.local_rotations, axis_angle_to_matrix(motion.poses)[:, order], atol=1e-7)
    np.testing.assert_allclose(
        data.local_positions[:, 0], [-40.0, -95.0, 40.0] + 100.0 * motion.trans, atol=1e-6
    )
    np.testing.assert_allclose(data.local_positions[0, 1:], 100.0 * SMPL24.offsets[order[1:]], atol=1e-6)


def test_other_frame_rates_are_resampled_to_30():
    motion = random_smooth_motion(10, 13, fps=60.0)
    data = read_bvh(motion_to_bvh(motion))
    assert data.num_frames == 5
    expected = motion.resample(30.0)
    np.testing.assert_allclose(
        data.local_positions[:, 0], [-40.0, -95.0, 40.0] + 100.0 * expected.trans, atol=1e-6
    )


def test_write_bvh_creates_folders(tmp_path):
    path = write_bvh(random_smooth_motion(3, 14), tmp_path / "a" / "b" / "out.bvh")
    assert path.is_file() and read_bvh(path).num_frames == 3
    assert not list(path.parent.glob("*.tmp"))


def test_export_transform_from_dict():
    assert ExportTransform.from_dict(None) == ExportTransform()
    t = ExportTransform.from_dict({"rotation": [-90, 0, 10], "scale": 2})
    assert t.rotation == (-90.0, 0.0, 10.0) and t.position == (-40.0, -95.0, 40.0) and t.scale == 2.0
    np.testing.assert_allclose(ExportTransform().frame_rotation(), np.eye(3), atol=1e-15)
    with pytest.raises(A2AError, match="unknown key.*rotaton"):
        ExportTransform.from_dict({"rotaton": [0, 0, 0]})
    with pytest.raises(A2AError, match=r"export.transform.position must be three"):
        ExportTransform.from_dict({"position": [1, 2]})
    with pytest.raises(A2AError, match="scale must be a positive"):
        ExportTransform(scale=0)


def test_export_transform_from_hydra_config():
    from omegaconf import OmegaConf

    config = OmegaConf.create({"export": {"transform": {"rotation": [-90, 0, 0], "position": [0, 0, 0]}}})
    assert ExportTransform.from_dict(config.export.transform).position == (0.0, 0.0, 0.0)


def test_empty_motion_is_refused():
    with pytest.raises(BVHError, match="zero frames"):
        motion_to_bvh(Motion(np.zeros((0, 24, 3)), np.zeros((0, 3)), 30.0))


def test_euler_matrix_matches_spatial_transform():
    import glm
    from SpatialTransform import Euler

    degrees = (-70.0, 30.0, 15.0)
    q = Euler.toQuatFrom(glm.radians(glm.vec3(degrees)), "ZXY", True)
    glm_matrix = np.array(glm.mat3_cast(q).to_list()).T  # glm is column-major
    np.testing.assert_allclose(ExportTransform(rotation=degrees).euler_matrix(), glm_matrix, atol=1e-6)


# --- reader vs bvhio -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cmu_style.bvh", "root_offset_only.bvh"])
def test_reader_matches_bvhio_on_fixtures(name):
    path = FIXTURES / name
    data = read_bvh(path)
    _assert_close_to_bvhio(data.world_positions(), bvhio_world_positions(path, data.names))


def test_reader_matches_bvhio_on_a2a_file(tmp_path):
    path = write_bvh(random_smooth_motion(8, 21, 1.0, 2.0), tmp_path / "m.bvh")
    data = read_bvh(path)
    _assert_close_to_bvhio(data.world_positions(), bvhio_world_positions(path, data.names))


def test_cmu_fixture_structure():
    data = read_bvh(FIXTURES / "cmu_style.bvh")
    assert data.names[:4] == ("Hips", "LHipJoint", "LeftUpLeg", "LeftLeg")
    assert data.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 8)
    assert data.channels[1] == () and data.channels[9] == ("Yrotation", "Xrotation")
    assert data.frame_time == pytest.approx(0.0083333) and data.num_frames == 9
    assert data.local_rotations.shape == (9, 11, 3, 3) and data.local_positions.shape == (9, 11, 3)
    raw = (FIXTURES / "cmu_style.bvh").read_text().split("Frame Time: .0083333")[1].split()
    first = np.array(raw[:6], dtype=float)
    # Root: position channels replace the OFFSET (1.5, 2, -0.5); rotation Z·Y·X in file order.
    np.testing.assert_allclose(data.local_positions[0, 0], first[:3])
    rz, ry, rx = np.radians(first[3:6])
    c, s = np.cos, np.sin
    expected = (
        np.array([[c(rz), -s(rz), 0], [s(rz), c(rz), 0], [0, 0, 1]])
        @ np.array([[c(ry), 0, s(ry)], [0, 1, 0], [-s(ry), 0, c(ry)]])
        @ np.array([[1, 0, 0], [0, c(rx), -s(rx)], [0, s(rx), c(rx)]])
    )
    np.testing.assert_allclose(data.local_rotations[0, 0], expected, atol=1e-12)
    # Spine has only Yposition: x and z keep the OFFSET.
    np.testing.assert_allclose(data.local_positions[:, 8, [0, 2]], np.broadcast_to([0.0575, -0.0378], (9, 2)))


def test_reader_tolerates_blank_lines_and_case():
    text = (FIXTURES / "root_offset_only.bvh").read_text().replace("MOTION\n", "\nMOTION\n\n")
    text = text.replace("Xrotation", "XROTATION", 1)
    data = read_bvh(text)
    assert data.channels[0] == ("Yrotation", "Xrotation", "Zrotation")
    _assert_close_to_bvhio(
        data.world_positions(), bvhio_world_positions(FIXTURES / "root_offset_only.bvh", data.names)
    )


# --- errors -------------------------------------------------------------------------------------------

GOOD = """HIERARCHY
ROOT A
{
  OFFSET 7 8 9
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT B
  {
    OFFSET 0 1 0
    CHANNELS 3 Zrotation Yrotation Xrotation
    End Site
    {
      OFFSET 0 1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.033333
1 2 3 10 20 30 1 2 3
4 5 6 40 50 60 4 5 6
"""


def test_good_text_parses_to_hand_computed_positions():
    data = read_bvh(GOOD)
    world = data.world_positions()
    np.testing.assert_allclose(data.offsets[0], [7, 8, 9])
    np.testing.assert_allclose(world[:, 0], [[1, 2, 3], [4, 5, 6]])  # the channels replace the OFFSET
    # B = root position + R_root @ (0, 1, 0)
    np.testing.assert_allclose(world[:, 1], world[:, 0] + data.local_rotations[:, 0, :, 1])


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        (GOOD.replace("HIERARCHY\n", ""), "line 1: missing HIERARCHY"),
        (GOOD.split("MOTION")[0], "missing MOTION section"),
        (
            GOOD.replace("4 5 6 40 50 60 4 5 6", "4 5 6 40 50 60 4 5"),
            r"line 20: frame 1 has 8 values .* 9 channels",
        ),
        (GOOD.replace("1 2 3 10 20", "1 2 x3 10 20"), r"line 19: frame line has a non-numeric value 'x3'"),
        (
            GOOD.replace("OFFSET 0 1 0\n    CH", "OFFSET 0 one 0\n    CH"),
            "line 8: OFFSET of joint 'B' has a non-numeric",
        ),
        (GOOD.replace("Frames: 2", "Frames: 0"), "line 17: the file has zero frames"),
        (GOOD.replace("Frames: 2", "Frames: 3"), "Frames: 3` declared but only 2 frame lines"),
        (GOOD.replace("Frames: 2", "Frames: 1"), "line 20: more frame lines than"),
        (
            GOOD.replace("3 Zrotation Yrotation", "3 Zrotation Wrotation"),
            "line 9: joint 'B' has unknown channel 'Wrotation'",
        ),
        (GOOD.replace("CHANNELS 3 Z", "CHANNELS 4 Z"), "line 9: joint 'B' declares 4 channels but lists 3"),
        (
            GOOD.replace("  }\n}\nMOTION", "}\nMOTION"),
            r"line 15: unbalanced braces: joint 'A' \(line 2\) is not closed",
        ),
        (GOOD.replace("}\nMOTION", "}\n}\nMOTION"), "line 16: unbalanced braces: '}' after the ROOT"),
        (GOOD.replace("Frame Time: 0.033333", "Frame Tme: 0.03"), "line 18: expected `Frame Time"),
        ("", "empty file"),
    ],
)
def test_errors_name_the_line_or_joint(text, pattern):
    with pytest.raises(BVHError, match=pattern):
        read_bvh(text if text else "\n")


def test_missing_file(tmp_path):
    with pytest.raises(BVHError, match="no such file"):
        read_bvh(tmp_path / "nope.bvh")


def test_bvhio_reads_world_positions_the_same_way_as_documented(tmp_path):
    """bvhio: position channels *replace* the OFFSET (root and non-root alike), rotations compose in
    channel order; this is what read_bvh reproduces."""
    path = tmp_path / "good.bvh"
    path.write_text(GOOD)
    root = bvhio.readAsHierarchy(str(path))
    root.loadPose(1)
    assert tuple(root.PositionWorld) == pytest.approx((4.0, 5.0, 6.0), abs=1e-5)
