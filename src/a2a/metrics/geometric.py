"""Bailando / AIST++ geometric ("manual") features (the 32-d vector behind FID_g and Div_g), vectorised.

Reproduces ``extract_manual_features`` of Bailando ``utils/features/manual_new.py`` (the version with the
SMPL joint-name ordering fixed in ``aistplusplus_api`` 091f00b; the older ``manual.py`` is not what
Bailando's ``metrics_new.py`` uses). For every frame ``t = 1 .. T-1`` 32 boolean Müller-style predicates
are evaluated on the Y-up joint positions and the result is the fraction of frames where each holds.

Predicate kinds (``cur`` = frame t, ``prev`` = frame t−1, thresholds in metres or metres per second):

- ``move(j1, j2, j3, ·)``: ``((j3 − j1) − (j3_prev − j1_prev)) · (j2 − j1)/‖j2 − j1‖ / τ > thr`` — the
  fourth joint is ignored, as in the original (``f_move`` never passes it on).
- ``nmove(j1, j2, j3, j4)``: same with ``j4`` as the moving point and the direction
  ``(j3 − j1) × (j2 − j1)``.
- ``plane(a, b, c, p)``: ``((c − a) × (b − a)) · (p − a) / ‖(c − a) × (b − a)‖ > thr`` (signed, so the
  left/right mirror predicates are not mirror images: a symmetric pose can set one and not the other).
- ``nplane(n1, n2, a, p)``: ``(n2 − n1) · (p − a) / ‖n2 − n1‖ > thr``.
- ``angle(j1, j2, k1, k2, (lo, hi))``: ``lo < degrees(arccos(cos∠(j2 − j1, k2 − k1))) < hi`` strictly;
  a cosine that rounds past ±1 gives NaN and therefore False, as in the original (no clipping).
- ``fast(j)``: ``‖j − j_prev‖ / τ > thr``.

Pseudo-points: ``zero`` = (0, 0, 0), ``y_unit`` = (0, 1, 0), ``minus_y_unit`` = (0, −1, 0), ``y_min`` =
(0, lowest joint height of the current frame, 0): the features assume **Y-up**.

Quirks kept for comparability:

- The velocity helpers divide by ``τ = 1/120`` s although AIST++ is 60 fps, so "velocities" are twice
  the physical speed. Here ``τ = 1/(2·fps)``: exactly 1/120 at 60 fps, and the same physical thresholds
  at other rates. LODGE's FineDance variant ran the unmodified extractor (τ = 1/120) on 30-fps data:
  pass ``fps=60`` to reproduce it.
- Body-scale constants come from a fixed SMPL rest pose hard-coded in the original (not from the input):
  humerus length ``hl`` = ‖lshoulder − lelbow‖ ≈ 0.256838, shoulder width ``sw`` ≈ 0.390848, hip width
  ``hw`` ≈ 0.119247 (metres).
- Degenerate geometry (zero-length direction or plane normal) gives NaN, hence False.

Differences from the original: float64 output (the original casts the per-frame booleans to float32
before averaging); ``T < 2`` raises instead of failing on an empty mean.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from a2a.metrics.kinetic import validate_fps, validate_joints

GEOMETRIC_JOINT_NAMES: Final = (
    "root",
    "lhip",
    "rhip",
    "belly",
    "lknee",
    "rknee",
    "spine",
    "lankle",
    "rankle",
    "chest",
    "ltoes",
    "rtoes",
    "neck",
    "linshoulder",
    "rinshoulder",
    "head",
    "lshoulder",
    "rshoulder",
    "lelbow",
    "relbow",
    "lwrist",
    "rwrist",
    "lhand",
    "rhand",
)
"""SMPL-24 joint order with the short names ``manual_new.py`` uses."""

# The original's hard-coded SMPL rest-pose points (metres) from which the body-scale constants are derived.
_REST_LSHOULDER = np.array([1.99113488e-01, 2.36807942e-01, -1.80702247e-02])
_REST_RSHOULDER = np.array([-1.91692337e-01, 2.36928746e-01, -1.23055102e-02])
_REST_LELBOW = np.array([4.54445392e-01, 2.21158922e-01, -4.10167128e-02])
_REST_LHIP = np.array([5.64076714e-02, -3.23069185e-01, 1.09197125e-02])
_REST_RHIP = np.array([-6.24834076e-02, -3.31302464e-01, 1.50412619e-02])

HUMERUS_LENGTH: Final = float(np.linalg.norm(_REST_LSHOULDER - _REST_LELBOW))
"""``hl`` ≈ 0.256838 m."""
SHOULDER_WIDTH: Final = float(np.linalg.norm(_REST_LSHOULDER - _REST_RSHOULDER))
"""``sw`` ≈ 0.390848 m."""
HIP_WIDTH: Final = float(np.linalg.norm(_REST_LHIP - _REST_RHIP))
"""``hw`` ≈ 0.119247 m."""

_HL, _SW, _HW = HUMERUS_LENGTH, SHOULDER_WIDTH, HIP_WIDTH

GEOMETRIC_PREDICATES: Final = (
    ("nmove", ("neck", "rhip", "lhip", "rwrist"), 1.8 * _HL),
    ("nmove", ("neck", "lhip", "rhip", "lwrist"), 1.8 * _HL),
    ("nplane", ("chest", "neck", "neck", "rwrist"), 0.2 * _HL),
    ("nplane", ("chest", "neck", "neck", "lwrist"), 0.2 * _HL),
    ("move", ("belly", "chest", "chest", "rwrist"), 1.8 * _HL),
    ("move", ("belly", "chest", "chest", "lwrist"), 1.8 * _HL),
    ("angle", ("relbow", "rshoulder", "relbow", "rwrist"), (0.0, 110.0)),
    ("angle", ("lelbow", "lshoulder", "lelbow", "lwrist"), (0.0, 110.0)),
    ("nplane", ("lshoulder", "rshoulder", "lwrist", "rwrist"), 2.5 * _SW),
    ("move", ("lwrist", "rwrist", "rwrist", "lwrist"), 1.4 * _HL),
    ("move", ("rwrist", "root", "lwrist", "root"), 1.4 * _HL),
    ("move", ("lwrist", "root", "rwrist", "root"), 1.4 * _HL),
    ("fast", ("rwrist",), 2.5 * _HL),
    ("fast", ("lwrist",), 2.5 * _HL),
    ("plane", ("root", "lhip", "ltoes", "rankle"), 0.38 * _HL),
    ("plane", ("root", "rhip", "rtoes", "lankle"), 0.38 * _HL),
    ("nplane", ("zero", "y_unit", "y_min", "rankle"), 1.2 * _HL),
    ("nplane", ("zero", "y_unit", "y_min", "lankle"), 1.2 * _HL),
    ("nplane", ("lhip", "rhip", "lankle", "rankle"), 2.1 * _HW),
    ("angle", ("rknee", "rhip", "rknee", "rankle"), (0.0, 110.0)),
    ("angle", ("lknee", "lhip", "lknee", "lankle"), (0.0, 110.0)),
    ("fast", ("rankle",), 2.5 * _HL),
    ("fast", ("lankle",), 2.5 * _HL),
    ("angle", ("neck", "root", "rshoulder", "relbow"), (25.0, 180.0)),
    ("angle", ("neck", "root", "lshoulder", "lelbow"), (25.0, 180.0)),
    ("angle", ("neck", "root", "rhip", "rknee"), (50.0, 180.0)),
    ("angle", ("neck", "root", "lhip", "lknee"), (50.0, 180.0)),
    ("plane", ("rankle", "neck", "lankle", "root"), 0.5 * _HL),
    ("angle", ("neck", "root", "zero", "y_unit"), (70.0, 110.0)),
    ("nplane", ("zero", "minus_y_unit", "y_min", "rwrist"), -1.2 * _HL),
    ("nplane", ("zero", "minus_y_unit", "y_min", "lwrist"), -1.2 * _HL),
    ("fast", ("root",), 2.3 * _HL),
)
"""The 32 predicates in output order: ``(kind, point names, threshold or (lo, hi) degrees)``."""

_CONSTANT_POINTS: Final = {
    "zero": np.array([0.0, 0.0, 0.0]),
    "y_unit": np.array([0.0, 1.0, 0.0]),
    "minus_y_unit": np.array([0.0, -1.0, 0.0]),
}


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot product of ``[N, 3]`` arrays → ``[N]``."""
    return np.sum(a * b, axis=-1)


