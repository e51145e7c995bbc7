"""Bailando / AIST++ kinetic features (the 72-d vector behind FID_k and Div_k), vectorised.

Reproduces ``extract_kinetic_features`` of Bailando ``utils/features/kinetic.py`` + ``utils.py`` (identical
to ``aistplusplus_api/aist_plusplus/features``, originally from fairmotion). For joint positions
``p`` ``[T, J, 3]`` in metres, frame time ``dt = 1/fps`` and a sliding window ``w = 2``, for every frame
``i = 1 .. T-1``:

- mean velocity ``v̄_i = Σ_k (p[k+1] − p[k]) / (c_i · dt)`` over the steps ``k = i−3 .. i+1`` that exist
  (``c_i`` of them): the original's ``j ∈ [−w, w]`` with ``i+j−1 ≥ 0`` and ``i+j < T``;
- ``KE_h = mean_i ‖v̄_i‖²`` over the horizontal components, ``KE_v = mean_i (v̄_i^up)²``;
- ``EE = mean_i ‖Σ_k (v2_k − v1_k)/dt‖ / c′_i`` over ``k = i−2 .. i+2`` with ``1 ≤ k ≤ T−2`` (``c′_i`` of
  them), where ``v2_k = (p[k+1] − p[k]) / dt`` and — **the shipped operator-precedence bug, reproduced on
  purpose** — ``v1_k = p[k] − p[k−1] / dt`` (only the second term divided by ``dt``). EE is therefore
  dominated by ``p/dt²`` and depends on the absolute position of the joint, which is why the Bailando
  protocol subtracts the frame-0 root position first (:func:`a2a.metrics.dance.recenter`).

The means divide by ``T − 1``. The output is joint-major ``[KE_h(j0), KE_v(j0), EE(j0), KE_h(j1), ...]``
with no ½·mass factor. Differences from the original: float64 throughout (the original computes in the
input's dtype and casts the result to float32, about 1e-7 relative), and ``T < 3`` raises instead of
returning NaN.
"""

from __future__ import annotations

import numpy as np

from a2a.errors import MotionFormatError

KINETIC_WINDOW = 2
"""Half-width of the sliding window of the original (``sliding_window=2``)."""

_HORIZONTAL_AXES = {"y": (0, 2), "z": (0, 1)}
_UP_AXIS_INDEX = {"y": 1, "z": 2}


