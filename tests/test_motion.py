"""Skeleton, forward kinematics and the Motion container."""

import pickle

import numpy as np
import pytest
import torch

from a2a.errors import A2AError, MotionFormatError
from a2a.motion import SMPL24, Motion, Skeleton, fk_axis_angle, forward_kinematics, smpl_skeleton
from a2a.motion.rotations import axis_angle_to_matrix
from a2a.motion.skeleton import SMPL_MALE_PELVIS_REST


def _chain() -> Skeleton:
    return Skeleton(("a", "b", "c"), (-1, 0, 1), np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0]], dtype=float))


def test_fk_hand_computed_chain():
    # Root turned 90° about z, joint b another 90° about z; root translated to (0, 0, 5).
    rz90 = np.array([0.0, 0.0, np.pi / 2])
    poses = np.stack([rz90, rz90, np.zeros(3)])[None]
    pos = fk_axis_angle(poses, np.array([[0.0, 0.0, 5.0]]), _chain())[0]
    # b = R0·(1,0,0) = (0,1,0); c = b + R0R1·(1,0,0) = (0,1,0) + (−1,0,0).
    np.testing.assert_allclose(pos, [[0, 0, 5], [0, 1, 5], [-1, 1, 5]], atol=1e-12)


def test_fk_world_rotations_compose():
    rng = np.random.default_rng(0)
    rots = axis_angle_to_matrix(rng.normal(size=(3, 3)))
    _, world = forward_kinematics(rots, np.zeros(3), _chain(), return_rotations=True)
    np.testing.assert_allclose(world[2], rots[0] @ rots[1] @ rots[2], atol=1e-12)


def test_fk_root_offset_is_added_to_translation():
    sk = _chain().with_root_offset((0.5, 0.0, 0.0))
    pos = fk_axis_angle(np.zeros((1, 3, 3)), np.array([[1.0, 2.0, 3.0]]), sk)
    np.testing.assert_allclose(pos[0, 0], [1.5, 2.0, 3.0])


def test_smpl_rest_pose_joints_are_cumulative_offsets():
    pos = Motion(np.zeros((1, 24, 3)), np.zeros((1, 3))).joints()[0]
    # Left ankle = hip + knee + ankle offsets (EDGE's SMPL male rest offsets).
    expected = SMPL24.offsets[1] + SMPL24.offsets[4] + SMPL24.offsets[7]
    np.testing.assert_allclose(pos[7], expected, atol=1e-12)
    np.testing.assert_allclose(pos[7], [0.08724245, -0.89562407, -0.04705508], atol=1e-7)
    assert SMPL24.names[7] == "Left_ankle" and SMPL24.names[23] == "Right_palm"


def test_fk_torch_batched_and_differentiable():
    poses = (0.3 * torch.randn(2, 5, 24, 3, dtype=torch.float64)).requires_grad_()
    trans = torch.zeros(2, 5, 3, dtype=torch.float64)
    pos = fk_axis_angle(poses, trans, SMPL24)
    assert pos.shape == (2, 5, 24, 3)
    pos.square().sum().backward()
    assert torch.isfinite(poses.grad).all() and poses.grad.abs().sum() > 0
    np.testing.assert_allclose(
        pos.detach().numpy(), fk_axis_angle(poses.detach().numpy(), trans.numpy(), SMPL24), atol=1e-12
    )


def test_fk_rejects_wrong_shapes():
    with pytest.raises(A2AError, match=r"\[\.\.\., 24, 3\]"):
        fk_axis_angle(np.zeros((4, 23, 3)), np.zeros((4, 3)), SMPL24)
    with pytest.raises(A2AError, match="root translation"):
        fk_axis_angle(np.zeros((4, 24, 3)), np.zeros((5, 3)), SMPL24)


def test_skeleton_validation():
    with pytest.raises(A2AError, match="parents must precede"):
        Skeleton(("a", "b"), (-1, 1), np.zeros((2, 3)))
    with pytest.raises(A2AError, match="one parent and one 3-d offset"):
        Skeleton(("a", "b"), (-1, 0), np.zeros((3, 3)))
    with pytest.raises(A2AError, match="unknown joint 'Tail'"):
        SMPL24.index("Tail")


def test_smpl_skeleton_builtin_and_logging(caplog):
    with caplog.at_level("INFO"):
        sk = smpl_skeleton(root_at_pelvis_rest=True)
    assert "built-in offsets" in caplog.text
    np.testing.assert_allclose(sk.offsets[0], SMPL_MALE_PELVIS_REST)
    with pytest.raises(A2AError, match="model_path"):
        smpl_skeleton(gender="female")
    with pytest.raises(A2AError, match="does not exist"):
        smpl_skeleton(model_path="/nonexistent/smpl")


