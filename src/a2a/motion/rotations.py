"""Rotation conversions: axis-angle, quaternion (w, x, y, z), matrix, 6D and Euler angles.

All functions take torch tensors with any number of leading batch dimensions and are differentiable.
Each one also accepts a numpy array and then returns a numpy array (computed in float64), so data
code can use them without touching torch.

Conventions:
- Quaternions are scalar-first ``(w, x, y, z)``, as in EDGE/pytorch3d.
- Matrices act on column vectors: ``v_world = R @ v_local``.
- 6D is the first two **rows** of the matrix, flattened (pytorch3d ``matrix_to_rotation_6d``; EDGE).
- Euler ``order`` is a string of three distinct axes such as ``"ZYX"``, read like a BVH channel list:
  ``R = R_Z(a0) @ R_Y(a1) @ R_X(a2)`` (intrinsic rotations, scipy's uppercase convention). Angles are
  radians.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from a2a.errors import A2AError

EULER_ORDERS = ("XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX")
_AXIS = {"X": 0, "Y": 1, "Z": 2}

F = TypeVar("F", bound=Callable[..., Any])


def _numpy_compatible(fn: F) -> F:
    """Let ``fn`` take numpy arrays: they run as float64 tensors and come back as numpy arrays."""

    @functools.wraps(fn)
    def wrapper(x, *args, **kwargs):
        if isinstance(x, np.ndarray):
            out = fn(torch.from_numpy(np.asarray(x, dtype=np.float64)), *args, **kwargs)
            return out.numpy()
        return fn(x, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _check_last(x: torch.Tensor, size: int, what: str) -> None:
    if x.shape[-1] != size:
        raise A2AError(f"{what} must have last dimension {size}, got shape {tuple(x.shape)}")


def _check_matrix(m: torch.Tensor) -> None:
    if m.shape[-2:] != (3, 3):
        raise A2AError(f"rotation matrices must have shape [..., 3, 3], got {tuple(m.shape)}")


def check_euler_order(order: str) -> str:
    """Return ``order`` if it is one of :data:`EULER_ORDERS`, else raise a clear error."""
    if not isinstance(order, str) or order not in EULER_ORDERS:
        raise A2AError(
            f"unknown rotation order {order!r}: expected one of {', '.join(EULER_ORDERS)} "
            "(intrinsic, read like BVH channels: 'ZYX' means R = Rz @ Ry @ Rx)"
        )
    return order


# --- quaternions -----------------------------------------------------------------------------------


@_numpy_compatible
def quaternion_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``a ⊗ b`` of quaternions ``[..., 4]`` (rotation ``b`` first, then ``a``)."""
    b = torch.as_tensor(b, dtype=a.dtype)
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


