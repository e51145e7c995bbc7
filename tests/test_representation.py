"""EDGE 151-d representation: layout, Y-up → Z-up mapping, contacts, round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2a.errors import MotionFormatError
from a2a.motion import SMPL24, Motion
from a2a.motion.representation import (
    CONTACTS,
    ROOT,
    ROTATIONS,
    EdgeRepresentation,
    foot_contacts,
)
from a2a.motion.rotations import axis_angle_to_matrix, matrix_to_rotation_6d
from a2a.motion.skeleton import SMPL_FOOT_JOINTS

REP = EdgeRepresentation()


def random_motion(rng: np.random.Generator, frames: int = 20, fps: float = 30.0) -> Motion:
    poses = rng.normal(scale=0.8, size=(frames, 24, 3))
    trans = rng.normal(size=(frames, 3))
    return Motion(poses, trans, fps)


def test_channel_slices_cover_151() -> None:
    assert REP.dim == 151
    assert (CONTACTS.start, CONTACTS.stop, ROOT.start, ROOT.stop, ROTATIONS.start, ROTATIONS.stop) == (
        0,
        4,
        4,
        7,
        7,
        151,
    )
    assert REP.foot_joints == SMPL_FOOT_JOINTS == (7, 8, 10, 11)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_round_trip_random_motions(seed: int) -> None:
    motion = random_motion(np.random.default_rng(seed))
    x = REP.encode(motion)
    assert x.shape == (20, 151) and x.dtype == np.float32
    back = REP.decode_motion(x, fps=motion.fps)
    np.testing.assert_allclose(
        axis_angle_to_matrix(back.poses), axis_angle_to_matrix(motion.poses), atol=2e-5
    )
    np.testing.assert_allclose(back.trans, motion.trans, atol=1e-6)
    np.testing.assert_allclose(back.joints(SMPL24), motion.joints(SMPL24), atol=5e-5)
    assert back.fps == motion.fps


def test_zup_mapping_of_known_pose() -> None:
    # Rest pose turned 90° about the (Y-up) vertical axis, root at (1, 2, 3).
    poses = np.zeros((2, 24, 3))
    poses[:, 0] = [0.0, np.pi / 2, 0.0]
    trans = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    x = REP.encode(Motion(poses, trans, 30.0))
    np.testing.assert_allclose(x[0, ROOT], [1.0, -3.0, 2.0], atol=1e-6)  # (x, y, z) -> (x, -z, y)
    # R_x(90) @ R_y(90): rows [0, 0, 1], [1, 0, 0], [0, 1, 0] (= R_z(90) @ R_x(90): a turn about Z-up).
    np.testing.assert_allclose(x[0, 7:13], [0, 0, 1, 1, 0, 0], atol=1e-6)
    identity_6d = np.tile([1.0, 0, 0, 0, 1.0, 0], 23)
    np.testing.assert_allclose(x[0, 13:151], identity_6d, atol=1e-7)
    # Z-up FK: the head is above the pelvis along +Z by the Y-up rest height.
    joints = REP.joint_positions(torch.from_numpy(x).double())
    head_height_y_up = Motion(np.zeros((1, 24, 3)), np.zeros((1, 3))).joints()[0, 15, 1]
    assert joints[0, 15, 2] - joints[0, 0, 2] == pytest.approx(head_height_y_up, abs=1e-6)


def test_rotation_channels_equal_matrix_to_rotation_6d() -> None:
    motion = random_motion(np.random.default_rng(5), frames=4)
    x = REP.encode(motion)
    expected = matrix_to_rotation_6d(axis_angle_to_matrix(motion.poses[:, 1:])).reshape(4, -1)
    np.testing.assert_allclose(x[:, 13:151], expected, atol=1e-6)


def test_contacts_standing_foot_vs_moving_foot() -> None:
    frames = 6
    poses = np.zeros((frames, 24, 3))
    poses[:, 2, 0] = 0.1 * np.arange(frames)  # right hip swings 0.1 rad per frame: right foot moves ~8 cm
    x = REP.encode(Motion(poses, np.zeros((frames, 3)), 30.0))
    contacts = x[:, CONTACTS]
    np.testing.assert_array_equal(contacts[:, [0, 2]], 1.0)  # left ankle and toe stand still
    np.testing.assert_array_equal(contacts[:-1, [1, 3]], 0.0)  # right ankle and toe move
    np.testing.assert_array_equal(contacts[-1], 1.0)  # the last frame is always contact


def test_contact_threshold_is_a_speed() -> None:
    joints = np.zeros((3, 24, 3))
    joints[:, :, 0] = 0.006 * np.arange(3)[:, None]  # 6 mm per frame
    assert foot_contacts(joints, fps=30.0)[:-1].min() == 1.0  # 0.18 m/s < 0.3 m/s
    assert foot_contacts(joints, fps=60.0)[:-1].max() == 0.0  # 0.36 m/s > 0.3 m/s
    joints[:, :, 0] = 0.011 * np.arange(3)[:, None]
    assert foot_contacts(joints, fps=30.0)[:-1].max() == 0.0


def test_torch_decode_is_batched_and_differentiable() -> None:
    rng = np.random.default_rng(3)
    x = torch.from_numpy(np.stack([REP.encode(random_motion(rng, 5)) for _ in range(2)])).double()
    x.requires_grad_(True)
    poses, trans = REP.decode(x)
    assert poses.shape == (2, 5, 24, 3) and trans.shape == (2, 5, 3)
    root, rot = REP.root_and_rotations(x)
    assert root.shape == (2, 5, 3) and rot.shape == (2, 5, 24, 3, 3)
    REP.joint_positions(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad[..., ROTATIONS].abs().sum() > 0


def test_bad_shapes_raise() -> None:
    with pytest.raises(MotionFormatError, match="151"):
        REP.decode(np.zeros((4, 150)))
    with pytest.raises(MotionFormatError, match="one clip"):
        REP.decode_motion(np.zeros((2, 4, 151)))