def _norm(a: np.ndarray) -> np.ndarray:
    """Row-wise Euclidean norm of ``[N, 3]`` → ``[N]``."""
    return np.sqrt(np.sum(a * a, axis=-1))


class _Frames:
    """Point lookup for all frames ``1 .. T-1`` at once (current) and ``0 .. T-2`` (previous)."""

    def __init__(self, positions: np.ndarray) -> None:
        self.current = positions[1:]
        self.previous = positions[:-1]
        num = self.current.shape[0]
        self.y_min = np.zeros((num, 3))
        self.y_min[:, 1] = self.current[:, :, 1].min(axis=1)

    def now(self, name: str) -> np.ndarray:
        """``[T-1, 3]`` position of a joint or pseudo-point in the current frames."""
        if name in _CONSTANT_POINTS:
            return np.broadcast_to(_CONSTANT_POINTS[name], self.current.shape[:1] + (3,))
        if name == "y_min":
            return self.y_min
        return self.current[:, GEOMETRIC_JOINT_NAMES.index(name)]

    def before(self, name: str) -> np.ndarray:
        """``[T-1, 3]`` position of a joint in the previous frames (pseudo-points never occur here)."""
        return self.previous[:, GEOMETRIC_JOINT_NAMES.index(name)]


def _evaluate(
    frames: _Frames, kind: str, names: tuple[str, ...], threshold: object, time_per_frame: float
) -> np.ndarray:
    """Boolean ``[T-1]`` values of one predicate (see the module docstring for the formulas)."""
    if kind == "move":
        j1, j2, j3 = names[:3]
        relative_step = (frames.now(j3) - frames.now(j1)) - (frames.before(j3) - frames.before(j1))
        direction = frames.now(j2) - frames.now(j1)
        speed_along = _dot(relative_step, direction) / _norm(direction) / time_per_frame
        return speed_along > threshold
    if kind == "nmove":
        j1, j2, j3, j4 = names
        relative_step = (frames.now(j4) - frames.now(j1)) - (frames.before(j4) - frames.before(j1))
        direction = np.cross(frames.now(j3) - frames.now(j1), frames.now(j2) - frames.now(j1))
        speed_along = _dot(relative_step, direction) / _norm(direction) / time_per_frame
        return speed_along > threshold
    if kind == "plane":
        a, b, c, p = (frames.now(name) for name in names)
        normal = np.cross(c - a, b - a)
        return _dot(normal, p - a) / _norm(normal) > threshold
    if kind == "nplane":
        n1, n2, a, p = (frames.now(name) for name in names)
        normal = n2 - n1
        return _dot(normal, p - a) / _norm(normal) > threshold
    if kind == "angle":
        j1, j2, k1, k2 = (frames.now(name) for name in names)
        first, second = j2 - j1, k2 - k1
        degrees = np.degrees(np.arccos(_dot(first, second) / (_norm(first) * _norm(second))))
        low, high = threshold  # type: ignore[misc]
        return (degrees > low) & (degrees < high)
    if kind == "fast":
        (joint,) = names
        return _norm(frames.now(joint) - frames.before(joint)) / time_per_frame > threshold
    raise AssertionError(f"unknown predicate kind {kind!r}")