def validate_joints(
    joints: np.ndarray, *, min_frames: int, num_joints: int | None = None, what: str = "joints"
) -> np.ndarray:
    """Check a joint-position array and return it as float64.

    Args:
        joints: ``[T, J, 3]`` joint positions in metres.
        min_frames: smallest acceptable ``T``.
        num_joints: required ``J`` (``None``: any ``J ≥ 1``).
        what: name of the argument, used in error messages.

    Returns:
        ``[T, J, 3]`` float64 copy-or-view of ``joints``.

    Raises:
        MotionFormatError: wrong rank, joint count, too few frames, or non-finite values.
    """
    array = np.asarray(joints, dtype=np.float64)
    if array.ndim != 3 or array.shape[2] != 3 or array.shape[1] < 1:
        raise MotionFormatError(f"{what}: expected an array of shape [T, J, 3], got {array.shape}")
    if num_joints is not None and array.shape[1] != num_joints:
        raise MotionFormatError(f"{what}: expected {num_joints} joints (SMPL-24 order), got {array.shape[1]}")
    if array.shape[0] < min_frames:
        raise MotionFormatError(f"{what}: needs at least {min_frames} frames, got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise MotionFormatError(f"{what}: contains NaN or infinite positions")
    return array


def validate_fps(fps: float) -> float:
    """Return ``fps`` as a float, raising :class:`MotionFormatError` unless it is finite and > 0."""
    value = float(fps)
    if not np.isfinite(value) or value <= 0:
        raise MotionFormatError(f"fps must be a positive number, got {fps!r}")
    return value


def _windowed_sum(terms: np.ndarray, first: np.ndarray, count: int) -> np.ndarray:
    """Sum ``count`` consecutive rows of ``terms`` starting at row ``first[i]`` for each output row ``i``.

    ``terms`` is zero-padded so that rows outside it contribute exactly 0; the rows are added one after the
    other in window order, as the original's inner loop does, so the sums match it bit for bit.

    Args:
        terms: ``[K, J, 3]``.
        first: ``[N]`` integer start rows (may be negative or run past ``K``).
        count: window length.

    Returns:
        ``[N, J, 3]`` window sums.
    """
    padded = np.concatenate(
        [np.zeros((count,) + terms.shape[1:]), terms, np.zeros((count,) + terms.shape[1:])]
    )
    total = np.zeros((first.shape[0],) + terms.shape[1:])
    for offset in range(count):
        total += padded[first + offset + count]
    return total


def kinetic_features(joints: np.ndarray, fps: float = 60.0, up_axis: str = "y") -> np.ndarray:
    """Bailando/AIST++ kinetic features of one motion (EE precedence bug included, see module docstring).

    Args:
        joints: ``[T, J, 3]`` joint positions in metres (SMPL-24 gives 72 features), ``T ≥ 3``. For the
            Bailando protocol: Y-up, 60 fps, frame-0 root position subtracted (:func:`recenter`).
        fps: frame rate; the frame time is ``dt = 1/fps`` (Bailando and AIST++: 60). LODGE's FineDance
            variant kept ``dt = 1/60`` on 30-fps data: pass ``fps=60`` to reproduce it.
        up_axis: ``"y"`` (AIST++; horizontal = x, z) or ``"z"`` (horizontal = x, y).

    Returns:
        ``[3·J]`` float64 features, joint-major ``[KE_h, KE_v, EE]`` per joint; KE in m²/s², EE in the
        original's (unit-mixed) m/s² scale.

    Raises:
        MotionFormatError: bad shape, fewer than 3 frames, non-finite values, bad ``fps`` or ``up_axis``.
    """
    positions = validate_joints(joints, min_frames=3)
    dt = 1.0 / validate_fps(fps)
    if up_axis not in _HORIZONTAL_AXES:
        raise MotionFormatError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    num_frames = positions.shape[0]
    frames = np.arange(1, num_frames)

    # Mean velocity: steps k = i-3 .. i+1 (step k goes from frame k to k+1), clipped to 0 .. T-2.
    steps = positions[1:] - positions[:-1]
    step_sum = _windowed_sum(steps, frames - KINETIC_WINDOW - 1, 2 * KINETIC_WINDOW + 1)
    step_count = np.minimum(frames + KINETIC_WINDOW, num_frames - 1) - np.maximum(
        frames - KINETIC_WINDOW - 1, 0
    )
    velocity = step_sum / (step_count[:, None, None] * dt)
    horizontal = velocity[..., list(_HORIZONTAL_AXES[up_axis])]
    kinetic_horizontal = np.sum(horizontal**2, axis=-1).sum(axis=0) / (num_frames - 1.0)
    kinetic_vertical = (velocity[..., _UP_AXIS_INDEX[up_axis]] ** 2).sum(axis=0) / (num_frames - 1.0)

    # Acceleration terms for centre frames k = 1 .. T-2, with the original's v1 = p[k] - p[k-1]/dt.
    next_velocity = (positions[2:] - positions[1:-1]) / dt
    buggy_previous_velocity = positions[1:-1] - positions[:-2] / dt
    acceleration_terms = (next_velocity - buggy_previous_velocity) / dt
    # Term row r holds centre frame k = r + 1; the window of frame i is k = i-2 .. i+2.
    acceleration_sum = _windowed_sum(acceleration_terms, frames - KINETIC_WINDOW - 1, 2 * KINETIC_WINDOW + 1)
    acceleration_count = np.minimum(frames + KINETIC_WINDOW, num_frames - 2) - np.maximum(
        frames - KINETIC_WINDOW, 1
    )
    acceleration_count = acceleration_count + 1
    mean_acceleration = acceleration_sum / acceleration_count[:, None, None]
    energy_expenditure = np.sqrt(np.sum(mean_acceleration**2, axis=-1)).sum(axis=0) / (num_frames - 1.0)

    return np.stack([kinetic_horizontal, kinetic_vertical, energy_expenditure], axis=-1).reshape(-1)
