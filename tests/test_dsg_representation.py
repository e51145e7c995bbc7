"""DiffuseStyleGesture's 1141-d features: channel-for-channel agreement with a quaternion re-statement of
the original ``preprocess_animation``, the exact inverse, differentiable FK, stitching and the normaliser."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from a2a.errors import MotionFormatError
from a2a.motion import SMPL24, Motion, Skeleton
from a2a.motion.dsg import DSGRepresentation, dsg_dim
from a2a.motion.normalizer import ZScoreNormalizer
from a2a.motion.rigs import ZEGGS75
from a2a.motion.rotations import axis_angle_to_matrix, euler_to_axis_angle

# --- the original's algorithm, restated on (w, x, y, z) quaternions --------------------------------------


def _qmul(a, b):
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def _qinv(q):
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _qrot(q, v):
    v = np.broadcast_to(v, q.shape[:-1] + (3,))
    t = 2.0 * np.cross(q[..., 1:], v)
    return v + q[..., :1] * t + np.cross(q[..., 1:], t)


def _qaxis(angle, axis):
    out = np.zeros(angle.shape + (4,))
    out[..., 0] = np.cos(angle / 2)
    out[..., 1 + axis] = np.sin(angle / 2)
    return out


def _helical(q):
    """2·log(q) after making w ≥ 0: the rotation vector."""
    q = np.where(q[..., :1] < 0, -q, q)
    length = np.linalg.norm(q[..., 1:], axis=-1, keepdims=True)
    half = np.where(length < 1e-12, 1.0, np.arctan2(length, q[..., :1]) / np.maximum(length, 1e-300))
    return 2.0 * half * q[..., 1:]


def _first_frame(v):
    v[0] = v[1] - (v[3] - v[2])
    return v


def reference_features(euler_zyx_deg, root_cm, offsets_cm, parents, names, dt):
    """ZEGGS/DSG ``preprocess_animation`` on BVH-like inputs: Euler ``zyx`` degrees ``[N, J, 3]`` (z, y, x),
    root position ``[N, 3]`` and OFFSETs ``[J, 3]`` in cm."""
    n, j = euler_zyx_deg.shape[:2]
    e = np.radians(euler_zyx_deg)
    lrot = _qmul(_qaxis(e[..., 0], 2), _qmul(_qaxis(e[..., 1], 1), _qaxis(e[..., 2], 0)))
    lpos = np.broadcast_to(offsets_cm, (n, j, 3)).copy()
    lpos[:, 0] = root_cm
    grot, gpos = [lrot[:, 0]], [lpos[:, 0]]
    for k in range(1, j):
        p = parents[k]
        gpos.append(_qrot(grot[p], lpos[:, k]) + gpos[p])
        grot.append(_qmul(grot[p], lrot[:, k]))
    grot, gpos = np.stack(grot, 1), np.stack(gpos, 1)
    root_pos = gpos[:, names.index("Spine2")] * np.array([1, 0, 1])
    fwd = _qrot(grot[:, names.index("Hips")], np.array([0.0, 0.0, 1.0]))
    fwd[:, 1] = 0
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    z = np.array([0.0, 0.0, 1.0])
    between = np.concatenate([1.0 + (fwd * z).sum(-1, keepdims=True), np.cross(z, fwd)], axis=-1)
    root_rot = between / np.linalg.norm(between, axis=-1, keepdims=True)
    look = _qrot(grot[:, names.index("Head")], z)
    look[:, 1] = 0
    look /= np.linalg.norm(look, axis=-1, keepdims=True)
    gaze_pos = np.median(root_pos + 100 * look, axis=0)
    gaze_dir = _qrot(_qinv(root_rot), gaze_pos - root_pos)
    lrot[:, 0] = _qmul(_qinv(root_rot), lrot[:, 0])
    lpos[:, 0] = _qrot(_qinv(root_rot), lpos[:, 0] - root_pos)
    lvel = np.zeros_like(lpos)
    lvel[1:] = (lpos[1:] - lpos[:-1]) / dt
    lvrt = np.zeros_like(lpos)
    lvrt[1:] = _helical(_qmul(lrot[1:], _qinv(lrot[:-1]))) / dt
    root_vrt = np.zeros_like(root_pos)
    root_vrt[1:] = _helical(_qmul(root_rot[1:], _qinv(root_rot[:-1]))) / dt
    root_vrt = _first_frame(root_vrt)
    root_vrt[1:] = _qrot(_qinv(root_rot[:-1]), root_vrt[1:])
    root_vrt[0] = _qrot(_qinv(root_rot[0]), root_vrt[0])
    root_vel = np.zeros_like(root_pos)
    root_vel[1:] = (root_pos[1:] - root_pos[:-1]) / dt
    root_vel = _first_frame(root_vel)
    root_vel[1:] = _qrot(_qinv(root_rot[:-1]), root_vel[1:])
    root_vel[0] = _qrot(_qinv(root_rot[0]), root_vel[0])
    ltxy = np.stack([_qrot(lrot, np.array([1.0, 0, 0])), _qrot(lrot, np.array([0, 1.0, 0]))], axis=-2)
    return np.concatenate(
        [
            root_pos,
            root_rot,
            root_vel,
            root_vrt,
            lpos.reshape(n, -1),
            ltxy.reshape(n, -1),
            _first_frame(lvel).reshape(n, -1),
            _first_frame(lvrt).reshape(n, -1),
            gaze_dir,
        ],
        axis=1,
    )


def _bvh_like(frames: int = 30, seed: int = 0, turn: float = 2.5):
    """Smooth random Euler ``zyx`` angles (deg), a root walking and turning through ``turn`` rad of
    heading (past ±180°), and the stand-in ZEGGS offsets (cm)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 20.0
    euler = 25.0 * np.sin(2 * np.pi * rng.uniform(0.2, 1.5, (1, 75, 3)) * t + rng.uniform(0, 6, (1, 75, 3)))
    heading = np.degrees(2.0 + turn * t[:, 0, 0] / t[-1, 0, 0])
    euler[:, 0, 1] = heading  # yaw of the hips (the y channel of zyx)
    root = np.stack([30 * np.sin(t[:, 0, 0]), 94 + 2 * np.cos(3 * t[:, 0, 0]), 40 * t[:, 0, 0]], axis=-1)
    return euler, root, ZEGGS75.offsets * 100.0


