"""Motion representations: the contract every model family's features follow, and EDGE's 151-d one.

:class:`MotionRepresentation` is what the shared training and generation code sees: ``dim``,
``encode``/``decode_motion``, differentiable ``joint_positions`` for losses, the normaliser that belongs
to the features, and a *stitch space* in which the windows of a long sequence are cross-faded.

**EDGE's 151-d representation**: foot contacts, Z-up root translation, 24 local rotations in 6D.

Channel layout of one frame (``[..., N, 151]``):

| channels | content |
|---|---|
| 0..3 | binary foot contacts of joints 7 (left ankle), 8 (right ankle), 10 (left toe), 11 (right toe) |
| 4..6 | root translation in metres, **Z-up** |
| 7..150 | 24 local joint rotations as 6D (first two matrix rows), SMPL order; the root's is Z-up |

a2a's :class:`~a2a.motion.Motion` is Y-up (as AIST++); EDGE trains in Z-up. The change of frame is a
rotation of +90° about X: the root rotation is left-multiplied by ``R_x(90°)`` (EDGE's quaternion
``(0.7071068, 0.7071068, 0, 0)``) and the root position ``(x, y, z)`` becomes ``(x, −z, y)``. Joint
offsets stay as they are, so forward kinematics on decoded Z-up rotations gives Z-up joint positions.
``decode`` applies the exact inverse, so ``decode(encode(m))`` reproduces ``m`` (rotation matrices and
joint positions; the axis-angle vectors may differ by a 2π wrap).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch

from a2a.errors import MotionFormatError
from a2a.motion.kinematics import forward_kinematics
from a2a.motion.motion import Motion
from a2a.motion.normalizer import MinMaxNormalizer, Normalizer
from a2a.motion.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quaternion,
    matrix_to_axis_angle,
    matrix_to_rotation_6d,
    quaternion_slerp,
    quaternion_to_axis_angle,
    rotation_6d_to_matrix,
    standardize_quaternion,
)
from a2a.motion.skeleton import SMPL24, SMPL_FOOT_JOINTS, Skeleton

CONTACTS = slice(0, 4)
ROOT = slice(4, 7)
ROTATIONS = slice(7, 151)
EDGE_DIM = 151

# +90° about X, written exactly (cos = 0, sin = 1) so that the inverse is its transpose to the last bit.
# EDGE uses the rounded quaternion (0.7071068, 0.7071068, 0, 0), which differs by ~1e-8.
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])

# EDGE's threshold: a foot moving less than 1 cm between consecutive 30-fps frames is in contact.
CONTACT_SPEED = 0.01 * 30.0  # metres per second


def foot_contacts(
    joints: np.ndarray, fps: float, foot_joints: tuple[int, ...] = SMPL_FOOT_JOINTS
) -> np.ndarray:
    """Binary foot contacts ``[N, len(foot_joints)]`` from joint positions ``[N, J, 3]`` (metres).

    A foot is in contact at frame ``t`` when it moves less than 0.3 m/s to frame ``t + 1`` (1 cm per
    frame at 30 fps, EDGE's rule); the last frame has no successor and counts as contact.
    """
    feet = np.asarray(joints, dtype=np.float64)[:, list(foot_joints)]
    step = np.zeros(feet.shape[:2])
    step[:-1] = np.linalg.norm(feet[1:] - feet[:-1], axis=-1)
    threshold = CONTACT_SPEED / fps  # exactly 0.01 at 30 fps
    return (step < threshold).astype(np.float64)


class MotionRepresentation(ABC):
    """Per-frame motion features of one model family (``[..., N, dim]``).

    Subclasses set ``dim`` and implement the methods below; the training loop, the generator, the losses
    and the checkpoint code use nothing else.
    """

    dim: int
    #: its motions are SMPL-24, so the subnet-25 validator can score them (BVH export with SMPL names)
    validator_rig: bool = False

    @abstractmethod
    def config(self) -> dict:
        """Plain description for checkpoints."""

    @abstractmethod
    def encode(self, motion: Motion) -> np.ndarray:
        """Motion → features ``[N, dim]`` float32."""

    @abstractmethod
    def decode_motion(self, x: torch.Tensor | np.ndarray, fps: float = 30.0) -> Motion:
        """One clip ``[N, dim]`` (data units, not normalised) → :class:`Motion`."""

    @abstractmethod
    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:
        """Joint positions ``[..., N, J, 3]`` by forward kinematics (differentiable; for losses)."""

    @abstractmethod
    def make_normalizer(self) -> Normalizer:
        """A fresh (unfitted) normaliser of the kind these features are trained with."""

    @abstractmethod
    def stitch_space(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``[..., N, dim]`` (data units) → per-frame channels ``[..., N, C]`` in which
        overlapping windows are blended (:meth:`blend`) and from which :meth:`motion_from_stitch` builds
        the motion."""

    @abstractmethod
    def blend(self, a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Cross-fade ``a, b [L, C]`` (stitch space) with weights ``w [L]`` from 0 (all a) to 1 (all b)."""

    @abstractmethod
    def motion_from_stitch(self, s: torch.Tensor, fps: float) -> Motion:
        """Stitch-space channels ``[N, C]`` → :class:`Motion`."""

    def channel_mask(self, joints: tuple[str, ...] | None, root: bool) -> np.ndarray:
        """``[dim]`` bool: the channels that carry ``joints`` (``None``: all) and, with ``root``, the root's
        translation — what joint-wise editing keeps (:mod:`a2a.editing`)."""
        raise MotionFormatError(f"{type(self).__name__} does not support joint-wise editing")


class EdgeRepresentation(MotionRepresentation):
    """Encode a :class:`Motion` into EDGE's 151 channels and decode them back.

    Args:
        skeleton: SMPL-24 hierarchy for the forward kinematics behind the contacts and for
            :meth:`joint_positions` (EDGE's: root offset zero).
        foot_joints: joints whose contacts fill channels 0..3 (EDGE: ankles and toes, 7, 8, 10, 11).
    """

    dim: int = EDGE_DIM
    validator_rig: bool = True
    contacts: slice = CONTACTS
    root: slice = ROOT
    rotations: slice = ROTATIONS

    def __init__(self, skeleton: Skeleton = SMPL24, foot_joints: tuple[int, ...] = SMPL_FOOT_JOINTS) -> None:
        if skeleton.num_joints != 24:
            raise MotionFormatError(
                f"the EDGE representation needs a 24-joint SMPL skeleton, got {skeleton.num_joints} joints"
            )
        if len(foot_joints) != CONTACTS.stop - CONTACTS.start:
            raise MotionFormatError(
                f"the EDGE representation has 4 contact channels, got foot joints {foot_joints}"
            )
        self.skeleton = skeleton
        self.foot_joints = tuple(int(j) for j in foot_joints)

    def config(self) -> dict:
        """Plain description for checkpoints."""
        return {"name": "edge151", "dim": self.dim, "foot_joints": list(self.foot_joints)}

    # --- encode -------------------------------------------------------------------------------------

    def encode(self, motion: Motion) -> np.ndarray:
        """Motion (Y-up) → features ``[N, 151]`` float32."""
        return self.encode_arrays(motion.poses, motion.trans, motion.fps)

    def encode_arrays(self, poses: np.ndarray, trans: np.ndarray, fps: float) -> np.ndarray:
        """Axis-angle poses ``[N, 24, 3]`` and Y-up translation ``[N, 3]`` → ``[N, 151]`` float32."""
        poses = np.asarray(poses, dtype=np.float64)
        trans = np.asarray(trans, dtype=np.float64)
        if poses.ndim != 3 or poses.shape[1:] != (24, 3) or trans.shape != (len(poses), 3):
            raise MotionFormatError(
                f"encode expects poses [N, 24, 3] and trans [N, 3], got {poses.shape} and {trans.shape}"
            )
        local = axis_angle_to_matrix(poses)  # [N, 24, 3, 3]
        # Contacts come from Y-up FK: speeds do not depend on the frame.
        joints = forward_kinematics(local, trans, self.skeleton)
        contacts = foot_contacts(joints, fps, self.foot_joints)
        local = local.copy()
        local[:, 0] = Y_UP_TO_Z_UP @ local[:, 0]
        root = trans @ Y_UP_TO_Z_UP.T  # (x, y, z) -> (x, -z, y)
        rot6d = matrix_to_rotation_6d(local).reshape(len(poses), -1)
        return np.concatenate([contacts, root, rot6d], axis=-1).astype(np.float32)

    # --- decode -------------------------------------------------------------------------------------

    def _check(self, x) -> None:
        if x.shape[-1] != self.dim or x.ndim < 2:
            raise MotionFormatError(
                f"EDGE features must have shape [..., N, {self.dim}], got {tuple(x.shape)}"
            )

    def root_and_rotations(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``[..., N, 151]`` → Z-up root ``[..., N, 3]`` and local rotation matrices
        ``[..., N, 24, 3, 3]`` (the root's in the Z-up frame). Differentiable; what losses use."""
        self._check(x)
        root = x[..., ROOT]
        rot = rotation_6d_to_matrix(x[..., ROTATIONS].reshape(*x.shape[:-1], 24, 6))
        return root, rot

    def joint_positions(self, x: torch.Tensor) -> torch.Tensor:
        """Z-up joint positions ``[..., N, 24, 3]`` by forward kinematics (differentiable)."""
        root, rot = self.root_and_rotations(x)
        return forward_kinematics(rot, root, self.skeleton)

    def decode(
        self, x: torch.Tensor | np.ndarray
    ) -> tuple[torch.Tensor | np.ndarray, torch.Tensor | np.ndarray]:
        """Features ``[..., N, 151]`` → Y-up axis-angle poses ``[..., N, 24, 3]`` and translation
        ``[..., N, 3]``; numpy in, numpy (float64) out; torch in, torch out (differentiable)."""
        as_numpy = isinstance(x, np.ndarray)
        t = torch.from_numpy(np.asarray(x, dtype=np.float64)) if as_numpy else x
        root, rot = self.root_and_rotations(t)
        back = torch.as_tensor(Y_UP_TO_Z_UP.T, dtype=rot.dtype, device=rot.device)  # inverse = transpose
        rot = torch.cat([(back @ rot[..., :1, :, :]), rot[..., 1:, :, :]], dim=-3)
        trans = root @ back.T  # (x, y, z) -> (x, z, -y)
        poses = matrix_to_axis_angle(rot)
        if as_numpy:
            return poses.numpy(), trans.numpy()
        return poses, trans

    def decode_motion(self, x: torch.Tensor | np.ndarray, fps: float = 30.0) -> Motion:
        """One clip ``[N, 151]`` → :class:`Motion` (Y-up)."""
        if x.ndim != 2:
            raise MotionFormatError(f"decode_motion takes one clip [N, {self.dim}], got {tuple(x.shape)}")
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().double().numpy()
        poses, trans = self.decode(x)
        return Motion(poses, trans, fps)

    # --- normaliser and long-form stitching ------------------------------------------------------------

    def make_normalizer(self) -> MinMaxNormalizer:
        """EDGE's per-channel min–max to [−1, 1]."""
        return MinMaxNormalizer()

    def stitch_space(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., N, 151]`` → Y-up root translation and 24 joint quaternions ``[..., N, 3 + 96]``
        (standardised to w ≥ 0), where windows are blended linearly (root) and by slerp (rotations)."""
        poses, trans = self.decode(x)
        quats = standardize_quaternion(axis_angle_to_quaternion(poses))
        return torch.cat([trans, quats.flatten(-2)], dim=-1)

    def blend(self, a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Linear cross-fade of the root, slerp per joint (EDGE's long-form blend); ``a, b [L, 99]``."""
        lin = a[:, :3] * (1 - w[:, None]) + b[:, :3] * w[:, None]
        qa = a[:, 3:].reshape(len(a), -1, 4)
        qb = b[:, 3:].reshape(len(b), -1, 4)
        q = quaternion_slerp(qa, qb, w[:, None].expand(-1, qa.shape[1]))
        return torch.cat([lin, q.reshape(len(a), -1)], dim=-1)

    def channel_mask(self, joints: tuple[str, ...] | None, root: bool) -> np.ndarray:
        """Channels of ``joints`` (their 6D rotations) and, with ``root``, the root translation and the foot
        contacts (which belong to the legs' motion)."""
        mask = np.zeros(self.dim, dtype=bool)
        if joints is None:
            mask[:] = True
            return mask
        names = self.skeleton.names
        for name in joints:
            if name not in names:
                raise MotionFormatError(
                    f"joint {name!r} is not in the SMPL-24 rig (known: {', '.join(names)})"
                )
            j = names.index(name)
            mask[ROTATIONS.start + 6 * j : ROTATIONS.start + 6 * j + 6] = True
        if root:
            mask[CONTACTS] = True
            mask[ROOT] = True
        return mask

    def motion_from_stitch(self, s: torch.Tensor, fps: float) -> Motion:
        """``[N, 99]`` (root, quaternions) → :class:`Motion`."""
        poses = quaternion_to_axis_angle(s[:, 3:].reshape(len(s), -1, 4))
        return Motion(poses.detach().cpu().numpy(), s[:, :3].detach().cpu().numpy(), fps)