@_numpy_compatible
def quaternion_apply(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors ``v [..., 3]`` by unit quaternions ``q [..., 4]``."""
    v = torch.as_tensor(v, dtype=q.dtype)
    w, xyz = q[..., :1], q[..., 1:]
    t = 2.0 * torch.linalg.cross(xyz, v)
    return v + w * t + torch.linalg.cross(xyz, t)


@_numpy_compatible
def standardize_quaternion(q: torch.Tensor) -> torch.Tensor:
    """Unit quaternion with non-negative real part (each rotation has exactly one such form)."""
    _check_last(q, 4, "quaternions")
    q = q / q.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.where(q[..., :1] < 0, -q, q)


@_numpy_compatible
def quaternion_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[..., 4]`` (w, x, y, z; need not be unit) → rotation matrices ``[..., 3, 3]``."""
    _check_last(q, 4, "quaternions")
    w, x, y, z = q.unbind(-1)
    two_s = 2.0 / (q * q).sum(-1).clamp_min(1e-12)
    m = torch.stack(
        (
            1 - two_s * (y * y + z * z),
            two_s * (x * y - z * w),
            two_s * (x * z + y * w),
            two_s * (x * y + z * w),
            1 - two_s * (x * x + z * z),
            two_s * (y * z - x * w),
            two_s * (x * z - y * w),
            two_s * (y * z + x * w),
            1 - two_s * (x * x + y * y),
        ),
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


@_numpy_compatible
def matrix_to_quaternion(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` → unit quaternions ``[..., 4]`` with w ≥ 0.

    Builds the four candidate quaternions and keeps the best-conditioned one per matrix, which is
    accurate for every rotation (including 180°) and differentiable almost everywhere.
    """
    _check_matrix(m)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.reshape(m.shape[:-2] + (9,)).unbind(-1)
    four_sq = torch.stack(
        (
            1.0 + m00 + m11 + m22,
            1.0 + m00 - m11 - m22,
            1.0 - m00 + m11 - m22,
            1.0 - m00 - m11 + m22,
        ),
        dim=-1,
    )
    # sqrt with a zero-safe gradient: the discarded candidates may sit at 0.
    q_abs = torch.where(four_sq > 0, four_sq, torch.zeros_like(four_sq)).clamp_min(1e-24).sqrt()
    candidates = torch.stack(
        (
            torch.stack((q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01), dim=-1),
            torch.stack((m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20), dim=-1),
            torch.stack((m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21), dim=-1),
            torch.stack((m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2), dim=-1),
        ),
        dim=-2,
    )
    candidates = candidates / (2.0 * q_abs[..., None].clamp_min(0.1))
    best = q_abs.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    return standardize_quaternion(q)


# --- axis-angle --------------------------------------------------------------------------------------


def _half_sinc(angle: torch.Tensor) -> torch.Tensor:
    """sin(angle / 2) / angle, with its Taylor series near zero so gradients stay finite."""
    small = angle.abs() < 1e-6
    safe = torch.where(small, torch.ones_like(angle), angle)
    return torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(safe / 2) / safe)


@_numpy_compatible
def axis_angle_to_quaternion(aa: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors ``[..., 3]`` (direction = axis, norm = angle in radians) → quaternions."""
    _check_last(aa, 3, "axis-angle vectors")
    # Norm via sqrt of a clamped square sum keeps the gradient finite at exactly zero rotation.
    angle = (aa * aa).sum(-1, keepdim=True).clamp_min(1e-30).sqrt()
    angle = torch.where((aa == 0).all(-1, keepdim=True), torch.zeros_like(angle), angle)
    return torch.cat((torch.cos(angle / 2), aa * _half_sinc(angle)), dim=-1)


@_numpy_compatible
def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """Quaternions ``[..., 4]`` → axis-angle ``[..., 3]`` with angle in [0, π]."""
    q = standardize_quaternion(q)
    sin_half = (q[..., 1:] ** 2).sum(-1, keepdim=True).clamp_min(1e-30).sqrt()
    angle = 2.0 * torch.atan2(sin_half, q[..., :1])
    return q[..., 1:] / _half_sinc(angle)


@_numpy_compatible
def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Axis-angle ``[..., 3]`` → rotation matrices ``[..., 3, 3]``."""
    return quaternion_to_matrix(axis_angle_to_quaternion(aa))


@_numpy_compatible
def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` → axis-angle ``[..., 3]``."""
    return quaternion_to_axis_angle(matrix_to_quaternion(m))


# --- 6D ------------------------------------------------------------------------------------------------


@_numpy_compatible
def matrix_to_rotation_6d(m: torch.Tensor) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` → 6D ``[..., 6]``: the first two rows, row-major (EDGE)."""
    _check_matrix(m)
    return m[..., :2, :].reshape(m.shape[:-2] + (6,))


@_numpy_compatible
def rotation_6d_to_matrix(d6: torch.Tensor) -> torch.Tensor:
    """6D ``[..., 6]`` → rotation matrices ``[..., 3, 3]`` by Gram–Schmidt on the two rows."""
    _check_last(d6, 6, "6D rotations")
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1)
    b2 = torch.nn.functional.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.linalg.cross(b1, b2)
    return torch.stack((b1, b2, b3), dim=-2)


# --- Euler ---------------------------------------------------------------------------------------------


def _axis_rotation(axis: str, angle: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == "X":
        flat = (one, zero, zero, zero, c, -s, zero, s, c)
    elif axis == "Y":
        flat = (c, zero, s, zero, one, zero, -s, zero, c)
    else:
        flat = (c, -s, zero, s, c, zero, zero, zero, one)
    return torch.stack(flat, dim=-1).reshape(angle.shape + (3, 3))


@_numpy_compatible
def euler_to_matrix(angles: torch.Tensor, order: str) -> torch.Tensor:
    """Euler angles ``[..., 3]`` (radians, in ``order``) → matrices ``R = R_o0 @ R_o1 @ R_o2``."""
    check_euler_order(order)
    _check_last(angles, 3, "Euler angles")
    mats = [_axis_rotation(axis, angles[..., i]) for i, axis in enumerate(order)]
    return mats[0] @ mats[1] @ mats[2]


@_numpy_compatible
def matrix_to_euler(m: torch.Tensor, order: str) -> torch.Tensor:
    """Rotation matrices ``[..., 3, 3]`` → Euler angles ``[..., 3]`` (radians) in ``order``.

    The middle angle lies in [-π/2, π/2]; the outer two in (-π, π]. At gimbal lock the split between
    the outer angles is arbitrary but the angles still reproduce the matrix.
    """
    check_euler_order(order)
    _check_matrix(m)
    i, j, k = (_AXIS[a] for a in order)
    # +1 for cyclic orders (XYZ, YZX, ZXY), −1 for the others.
    sign = 1.0 if (j - i) % 3 == 1 else -1.0
    cos_mid = torch.sqrt(m[..., i, i] ** 2 + m[..., i, j] ** 2)
    mid = torch.atan2(sign * m[..., i, k], cos_mid)
    first = torch.atan2(-sign * m[..., j, k], m[..., k, k])
    last = torch.atan2(-sign * m[..., i, j], m[..., i, i])
    locked = cos_mid < 1e-9
    if bool(locked.any()):
        # cos(mid) = 0: put the whole residual rotation on the first angle, last angle = 0.
        first_locked = torch.atan2(sign * m[..., k, j], m[..., j, j])
        first = torch.where(locked, first_locked, first)
        last = torch.where(locked, torch.zeros_like(last), last)
    return torch.stack((first, mid, last), dim=-1)


@_numpy_compatible
def euler_to_axis_angle(angles: torch.Tensor, order: str) -> torch.Tensor:
    """Euler angles ``[..., 3]`` (radians) in ``order`` → axis-angle ``[..., 3]``."""
    return matrix_to_axis_angle(euler_to_matrix(angles, order))


@_numpy_compatible
def quaternion_slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation between unit quaternions ``[..., 4]`` at fraction ``t`` (broadcast)."""
    q1 = torch.as_tensor(q1, dtype=q0.dtype)
    t = torch.as_tensor(t, dtype=q0.dtype)
    if t.dim() > 0:
        t = t[..., None]
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)  # shortest path
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin_theta = torch.sin(theta)
    near = sin_theta < 1e-6
    safe = torch.where(near, torch.ones_like(sin_theta), sin_theta)
    w0 = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * theta) / safe)
    w1 = torch.where(near, t, torch.sin(t * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / out.norm(dim=-1, keepdim=True).clamp_min(1e-12)


@_numpy_compatible
def quaternion_mean(q: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Normalised mean of unit quaternions ``[..., 4]`` along ``dim`` (``dim`` removed).

    Each quaternion is first flipped into the hemisphere of the first one along ``dim`` (q and −q are the
    same rotation), so rotations close to each other average to a rotation close to them. A good
    approximation of the rotation mean when the rotations are not spread over more than ~90°.
    """
    _check_last(q, 4, "quaternions")
    reference = q.select(dim, 0).unsqueeze(dim)
    aligned = torch.where((q * reference).sum(-1, keepdim=True) < 0, -q, q)
    mean = aligned.mean(dim=dim)
    return mean / mean.norm(dim=-1, keepdim=True).clamp_min(1e-12)
