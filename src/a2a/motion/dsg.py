"""DiffuseStyleGesture's per-frame features (1141 channels on the 75-joint ZEGGS rig), with their inverse.

The features are those of ZeroEGGS' ``preprocess_animation`` as DSG uses it (``process_zeggs_bvh.py``):
a *character root* on the floor under the chest, facing where the hips face, and every joint in the
frame of its parent. Channel layout for a rig of ``J`` joints (``D = 16 + 15·J``; 1141 for ZEGGS):

| channels | content |
|---|---|
| 0:3 | root position: world position of ``Spine2`` with y set to 0 |
| 3:7 | root rotation quaternion (w, x, y, z): the heading, a rotation about +Y taking +Z to the hips' |
|  | forward (their local +Z projected on the floor); w ≥ 0 |
| 7:10 | root linear velocity, in the previous frame's root frame (per second) |
| 10:13 | root angular velocity (rotation vector per second), previous root frame |
| 13:13+3J | local positions: the root joint relative to the character root (in its frame), every other |
|  | joint its bone offset (constant) |
| 13+3J:13+9J | local rotations in 6D: the first two **columns** of each matrix (its x and y axes) |
| 13+9J:13+12J | local linear velocities (per second) |
| 13+12J:13+15J | local angular velocities: rotation vector of ``R_t · R_{t−1}ᵀ`` per second |
| 13+15J:16+15J | gaze: the median over the clip of (root + 100 cm · head forward on the floor), root frame |

Lengths are centimetres (ZEGGS files; ``units_per_metre``), so imported DSG statistics apply as they
are; :class:`~a2a.motion.Motion` and :meth:`joint_positions` are metres. The first frame's velocities are
extrapolated as the original does (``v[0] = v[1] − (v[3] − v[2])``); a clip of 2–3 frames repeats
``v[1]``, a single frame has zero velocities.

**Inverse** (as DSG's ``pose2bvh``): root position and rotation, local positions and the 6D rotations
(Gram–Schmidt on the two axes); velocities and gaze are not used. Bone offsets come from the features'
local positions (their mean over the clip; the original takes the first frame), so a decoded clip needs
no skeleton file. Departures from the original, none of which changes a feature of real data: the heading
is ``atan2`` of the forward vector, so a forward exactly along −Z gives a 180° turn instead of NaN; a
vertical forward gives heading 0 instead of NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from a2a.errors import MotionFormatError
from a2a.motion.kinematics import forward_kinematics_local
from a2a.motion.motion import Motion
from a2a.motion.normalizer import ZScoreNormalizer
from a2a.motion.representation import MotionRepresentation
from a2a.motion.rigs import RIGS, rig_by_name
from a2a.motion.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_slerp,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
)
from a2a.motion.skeleton import Skeleton

# DSG's normalisation: np.clip(std, 0.01, None).
DSG_STD_FLOOR = 0.01


def dsg_dim(num_joints: int) -> int:
    """Channels of the features of a ``num_joints`` rig: ``16 + 15·J`` (75 → 1141)."""
    return 16 + 15 * num_joints


def _gram_schmidt_columns(two_axes: torch.Tensor) -> torch.Tensor:
    """``[..., 2, 3]`` (x and y axes, not necessarily orthonormal) → rotation matrices ``[..., 3, 3]``
    with columns x̂, ŷ, ẑ: x̂ = x/|x|, ẑ = x × y normalised, ŷ = ẑ × x̂ (DSG's
    ``xform_orthogonalize_from_xy``)."""
    x = two_axes[..., 0, :]
    x_hat = x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    z = torch.linalg.cross(x_hat, two_axes[..., 1, :])
    z_hat = z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    y_hat = torch.linalg.cross(z_hat, x_hat)
    return torch.stack([x_hat, y_hat, z_hat], dim=-1)


def _yaw_matrices(heading: np.ndarray) -> np.ndarray:
    """Rotations ``[N, 3, 3]`` by ``heading [N]`` radians about +Y (+Z turns towards +X)."""
    c, s = np.cos(heading), np.sin(heading)
    out = np.zeros(heading.shape + (3, 3))
    out[..., 0, 0] = c
    out[..., 0, 2] = s
    out[..., 1, 1] = 1.0
    out[..., 2, 0] = -s
    out[..., 2, 2] = c
    return out


def _finite_difference(x: np.ndarray, dt: float) -> np.ndarray:
    """``v[t] = (x[t] − x[t−1]) / dt`` for ``t ≥ 1``; ``v[0]`` extrapolated as DSG does (see module)."""
    v = np.zeros_like(x)
    v[1:] = (x[1:] - x[:-1]) / dt
    return _extrapolate_first(v)


def _extrapolate_first(v: np.ndarray) -> np.ndarray:
    if len(v) >= 4:
        v[0] = v[1] - (v[3] - v[2])
    elif len(v) >= 2:
        v[0] = v[1]
    return v


def _angular_velocity(rotations: np.ndarray, dt: float) -> np.ndarray:
    """Rotation vector of ``R_t · R_{t−1}ᵀ`` per second ``[N, ..., 3]`` (DSG's helical velocity)."""
    v = np.zeros(rotations.shape[:-1])
    if len(rotations) > 1:
        delta = rotations[1:] @ np.swapaxes(rotations[:-1], -1, -2)
        v[1:] = matrix_to_axis_angle(delta) / dt
    return _extrapolate_first(v)


class DSGRepresentation(MotionRepresentation):
    """DiffuseStyleGesture's root-frame features of a rig (see the module docstring for the layout).

    Args:
        rig: the joint hierarchy (a name from :data:`a2a.motion.rigs.RIGS`, ``{"names", "parents"}``, or a
            :class:`~a2a.motion.skeleton.Skeleton`); only names and parents matter, bone offsets come from
            each motion (encode) or from the features (decode).
        root_joint: joint whose floor projection is the character root (DSG: ``Spine2``).
        heading_joint: joint whose local +Z, on the floor, is the facing direction (DSG: ``Hips``).
        gaze_joint: joint whose local +Z, on the floor, is the look direction (DSG: ``Head``).
        gaze_distance: distance of the gaze target in feature units (DSG: 100 cm).
        units_per_metre: feature length units per metre (100: centimetres, as ZEGGS).
    """

    def __init__(
        self,
        rig: str | dict | Skeleton = "zeggs75",
        root_joint: str = "Spine2",
        heading_joint: str = "Hips",
        gaze_joint: str = "Head",
        gaze_distance: float = 100.0,
        units_per_metre: float = 100.0,
    ) -> None:
        if isinstance(rig, dict):
            missing = [k for k in ("names", "parents") if k not in rig]
            if missing:
                raise MotionFormatError(f"DSG representation: rig mapping lacks {', '.join(missing)}")
            names = tuple(str(n) for n in rig["names"])
            rig = Skeleton(names, tuple(int(p) for p in rig["parents"]), np.zeros((len(names), 3)))
        self.rig = rig_by_name(rig)
        self.rig_name = next((k for k, v in RIGS.items() if v is self.rig), None)
        self.root_joint, self.heading_joint, self.gaze_joint = root_joint, heading_joint, gaze_joint
        self._root, self._heading, self._gaze = (
            self._joint(root_joint, "root_joint"),
            self._joint(heading_joint, "heading_joint"),
            self._joint(gaze_joint, "gaze_joint"),
        )
        if not (np.isfinite(gaze_distance) and gaze_distance > 0):
            raise MotionFormatError(
                f"DSG representation: gaze_distance must be positive, got {gaze_distance}"
            )
        if not (np.isfinite(units_per_metre) and units_per_metre > 0):
            raise MotionFormatError(
                f"DSG representation: units_per_metre must be positive, got {units_per_metre}"
            )
        self.gaze_distance = float(gaze_distance)
        self.units_per_metre = float(units_per_metre)
        j = self.rig.num_joints
        self.num_joints = j
        self.dim = dsg_dim(j)
        self.root_position = slice(0, 3)
        self.root_rotation = slice(3, 7)
        self.root_velocity = slice(7, 10)
        self.root_angular_velocity = slice(10, 13)
        self.local_positions = slice(13, 13 + 3 * j)
        self.local_rotations = slice(13 + 3 * j, 13 + 9 * j)
        self.local_velocities = slice(13 + 9 * j, 13 + 12 * j)
        self.local_angular_velocities = slice(13 + 12 * j, 13 + 15 * j)
        self.gaze = slice(13 + 15 * j, 16 + 15 * j)

    def _joint(self, name: str, option: str) -> int:
        if name not in self.rig.names:
            raise MotionFormatError(
                f"DSG representation: {option} {name!r} is not a joint of the rig "
                f"({', '.join(self.rig.names[:10])}, …)"
            )
        return self.rig.names.index(name)

    def config(self) -> dict[str, Any]:
        """Plain description for checkpoints (the rig by name when it is a named one)."""
        rig: str | dict = (
            self.rig_name
            if self.rig_name is not None
            else {"names": list(self.rig.names), "parents": list(self.rig.parents)}
        )
        return {
            "name": "dsg",
            "dim": self.dim,
            "rig": rig,
            "root_joint": self.root_joint,
            "heading_joint": self.heading_joint,
            "gaze_joint": self.gaze_joint,
            "gaze_distance": self.gaze_distance,
            "units_per_metre": self.units_per_metre,
        }

    def channels(self) -> dict[str, slice]:
        """Name → channel slice of every feature group."""
        keys = (
            "root_position",
            "root_rotation",
            "root_velocity",
            "root_angular_velocity",
            "local_positions",
            "local_rotations",
            "local_velocities",
            "local_angular_velocities",
            "gaze",
        )
        return {k: getattr(self, k) for k in keys}

    # --- encode -------------------------------------------------------------------------------------

    def encode(self, motion: Motion) -> np.ndarray:
        """Motion (Y-up metres, on this rig) → features ``[N, D]`` float32."""
        return self.encode_arrays(motion).astype(np.float32)

    def encode_arrays(self, motion: Motion) -> np.ndarray:
        """:meth:`encode` in float64 (for exactness checks)."""
        skeleton = motion.skeleton
        if skeleton.names != self.rig.names or skeleton.parents != self.rig.parents:
            rig = self.rig_name or f"{self.num_joints}-joint"
            raise MotionFormatError(
                f"DSG features of the {rig} rig: the motion is on another rig "
                f"({skeleton.num_joints} joints, first {', '.join(skeleton.names[:3])})"
            )
        n, scale, dt = motion.num_frames, self.units_per_metre, 1.0 / motion.fps
        if n == 0:
            raise MotionFormatError("DSG features: the motion has zero frames")
        rot = axis_angle_to_matrix(motion.poses)  # [N, J, 3, 3]
        lpos = np.broadcast_to(skeleton.offsets * scale, (n, self.num_joints, 3)).copy()
        lpos[:, 0] = (motion.trans + skeleton.offsets[0]) * scale
        world_pos, world_rot = forward_kinematics_local(rot, lpos, skeleton.parents, return_rotations=True)

        root_pos = world_pos[:, self._root] * np.array([1.0, 0.0, 1.0])
        forward = world_rot[:, self._heading, :, 2]  # local +Z in the world
        heading = np.arctan2(forward[:, 0], forward[:, 2])
        root_rot = np.zeros((n, 4))
        root_rot[:, 0], root_rot[:, 2] = np.cos(heading / 2), np.sin(heading / 2)
        root_mat = _yaw_matrices(heading)
        root_inv = np.swapaxes(root_mat, -1, -2)

        look = world_rot[:, self._gaze, :, 2] * np.array([1.0, 0.0, 1.0])
        look = look / np.maximum(np.linalg.norm(look, axis=-1, keepdims=True), 1e-12)
        gaze_pos = np.median(root_pos + self.gaze_distance * look, axis=0)
        gaze_dir = (root_inv @ (gaze_pos - root_pos)[..., None])[..., 0]

        rot[:, 0] = root_inv @ rot[:, 0]
        lpos[:, 0] = (root_inv @ (lpos[:, 0] - root_pos)[..., None])[..., 0]
        lvel = _finite_difference(lpos, dt)
        lvrt = _angular_velocity(rot, dt)
        # Root velocities are expressed in the previous frame's root frame (the first in its own).
        previous_inv = np.concatenate([root_inv[:1], root_inv[:-1]], axis=0)
        root_vel = (previous_inv @ _finite_difference(root_pos, dt)[..., None])[..., 0]
        root_vrt = (previous_inv @ _angular_velocity(root_mat, dt)[..., None])[..., 0]
        two_axes = np.swapaxes(rot[..., :, :2], -1, -2)  # [N, J, 2, 3]: the x and y columns
        return np.concatenate(
            [
                root_pos,
                root_rot,
                root_vel,
                root_vrt,
                lpos.reshape(n, -1),
                two_axes.reshape(n, -1),
                lvel.reshape(n, -1),
                lvrt.reshape(n, -1),
                gaze_dir,
            ],
            axis=-1,
        )

    # --- decode -------------------------------------------------------------------------------------

    def _check(self, x) -> None:
        if x.ndim < 2 or x.shape[-1] != self.dim:
            raise MotionFormatError(
                f"DSG features of a {self.num_joints}-joint rig must have shape [..., N, {self.dim}], "
                f"got {tuple(x.shape)}"
            )

    def pose(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``[..., N, D]`` (data units) → local rotations ``[..., N, J, 3, 3]`` with the root's in
        the world, and local positions ``[..., N, J, 3]`` (feature units) with the root's world position
        in entry 0. Differentiable; uses root position/rotation, local positions and 6D rotations only."""
        self._check(x)
        j = self.num_joints
        root_rot = quaternion_to_matrix(x[..., self.root_rotation])  # [..., N, 3, 3]
        rot = _gram_schmidt_columns(x[..., self.local_rotations].reshape(*x.shape[:-1], j, 2, 3))
        lpos = x[..., self.local_positions].reshape(*x.shape[:-1], j, 3)
        hips = (root_rot @ lpos[..., 0, :].unsqueeze(-1)).squeeze(-1) + x[..., self.root_position]
        rot = torch.cat([(root_rot @ rot[..., 0, :, :]).unsqueeze(-3), rot[..., 1:, :, :]], dim=-3)
        lpos = torch.cat([hips.unsqueeze(-2), lpos[..., 1:, :]], dim=-2)
        return rot, lpos

    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:
        """World joint positions ``[..., N, J, 3]`` in metres (Y-up), by forward kinematics of the decoded
        rotations with the features' own bone offsets (differentiable; for losses and metrics)."""
        rot, lpos = self.pose(x)
        return forward_kinematics_local(rot, lpos, self.rig.parents) / self.units_per_metre

    def decode_motion(self, x: torch.Tensor | np.ndarray, fps: float = 20.0) -> Motion:
        """One clip ``[N, D]`` (data units, not normalised) → :class:`Motion` on this rig (metres), its
        bone offsets the mean of the clip's local positions and its root offset zero."""
        if x.ndim != 2:
            raise MotionFormatError(f"decode_motion takes one clip [N, {self.dim}], got {tuple(x.shape)}")
        t = torch.as_tensor(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, np.float64))
        rot, lpos = self.pose(t)
        return self._motion(matrix_to_axis_angle(rot), lpos[:, 0], lpos[:, 1:], fps)

    def _motion(self, poses: torch.Tensor, root: torch.Tensor, bones: torch.Tensor, fps: float) -> Motion:
        """Motion from axis-angle ``[N, J, 3]``, root positions ``[N, 3]`` and bone offsets ``[N, J−1, 3]``
        (feature units)."""
        offsets = np.zeros((self.num_joints, 3))
        offsets[1:] = bones.detach().cpu().double().mean(dim=0).numpy() / self.units_per_metre
        skeleton = Skeleton(self.rig.names, self.rig.parents, offsets)
        trans = root.detach().cpu().double().numpy() / self.units_per_metre
        return Motion(poses.detach().cpu().double().numpy(), trans, fps, skeleton)

    # --- normaliser and long-form stitching ------------------------------------------------------------

    def make_normalizer(self) -> ZScoreNormalizer:
        """DSG's z-score with the std floored at 0.01."""
        return ZScoreNormalizer(std_floor=DSG_STD_FLOOR)

    def stitch_space(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., N, D]`` → root world position, ``J`` joint quaternions (w ≥ 0; the root's in the world)
        and ``J − 1`` bone offsets: ``[..., N, 3 + 4J + 3(J−1)]``, feature units."""
        rot, lpos = self.pose(x)
        quats = matrix_to_quaternion(rot)
        return torch.cat([lpos[..., 0, :], quats.flatten(-2), lpos[..., 1:, :].flatten(-2)], dim=-1)

    def blend(self, a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Cross-fade ``a, b [L, C]``: linear for the root and bone offsets, slerp per joint rotation."""
        j = self.num_joints
        quat = slice(3, 3 + 4 * j)
        lin = a * (1 - w[:, None]) + b * w[:, None]
        qa = a[:, quat].reshape(len(a), j, 4)
        qb = b[:, quat].reshape(len(b), j, 4)
        q = quaternion_slerp(qa, qb, w[:, None].expand(-1, j))
        return torch.cat([lin[:, :3], q.reshape(len(a), -1), lin[:, quat.stop :]], dim=-1)

    def align(self, reference: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
        """Move ``window [W, C]`` (stitch space) on the floor so that its first frame's root stands where
        ``reference [C]`` puts it (DSG's root re-alignment of a continued window); height, rotations and
        bone offsets are left alone."""
        moved = window.clone()
        floor = [0, 2]  # x and z: ZEGGS is y-up
        moved[:, floor] += reference[floor] - window[0, floor]
        return moved

    def motion_from_stitch(self, s: torch.Tensor, fps: float) -> Motion:
        """``[N, C]`` (stitch space) → :class:`Motion` on this rig."""
        j = self.num_joints
        poses = quaternion_to_axis_angle(s[:, 3 : 3 + 4 * j].reshape(len(s), j, 4))
        return self._motion(poses, s[:, :3], s[:, 3 + 4 * j :].reshape(len(s), j - 1, 3), fps)
