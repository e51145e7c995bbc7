"""Forward kinematics for any skeleton (parents + rest offsets), batched and differentiable in torch.

``forward_kinematics`` takes local rotation matrices; ``fk_axis_angle`` is the common entry for SMPL
axis-angle poses. Both accept numpy arrays too (and then return numpy arrays).
"""

from __future__ import annotations

import numpy as np
import torch

from a2a.errors import A2AError
from a2a.motion.rotations import axis_angle_to_matrix
from a2a.motion.skeleton import Skeleton


def forward_kinematics(
    local_rotations: torch.Tensor | np.ndarray,
    root_translation: torch.Tensor | np.ndarray,
    skeleton: Skeleton,
    return_rotations: bool = False,
):
    """World joint positions from local rotations.

    ``R_world[j] = R_world[parent] @ R_local[j]`` and
    ``p_world[j] = p_world[parent] + R_world[parent] @ offset[j]``; the root sits at
    ``root_translation + offsets[0]``.

    Args:
        local_rotations: ``[..., J, 3, 3]`` rotation of each joint relative to its parent.
        root_translation: ``[..., 3]`` root translation (same units as the offsets).
        skeleton: the hierarchy; ``J`` must equal ``skeleton.num_joints``.
        return_rotations: also return world rotations ``[..., J, 3, 3]``.

    Returns:
        positions ``[..., J, 3]`` (and world rotations when asked).
    """
    as_numpy = isinstance(local_rotations, np.ndarray)
    rot = torch.as_tensor(local_rotations, dtype=torch.float64 if as_numpy else None)
    trans = torch.as_tensor(root_translation, dtype=rot.dtype, device=rot.device)
    joints = skeleton.num_joints
    if rot.shape[-3:] != (joints, 3, 3):
        raise A2AError(
            f"local rotations must have shape [..., {joints}, 3, 3] for this skeleton, got {tuple(rot.shape)}"
        )
    if trans.shape[-1] != 3 or trans.shape[:-1] != rot.shape[:-3]:
        raise A2AError(
            f"root translation must have shape {tuple(rot.shape[:-3]) + (3,)}, got {tuple(trans.shape)}"
        )
    offsets = torch.as_tensor(skeleton.offsets, dtype=rot.dtype, device=rot.device)
    bones = offsets[1:].expand(*rot.shape[:-3], joints - 1, 3)
    local_positions = torch.cat([(trans + offsets[0]).unsqueeze(-2), bones], dim=-2)
    out = forward_kinematics_local(rot, local_positions, skeleton.parents, return_rotations)
    if not as_numpy:
        return out
    return tuple(t.numpy() for t in out) if return_rotations else out.numpy()


def forward_kinematics_local(
    local_rotations: torch.Tensor,
    local_positions: torch.Tensor,
    parents: tuple[int, ...] | list[int],
    return_rotations: bool = False,
):
    """World joint positions from local rotations and per-frame local positions (torch, differentiable).

    ``p_world[0] = local_positions[0]``, ``p_world[j] = p_world[parent] + R_world[parent] @
    local_positions[j]``: the bone offsets may change from frame to frame (DiffuseStyleGesture decodes
    them from its features).

    Args:
        local_rotations: ``[..., J, 3, 3]``.
        local_positions: ``[..., J, 3]``; entry 0 is the root's world position.
        parents: parent index per joint, ``-1`` for the root; parents precede children.
        return_rotations: also return world rotations ``[..., J, 3, 3]``.

    Returns:
        positions ``[..., J, 3]`` (and world rotations when asked), numpy when the rotations were numpy.
    """
    as_numpy = isinstance(local_rotations, np.ndarray)
    rot = torch.as_tensor(local_rotations, dtype=torch.float64 if as_numpy else None)
    pos = torch.as_tensor(local_positions, dtype=rot.dtype, device=rot.device)
    joints = len(parents)
    if rot.shape[-3:] != (joints, 3, 3) or pos.shape != rot.shape[:-1]:
        raise A2AError(
            f"forward kinematics of {joints} joints needs rotations [..., {joints}, 3, 3] and positions "
            f"[..., {joints}, 3], got {tuple(rot.shape)} and {tuple(pos.shape)}"
        )
    world_rot: list[torch.Tensor] = [rot[..., 0, :, :]]
    world_pos: list[torch.Tensor] = [pos[..., 0, :]]
    for j in range(1, joints):
        p = parents[j]
        world_pos.append(world_pos[p] + (world_rot[p] @ pos[..., j, :].unsqueeze(-1)).squeeze(-1))
        world_rot.append(world_rot[p] @ rot[..., j, :, :])
    positions = torch.stack(world_pos, dim=-2)
    if as_numpy:
        positions = positions.numpy()
    if not return_rotations:
        return positions
    rotations = torch.stack(world_rot, dim=-3)
    return positions, (rotations.numpy() if as_numpy else rotations)


def fk_axis_angle(
    poses: torch.Tensor | np.ndarray,
    trans: torch.Tensor | np.ndarray,
    skeleton: Skeleton,
):
    """World joint positions ``[..., J, 3]`` from axis-angle poses ``[..., J, 3]`` and ``trans [..., 3]``."""
    if poses.shape[-1] != 3 or poses.shape[-2] != skeleton.num_joints:
        raise A2AError(
            f"axis-angle poses must have shape [..., {skeleton.num_joints}, 3], got {tuple(poses.shape)}"
        )
    return forward_kinematics(axis_angle_to_matrix(poses), trans, skeleton)