def geometric_features(joints: np.ndarray, fps: float = 60.0) -> np.ndarray:
    """Bailando ``manual_new`` geometric features of one motion: fraction of frames each predicate holds.

    Args:
        joints: ``[T, 24, 3]`` SMPL-24 joint positions in metres, **Y-up**, ``T ≥ 2``; Bailando protocol:
            60 fps, frame-0 root position subtracted (:func:`a2a.metrics.dance.recenter`), although every
            predicate is relative or a speed, so a global translation does not change the result.
        fps: frame rate; velocity predicates use ``τ = 1/(2·fps)`` (the original's 1/120 at 60 fps).

    Returns:
        ``[32]`` float64 values in [0, 1], in :data:`GEOMETRIC_PREDICATES` order.

    Raises:
        MotionFormatError: bad shape (not 24 joints), fewer than 2 frames, non-finite values, bad ``fps``.
    """
    positions = validate_joints(joints, min_frames=2, num_joints=len(GEOMETRIC_JOINT_NAMES))
    time_per_frame = 1.0 / (2.0 * validate_fps(fps))
    frames = _Frames(positions)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = [
            _evaluate(frames, kind, names, threshold, time_per_frame)
            for kind, names, threshold in GEOMETRIC_PREDICATES
        ]
    return np.stack(values, axis=-1).mean(axis=0, dtype=np.float64)