def _motion_from(euler, root_cm, offsets_cm, fps=20.0) -> Motion:
    rig = Skeleton(ZEGGS75.names, ZEGGS75.parents, offsets_cm / 100.0)
    poses = euler_to_axis_angle(np.radians(euler), "ZYX")
    return Motion(poses, root_cm / 100.0 - rig.offsets[0], fps, rig)


def test_dimensions_follow_the_rig():
    rep = DSGRepresentation()
    assert rep.dim == 1141 == dsg_dim(75)
    assert dsg_dim(23) == 361  # DSG issue #11: 23 bones
    channels = rep.channels()
    assert channels["gaze"] == slice(1138, 1141) and channels["local_rotations"] == slice(238, 688)
    assert sum(s.stop - s.start for s in channels.values()) == 1141


def test_encode_matches_the_original_algorithm_channel_for_channel():
    euler, root, offsets = _bvh_like(30, seed=1)
    motion = _motion_from(euler, root, offsets)
    ours = DSGRepresentation().encode_arrays(motion)
    theirs = reference_features(euler, root, offsets, ZEGGS75.parents, list(ZEGGS75.names), 1 / 20)
    assert ours.shape == theirs.shape == (30, 1141)
    rep = DSGRepresentation()
    for name, cols in rep.channels().items():
        np.testing.assert_allclose(ours[:, cols], theirs[:, cols], atol=1e-8, err_msg=name)


def test_encode_decode_reproduces_rotations_and_positions():
    euler, root, offsets = _bvh_like(40, seed=2)
    motion = _motion_from(euler, root, offsets)
    rep = DSGRepresentation()
    x = rep.encode(motion)
    assert x.dtype == np.float32 and x.shape == (40, 1141)
    back = rep.decode_motion(x, fps=20.0)
    assert back.skeleton.names == ZEGGS75.names and back.fps == 20.0
    np.testing.assert_allclose(
        axis_angle_to_matrix(back.poses), axis_angle_to_matrix(motion.poses), atol=1e-6
    )
    np.testing.assert_allclose(back.joints(), motion.joints(), atol=1e-6)  # metres
    np.testing.assert_allclose(back.skeleton.offsets[1:], motion.skeleton.offsets[1:], atol=1e-7)
    # In float64 the inverse is exact to rounding.
    exact = rep.decode_motion(rep.encode_arrays(motion))
    np.testing.assert_allclose(exact.joints(), motion.joints(), atol=1e-12)


def test_decode_orthogonalises_perturbed_6d():
    euler, root, offsets = _bvh_like(12, seed=3)
    rep = DSGRepresentation()
    x = rep.encode_arrays(_motion_from(euler, root, offsets))
    noisy = x.copy()
    noisy[:, rep.local_rotations] *= 1.7  # scaled axes: Gram–Schmidt must normalise them
    rot = axis_angle_to_matrix(rep.decode_motion(noisy).poses)
    np.testing.assert_allclose(
        rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-9
    )
    np.testing.assert_allclose(rep.decode_motion(noisy).joints(), rep.decode_motion(x).joints(), atol=1e-9)