def _random_motion(n=20, fps=60.0, seed=0) -> Motion:
    rng = np.random.default_rng(seed)
    return Motion(0.3 * rng.normal(size=(n, 24, 3)), rng.normal(size=(n, 3)), fps)


def test_aistpp_pkl_round_trip_divides_scaling(tmp_path):
    m = _random_motion()
    path = m.to_aistpp_pkl(tmp_path / "seq.pkl", scaling=90.0)
    with open(path, "rb") as f:
        raw = pickle.load(f)
    assert raw["smpl_poses"].shape == (20, 72) and raw["smpl_scaling"].shape == (1,)
    np.testing.assert_allclose(raw["smpl_trans"], m.trans * 90.0)
    back = Motion.from_aistpp_pkl(path)
    np.testing.assert_allclose(back.poses, m.poses)
    np.testing.assert_allclose(back.trans, m.trans)
    assert back.fps == 60.0


def test_npz_round_trip_and_load_by_extension(tmp_path):
    m = _random_motion(fps=30.0)
    back = Motion.load(m.to_npz(tmp_path / "m.npz"))
    np.testing.assert_allclose(back.poses, m.poses)
    assert back.fps == 30.0
    with pytest.raises(MotionFormatError, match="unknown motion format '.txt'"):
        Motion.load((tmp_path / "m.txt").touch() or tmp_path / "m.txt")


def test_resample_60_to_30_keeps_every_second_frame():
    m = _random_motion(n=11)
    r = m.resample(30)
    assert r.num_frames == 6 and r.fps == 30
    np.testing.assert_array_equal(r.poses, m.poses[::2])


def test_resample_non_integer_ratio_interpolates():
    # A constant-speed rotation about x and a linear translation resample exactly.
    n = 31
    poses = np.zeros((n, 24, 3))
    poses[:, 0, 0] = np.linspace(0, 1.5, n)
    trans = np.stack([np.linspace(0, 3, n)] * 3, axis=1)
    r = Motion(poses, trans, 30.0).resample(20.0)
    assert r.num_frames == 21
    np.testing.assert_allclose(r.poses[:, 0, 0], np.linspace(0, 1.5, 21), atol=1e-9)
    np.testing.assert_allclose(r.trans[:, 0], np.linspace(0, 3, 21), atol=1e-9)


def test_slicing_and_duration():
    m = _random_motion(n=120, fps=60.0)
    assert m.duration == 2.0
    part = m.slice_seconds(0.5, 1.0)
    assert part.num_frames == 30
    np.testing.assert_array_equal(part.poses, m.poses[30:60])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x80\x04\x95 truncated", "not a readable motion pickle"),
        (pickle.dumps({"smpl_trans": np.zeros((3, 3))}), "missing field\\(s\\) smpl_poses"),
        (
            pickle.dumps({"smpl_poses": np.zeros((3, 70)), "smpl_trans": np.zeros((3, 3))}),
            "'smpl_poses' must have shape",
        ),
        (
            pickle.dumps({"smpl_poses": np.zeros((3, 72)), "smpl_trans": np.zeros((4, 3))}),
            "has 3 frames but 'smpl_trans' has 4",
        ),
        (
            pickle.dumps({"smpl_poses": np.full((3, 72), np.nan), "smpl_trans": np.zeros((3, 3))}),
            "field 'smpl_poses' has 216 NaN",
        ),
        (
            pickle.dumps(
                {"smpl_poses": np.zeros((3, 72)), "smpl_trans": np.zeros((3, 3)), "smpl_scaling": [0.0]}
            ),
            "'smpl_scaling' must be one positive number",
        ),
        (pickle.dumps([1, 2, 3]), "expected a dict"),
        (pickle.dumps({"smpl_poses": np.zeros((0, 72)), "smpl_trans": np.zeros((0, 3))}), "zero frames"),
    ],
)
def test_bad_pkl_names_file_and_field(tmp_path, content, message):
    path = tmp_path / "bad.pkl"
    path.write_bytes(content)
    with pytest.raises(MotionFormatError, match=message) as err:
        Motion.from_aistpp_pkl(path)
    assert str(path) in str(err.value)


def test_pickle_with_foreign_classes_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"smpl_poses": Evil()}))
    with pytest.raises(MotionFormatError, match="refusing to load builtins.print"):
        Motion.from_aistpp_pkl(path)


def test_motion_constructor_validates():
    with pytest.raises(MotionFormatError, match="poses must have shape"):
        Motion(np.zeros((3, 23, 3)), np.zeros((3, 3)))
    with pytest.raises(MotionFormatError, match="fps must be a positive number"):
        Motion(np.zeros((3, 24, 3)), np.zeros((3, 3)), fps=0)
    with pytest.raises(MotionFormatError, match="'trans' has 1 NaN"):
        Motion(np.zeros((3, 24, 3)), np.array([[0, 0, np.nan], [0, 0, 0], [0, 0, 0]]))