def test_joint_positions_is_differentiable_fk_in_metres():
    euler, root, offsets = _bvh_like(6, seed=4)
    motion = _motion_from(euler, root, offsets)
    rep = DSGRepresentation()
    x = torch.tensor(rep.encode_arrays(motion)[None].repeat(2, 0), requires_grad=True)
    joints = rep.joint_positions(x)
    assert joints.shape == (2, 6, 75, 3)
    np.testing.assert_allclose(joints[0].detach().numpy(), motion.joints(), atol=1e-10)
    joints[..., ZEGGS75.index("RightHand"), 1].sum().backward()
    grad = x.grad[0]
    assert grad[:, rep.local_rotations].abs().sum() > 0 and grad[:, rep.root_position].abs().sum() > 0
    assert grad[:, rep.local_velocities].abs().sum() == 0  # the inverse ignores velocities


def test_stitch_space_round_trip_and_blend_endpoints():
    rep = DSGRepresentation()
    a_motion = _motion_from(*_bvh_like(10, seed=5))
    b_motion = _motion_from(*_bvh_like(10, seed=6))
    a = rep.stitch_space(torch.tensor(rep.encode_arrays(a_motion)))
    b = rep.stitch_space(torch.tensor(rep.encode_arrays(b_motion)))
    assert a.shape == (10, 3 + 4 * 75 + 3 * 74)
    np.testing.assert_allclose(rep.motion_from_stitch(a, 20.0).joints(), a_motion.joints(), atol=1e-9)
    w = torch.linspace(0, 1, 10, dtype=torch.float64)
    mixed = rep.blend(a, b, w)
    np.testing.assert_allclose(mixed[0].numpy(), a[0].numpy(), atol=1e-12)
    np.testing.assert_allclose(mixed[-1].numpy(), b[-1].numpy(), atol=1e-12)
    halfway = rep.blend(a[:1], b[:1], torch.tensor([0.5], dtype=torch.float64))
    np.testing.assert_allclose(halfway[0, :3].numpy(), (a[0, :3] + b[0, :3]).numpy() / 2, atol=1e-12)
    quats = halfway[0, 3 : 3 + 300].reshape(75, 4)
    np.testing.assert_allclose(quats.norm(dim=-1).numpy(), 1.0, atol=1e-12)


def test_normalizer_is_dsg_zscore_with_the_std_floor():
    norm = DSGRepresentation().make_normalizer()
    assert isinstance(norm, ZScoreNormalizer) and norm.std_floor == 0.01
    norm.fit(np.array([[1.0, 5.0], [1.0, 7.0]]))
    np.testing.assert_allclose(norm.std.numpy(), [0.01, 1.0])


def test_short_clips_have_defined_velocities():
    euler, root, offsets = _bvh_like(3, seed=7)
    rep = DSGRepresentation()
    x = rep.encode_arrays(_motion_from(euler, root, offsets))
    np.testing.assert_array_equal(x[0, rep.local_velocities], x[1, rep.local_velocities])
    single = rep.encode_arrays(_motion_from(euler[:1], root[:1], offsets))
    assert np.all(single[:, rep.local_velocities] == 0) and np.isfinite(single).all()


def test_config_rebuilds_and_wrong_rig_is_refused():
    rep = DSGRepresentation()
    config = rep.config()
    assert config["name"] == "dsg" and config["rig"] == "zeggs75" and config["dim"] == 1141
    rebuilt = DSGRepresentation(**{k: v for k, v in config.items() if k not in ("name", "dim")})
    assert rebuilt.dim == 1141
    custom = DSGRepresentation(rig={"names": list(ZEGGS75.names), "parents": list(ZEGGS75.parents)})
    assert custom.config()["rig"]["names"][0] == "Hips"
    with pytest.raises(MotionFormatError, match="motion is on another rig \\(24 joints, first Pelvis"):
        rep.encode(Motion(np.zeros((4, 24, 3)), np.zeros((4, 3)), 20.0, SMPL24))
    with pytest.raises(MotionFormatError, match="root_joint 'Chest' is not a joint of the rig"):
        DSGRepresentation(root_joint="Chest")
    with pytest.raises(MotionFormatError, match=r"shape \[\.\.\., N, 1141\]"):
        rep.decode_motion(np.zeros((4, 151)))