# --- rigs beyond SMPL-24 -----------------------------------------------------------------------------


def _arm_rig() -> Skeleton:
    """A four-joint chain: root, spine, arm, hand (metres)."""
    offsets = np.array([[0.0, 0.5, 0.0], [0.0, 0.3, 0.0], [0.25, 0.0, 0.0], [0.2, 0.0, 0.0]])
    return Skeleton(("root", "spine", "arm", "hand"), (-1, 0, 1, 2), offsets)


def _rig_motion(frames: int = 6, fps: float = 20.0) -> Motion:
    rng = np.random.default_rng(3)
    return Motion(rng.normal(0, 0.4, (frames, 4, 3)), rng.normal(0, 0.2, (frames, 3)), fps, _arm_rig())


def test_motion_keeps_its_rig_through_fk_slicing_and_resampling():
    motion = _rig_motion(7)
    # Hand-computed FK for the first frame: root at trans + offset, each joint parent + R_parent · offset.
    rot = axis_angle_to_matrix(motion.poses[0])
    root = motion.trans[0] + [0.0, 0.5, 0.0]
    spine = root + rot[0] @ [0.0, 0.3, 0.0]
    arm = spine + rot[0] @ rot[1] @ [0.25, 0.0, 0.0]
    hand = arm + rot[0] @ rot[1] @ rot[2] @ [0.2, 0.0, 0.0]
    np.testing.assert_allclose(motion.joints()[0], [root, spine, arm, hand], atol=1e-12)
    assert motion[2:5].skeleton is motion.skeleton and motion[2:5].poses.shape == (3, 4, 3)
    assert motion.resample(10.0).skeleton is motion.skeleton  # every 2nd frame
    half = motion.resample(30.0)  # slerp
    assert half.skeleton is motion.skeleton and half.poses.shape[1] == 4
    np.testing.assert_allclose(half.joints()[::3], motion.joints()[::2], atol=1e-9)


def test_rig_motion_validates_pose_shape_against_its_rig():
    with pytest.raises(
        MotionFormatError, match=r"poses must have shape \[N, 4, 3\] or \[N, 12\] for a 4-joint"
    ):
        Motion(np.zeros((2, 24, 3)), np.zeros((2, 3)), 20.0, _arm_rig())
    flat = Motion(np.zeros((2, 12)), np.zeros((2, 3)), 20.0, _arm_rig())
    assert flat.poses.shape == (2, 4, 3)
    with pytest.raises(MotionFormatError, match="skeleton must be a Skeleton"):
        Motion(np.zeros((2, 24, 3)), np.zeros((2, 3)), 20.0, "smpl")


def test_npz_carries_the_rig_as_plain_arrays(tmp_path):
    motion = _rig_motion()
    path = motion.to_npz(tmp_path / "rig.npz")
    with np.load(path, allow_pickle=False) as data:
        assert list(data["joint_names"]) == ["root", "spine", "arm", "hand"]
        assert data["parents"].tolist() == [-1, 0, 1, 2]
        np.testing.assert_array_equal(data["offsets"], motion.skeleton.offsets)
    back = Motion.load(path)
    assert back.skeleton == motion.skeleton and back.fps == 20.0
    np.testing.assert_array_equal(back.poses, motion.poses)
    # SMPL-24 files stay as they were: no rig fields, and they load as SMPL-24.
    smpl = Motion(np.zeros((2, 24, 3)), np.zeros((2, 3)), 30.0).to_npz(tmp_path / "smpl.npz")
    with np.load(smpl) as data:
        assert set(data.files) == {"poses", "trans", "fps"}
    assert Motion.load(smpl).skeleton is SMPL24


def test_npz_with_half_a_rig_is_refused(tmp_path):
    np.savez(tmp_path / "bad.npz", poses=np.zeros((2, 4, 3)), trans=np.zeros((2, 3)), parents=[-1, 0, 1, 2])
    with pytest.raises(MotionFormatError, match="has parents but lacks joint_names, offsets of its rig"):
        Motion.load(tmp_path / "bad.npz")


def test_aistpp_pickle_refuses_another_rig(tmp_path):
    with pytest.raises(MotionFormatError, match="4-joint rig"):
        _rig_motion().to_aistpp_pkl(tmp_path / "x.pkl")


def test_skeleton_equality_compares_names_parents_and_offsets():
    assert _arm_rig() == _arm_rig() and hash(_arm_rig()) == hash(_arm_rig())
    assert _arm_rig() != _arm_rig().with_root_offset((0.0, 0.0, 0.0))
    assert Skeleton(SMPL24.names, SMPL24.parents, SMPL24.offsets.copy()) == SMPL24
