"""Music-to-dance research metrics: Bailando FID_k/FID_g/Div_k/Div_g, Beat Align Score, EDGE's PFC.

Conventions (see ``/work/shared/reference/aistpp-and-metrics.md`` §2):

- Joints are SMPL-24 positions ``[T, 24, 3]`` in metres. FID/Div/BAS follow the Bailando protocol: Y-up,
  60 fps, frame-0 root position subtracted (:func:`recenter`), generated clips cropped to 1,200 frames for
  FID/Div (not for BAS), features normalised by the GT pool (all AIST++ sequences), N = 40 generated clips.
  PFC follows EDGE: Z-up, 30 fps, 5-s clips.
- Kinetic features (72-d) and geometric features (32-d) live in :mod:`a2a.metrics.kinetic` and
  :mod:`a2a.metrics.geometric` and are re-exported here.
- Beat times are passed in **seconds** together with ``fps``; they are rounded to the nearest frame.

Reference bugs reproduced or fixed, each stated where it applies: the kinetic EE precedence bug
(reproduced), the geometric 1/120 frame time (reproduced), Bailando's complex FID (fixed: real part), the
crash of Bailando's BAS on motion without beats (returns 0), EDGE's NaN PFC for a root without acceleration
(returns 0).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.stats
from scipy import linalg
from scipy.ndimage import gaussian_filter1d
from scipy.signal import argrelextrema
from scipy.spatial.distance import pdist

from a2a.errors import A2AError, MotionFormatError
from a2a.metrics.geometric import geometric_features
from a2a.metrics.kinetic import kinetic_features, validate_fps, validate_joints

__all__ = [
    "BAILANDO_MAX_FRAMES",
    "BeatDirection",
    "PoolCheck",
    "beat_align_score",
    "bootstrap_ci",
    "check_pool",
    "clip_features",
    "diversity",
    "fid",
    "geometric_features",
    "kinetic_features",
    "motion_beats",
    "music_beats_from_onehot",
    "normalize_features",
    "pfc",
    "pfc_dataset",
    "quantized_metrics",
    "recenter",
]

BAILANDO_MAX_FRAMES = 1200
"""Generated clips are cropped to ``pred_position[:1200]`` (20 s at 60 fps) before FID/Div features."""

FID_DIAGONAL_EPS = 1e-5
"""Added to both covariance diagonals when ``sqrtm`` of their product is not finite (``calc_fid``)."""

NORMALIZE_EPS = 1e-10
"""Added to the GT standard deviation before dividing (Bailando ``normalize``)."""

CONSTANT_FEATURE_STD = 1e-8
"""A GT-pool feature with a smaller standard deviation counts as constant (see :func:`check_pool`)."""

BAILANDO_BEAT_SMOOTHING = 5.0
"""Gaussian σ in frames applied to Bailando's motion-speed curve before picking minima."""

FACT_BEAT_ORDER = 10
"""``argrelextrema`` order of FACT's motion-beat detector (frames; "10 for 60FPS")."""

PFC_FOOT_JOINTS = (7, 10, 8, 11)
"""EDGE PFC feet: left ankle, left foot, right ankle, right foot (SMPL-24)."""

PFC_SCALE = 1e4
"""EDGE multiplies the dataset-mean PFC by 10⁴ (not in the paper's equation, EDGE#36)."""

BeatDirection = Literal["bailando", "fact"]

_UP_AXIS_INDEX = {"y": 1, "z": 2}


def recenter(joints: np.ndarray) -> np.ndarray:
    """Bailando's "zero start": subtract the frame-0 root position from every joint of every frame.

    Args:
        joints: ``[T, J, 3]`` positions (any unit), root = joint 0.

    Returns:
        ``[T, J, 3]`` float64 positions with ``joints[0, 0] == 0``.
    """
    positions = validate_joints(joints, min_frames=1)
    return positions - positions[:1, :1, :]


def clip_features(
    joints: np.ndarray, fps: float = 60.0, max_frames: int | None = BAILANDO_MAX_FRAMES
) -> tuple[np.ndarray, np.ndarray]:
    """Bailando ``calc_and_save_feats`` for one clip: crop, recentre, kinetic + geometric features.

    Args:
        joints: ``[T, 24, 3]`` SMPL-24 positions in metres, Y-up.
        fps: frame rate (60 for the Bailando protocol).
        max_frames: keep the first ``max_frames`` frames (Bailando: 1,200 for generated clips; the GT pool
            uses full-length sequences: pass ``None``). The crop comes before recentring, as in Bailando.

    Returns:
        ``([72] kinetic, [32] geometric)`` float64 features.
    """
    positions = validate_joints(joints, min_frames=3, num_joints=24)
    if max_frames is not None:
        positions = positions[:max_frames]
    centred = recenter(positions)
    return kinetic_features(centred, fps=fps), geometric_features(centred, fps=fps)


def _feature_matrix(features: np.ndarray, what: str, min_rows: int) -> np.ndarray:
    """Validate a ``[N, D]`` feature matrix and return it as float64."""
    array = np.asarray(features, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] < 1:
        raise A2AError(f"{what}: expected a feature matrix of shape [N, D], got {array.shape}")
    if array.shape[0] < min_rows:
        raise A2AError(f"{what}: needs at least {min_rows} rows (clips), got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise A2AError(f"{what}: contains NaN or infinite values")
    return array


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Bailando ``calc_fid``).

    ``‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2·sqrtm(Σ_a Σ_b))`` with ``Σ = np.cov(rowvar=False)`` (N − 1). If the
    matrix square root is not finite, 1e-5 is added to both diagonals and it is recomputed. Bailando keeps
    a complex ``sqrtm`` result when its imaginary part is small (its ``.real`` sits under the wrong ``if``)
    and so returns a complex number; here the real part is taken in every case, which is the value Bailando
    prints. ``scipy.linalg.sqrtm``'s singular-matrix warning is silenced, as Bailando's ``disp=False`` did.
    The result is biased upwards for small N (about 47–50 for two 40-sample draws of one 72-d Gaussian
    normalised as in the protocol): compare only FIDs with the same N and clip length.

    Args:
        a: ``[N, D]`` features (generated set), ``N ≥ 2``.
        b: ``[M, D]`` features (reference set), ``M ≥ 2``.

    Returns:
        The distance (float, ≥ 0 up to rounding).

    Raises:
        A2AError: wrong shapes, too few rows, mismatched ``D`` or non-finite values.
    """
    first = _feature_matrix(a, "fid: a", 2)
    second = _feature_matrix(b, "fid: b", 2)
    if first.shape[1] != second.shape[1]:
        raise A2AError(f"fid: feature sizes differ: a has D={first.shape[1]}, b has D={second.shape[1]}")
    mean_diff = first.mean(axis=0) - second.mean(axis=0)
    cov_first = np.atleast_2d(np.cov(first, rowvar=False))
    cov_second = np.atleast_2d(np.cov(second, rowvar=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_first @ cov_second)
        if not np.isfinite(covmean).all():
            offset = np.eye(cov_first.shape[0]) * FID_DIAGONAL_EPS
            covmean = linalg.sqrtm((cov_first + offset) @ (cov_second + offset))
    trace_covmean = float(np.real(np.trace(covmean)))
    return float(mean_diff @ mean_diff + np.trace(cov_first) + np.trace(cov_second) - 2.0 * trace_covmean)


def normalize_features(gen: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalise both sets by the GT pool's per-dimension mean and population std (ddof 0) + 1e-10.

    Args:
        gen: ``[N, D]`` generated-set features.
        gt: ``[M, D]`` GT-pool features (Bailando: every AIST++ sequence, 1,320).

    Returns:
        ``(gen_n [N, D], gt_n [M, D])``: ``(f − μ_gt) / (σ_gt + 1e-10)``.
    """
    generated = _feature_matrix(gen, "normalize_features: gen", 1)
    reference = _feature_matrix(gt, "normalize_features: gt", 1)
    if generated.shape[1] != reference.shape[1]:
        raise A2AError(
            f"normalize_features: feature sizes differ: gen D={generated.shape[1]}, gt D={reference.shape[1]}"
        )
    mean = reference.mean(axis=0)
    scale = reference.std(axis=0) + NORMALIZE_EPS
    return (generated - mean) / scale, (reference - mean) / scale


@dataclass(frozen=True)
class PoolCheck:
    """Whether a GT pool supports the normalised FID and diversity (:func:`check_pool`).

    Attributes:
        clips: clips in the pool (``M``).
        features: feature dimensions (``D``).
        constant: dimensions the pool never varies in.
    """

    clips: int
    features: int
    constant: int

    @property
    def fid_ok(self) -> bool:
        """FID needs a pool covariance of full rank (``M > D``) and no constant feature."""
        return self.constant == 0 and self.clips > self.features

    @property
    def diversity_ok(self) -> bool:
        """Diversity needs no constant feature (normalisation would divide it by 1e-10)."""
        return self.constant == 0

    def problem(self) -> str | None:
        """Why the pool is degenerate, in a few words; ``None`` when FID is meaningful."""
        if self.constant:
            return f"the GT pool is constant in {self.constant} of {self.features} features"
        if self.clips <= self.features:
            return f"GT pool too small: {self.clips} clips for {self.features} features"
        return None


def check_pool(gt: np.ndarray) -> PoolCheck:
    """Check a GT feature pool ``[M, D]`` before trusting FID and diversity normalised by it.

    Normalisation divides each feature by the pool's std + 1e-10, so a feature the pool never varies in
    (std below :data:`CONSTANT_FEATURE_STD`) turns any difference there into ~1e10 and dominates FID and
    diversity (FID_g of 1e20 on a synthetic pool). With ``M ≤ D`` clips the pool covariance is singular
    and FID measures the pool's rank more than the generated set. Bailando's pool (1,320 AIST++
    sequences for D = 72 and 32) passes both checks.
    """
    pool = _feature_matrix(gt, "check_pool: gt", 1)
    constant = int(np.sum(pool.std(axis=0) < CONSTANT_FEATURE_STD)) if len(pool) > 1 else pool.shape[1]
    return PoolCheck(clips=int(pool.shape[0]), features=int(pool.shape[1]), constant=constant)


def diversity(feats: np.ndarray) -> float:
    """Mean pairwise Euclidean distance ``2/(n(n−1)) Σ_{i<j} ‖f_i − f_j‖`` (Bailando Div, FACT "Dist").

    Args:
        feats: ``[N, D]`` features, ``N ≥ 2`` (normally already normalised by the GT pool).

    Returns:
        The mean distance in feature units.
    """
    features = _feature_matrix(feats, "diversity: feats", 2)
    return float(pdist(features).mean())


def quantized_metrics(
    pred_kinetic: np.ndarray,
    pred_geometric: np.ndarray,
    gt_kinetic: np.ndarray,
    gt_geometric: np.ndarray,
) -> dict[str, float | int]:
    """Bailando ``quantized_metrics``: FID and diversity of the generated set against the GT pool.

    Both sets are normalised by the GT pool (:func:`normalize_features`); FID compares generated vs pool;
    diversity is computed on the normalised generated set.

    Args:
        pred_kinetic: ``[N, 72]`` generated kinetic features. pred_geometric: ``[N, 32]``.
        gt_kinetic: ``[M, 72]`` GT-pool kinetic features. gt_geometric: ``[M, 32]``.

    Returns:
        ``{"FID_k", "FID_g", "Div_k", "Div_g", "n_pred": N, "n_gt": M}``.

    Raises:
        A2AError: inconsistent row counts or shapes.
    """
    pred_k = _feature_matrix(pred_kinetic, "quantized_metrics: pred_kinetic", 2)
    pred_g = _feature_matrix(pred_geometric, "quantized_metrics: pred_geometric", 2)
    gt_k = _feature_matrix(gt_kinetic, "quantized_metrics: gt_kinetic", 2)
    gt_g = _feature_matrix(gt_geometric, "quantized_metrics: gt_geometric", 2)
    if pred_k.shape[0] != pred_g.shape[0]:
        raise A2AError(
            f"quantized_metrics: pred_kinetic has {pred_k.shape[0]} rows, pred_geometric {pred_g.shape[0]}"
        )
    if gt_k.shape[0] != gt_g.shape[0]:
        raise A2AError(
            f"quantized_metrics: gt_kinetic has {gt_k.shape[0]} rows, gt_geometric {gt_g.shape[0]}"
        )
    pred_k_n, gt_k_n = normalize_features(pred_k, gt_k)
    pred_g_n, gt_g_n = normalize_features(pred_g, gt_g)
    return {
        "FID_k": fid(pred_k_n, gt_k_n),
        "FID_g": fid(pred_g_n, gt_g_n),
        "Div_k": diversity(pred_k_n),
        "Div_g": diversity(pred_g_n),
        "n_pred": int(pred_k.shape[0]),
        "n_gt": int(gt_k.shape[0]),
    }


def _check_direction(direction: str) -> None:
    if direction not in ("bailando", "fact"):
        raise A2AError(f"direction must be 'bailando' or 'fact', got {direction!r}")


def _motion_beat_frames(positions: np.ndarray, direction: str) -> np.ndarray:
    """Integer frame indices of motion beats (local minima of joint speed), see :func:`motion_beats`."""
    if direction == "bailando":
        speed = np.mean(np.linalg.norm(positions[1:] - positions[:-1], axis=-1), axis=1)
        smoothed = gaussian_filter1d(speed, BAILANDO_BEAT_SMOOTHING)
        return argrelextrema(smoothed, np.less)[0]
    velocity = np.zeros_like(positions)
    velocity[1:] = positions[1:] - positions[:-1]
    envelope = np.linalg.norm(velocity, axis=-1).sum(axis=1)
    return argrelextrema(envelope, np.less, order=FACT_BEAT_ORDER)[0]


def motion_beats(joints: np.ndarray, fps: float = 60.0, direction: BeatDirection = "bailando") -> np.ndarray:
    """Motion beats: local minima of joint speed, with either reference detector.

    - ``"bailando"`` (``beat_align_score.calc_db``): ``s[t] = mean_j ‖p[t+1,j] − p[t,j]‖`` for
      ``t = 0 .. T−2``, Gaussian-smoothed (σ = 5 frames, reflect, truncate 4), strict local minima with
      order 1. Index ``t`` stands for the step t→t+1, so beats come one frame earlier than under FACT.
    - ``"fact"`` (mint ``motion_peak_onehot``): ``v[0] = 0``, ``v[t] = p[t] − p[t−1]``,
      ``env[t] = Σ_j ‖v[t,j]‖``, strict minima over ±10 frames (``argrelextrema(order=10)``, edges clipped,
      so frame 0 and T−1 are never beats).

    Both kernels are fixed frame counts, as in the references (at 30 fps the same code gives LODGE's and
    POPDG's variants); ``fps`` only converts frames to seconds.

    Args:
        joints: ``[T, J, 3]`` joint positions in metres (any ``J``; the protocol uses SMPL-24), ``T ≥ 2``.
        fps: frame rate of ``joints``.
        direction: which detector.

    Returns:
        ``[K]`` beat times in seconds (``frame / fps``), ascending.
    """
    _check_direction(direction)
    positions = validate_joints(joints, min_frames=2)
    return _motion_beat_frames(positions, direction) / validate_fps(fps)


def music_beats_from_onehot(
    beat_onehot: np.ndarray, fps: float = 60.0, column: int | None = None
) -> np.ndarray:
    """Beat times from a per-frame beat track (Bailando's column 53 at 60 fps, mint's last column).

    Args:
        beat_onehot: ``[T]`` per-frame beat indicator, or ``[T, D]`` music features together with ``column``.
            Every non-zero entry is a beat (Bailando's ``astype(bool)``).
        fps: frame rate of the track.
        column: feature column holding the beat indicator when ``beat_onehot`` is 2-D (Bailando: 53,
            mint: -1).

    Returns:
        ``[K]`` beat times in seconds (``frame / fps``), ascending.

    Raises:
        A2AError: wrong rank, missing or out-of-range ``column``, non-finite values.
    """
    track = np.asarray(beat_onehot, dtype=np.float64)
    if track.ndim == 2:
        if column is None:
            raise A2AError(f"music_beats_from_onehot: beat_onehot has shape {track.shape}; pass column=")
        if not -track.shape[1] <= column < track.shape[1]:
            raise A2AError(
                f"music_beats_from_onehot: column {column} out of range for {track.shape[1]} features"
            )
        track = track[:, column]
    elif track.ndim != 1:
        raise A2AError(f"music_beats_from_onehot: expected shape [T] or [T, D], got {track.shape}")
    if not np.isfinite(track).all():
        raise A2AError("music_beats_from_onehot: beat track contains NaN or infinite values")
    return np.flatnonzero(track) / validate_fps(fps)


def _nearest_distance(queries: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each query frame, the distance to the nearest target frame (both sorted integer arrays)."""
    position = np.searchsorted(targets, queries)
    left = targets[np.clip(position - 1, 0, targets.size - 1)]
    right = targets[np.clip(position, 0, targets.size - 1)]
    return np.minimum(np.abs(queries - left), np.abs(queries - right))


def beat_align_score(
    joints: np.ndarray,
    music_beats: np.ndarray,
    fps: float = 60.0,
    direction: BeatDirection = "bailando",
    sigma_frames: float = 3.0,
) -> float:
    """Beat Align Score of one motion against music beat times, in either reference direction.

    - ``"bailando"`` (music → motion, Bailando ``BA``; used by LODGE, Danceba, XRMoGen):
      ``(1/|B_m|) Σ_{b ∈ B_m} exp(−min_d (d − b)² / (2σ²))``. Never penalises extra motion beats.
    - ``"fact"`` (motion → music, mint ``alignment_score``; used by POPDG):
      ``(1/|B_d|) Σ_{d ∈ B_d} exp(−min_b (b − d)² / (2σ²))``. Never penalises missed music beats.

    Motion beats come from :func:`motion_beats` with the same ``direction``. Music beat times are rounded
    to frames (``rint(seconds · fps)``, duplicates merged) and, as each reference truncates its beat track
    to the motion, only frames ``0 .. T−2`` (Bailando: the speed curve's length) or ``0 .. T−1`` (FACT)
    are kept. Bailando scores the full sequence; FACT's generated-motion score skips the first 120 frames
    (the seed): crop ``joints`` and shift the beats yourself to reproduce that.

    Failure modes: a motion without beats (e.g. static or constant speed) scores 0 under both directions
    (FACT returns 0; Bailando's ``np.min`` of an empty array crashes there). No music beat inside the motion
    raises (Bailando divides by zero, FACT's ``argmin`` of an empty array crashes).

    Args:
        joints: ``[T, J, 3]`` joint positions in metres, ``T ≥ 2`` (Bailando protocol: SMPL-24, 60 fps).
        music_beats: ``[K]`` beat times in seconds from the start of ``joints``.
        fps: frame rate of ``joints``.
        direction: ``"bailando"`` or ``"fact"``; report which one next to the number.
        sigma_frames: Gaussian σ in frames (3 in both references: 50 ms at 60 fps).

    Returns:
        Score in [0, 1].

    Raises:
        A2AError: bad direction, non-finite beat times, no music beat within the motion.
    """
    _check_direction(direction)
    positions = validate_joints(joints, min_frames=2)
    rate = validate_fps(fps)
    beat_seconds = np.asarray(music_beats, dtype=np.float64).reshape(-1)
    if not np.isfinite(beat_seconds).all():
        raise A2AError("beat_align_score: music_beats contains NaN or infinite times")
    track_length = positions.shape[0] - 1 if direction == "bailando" else positions.shape[0]
    music_frames = np.unique(np.rint(beat_seconds * rate).astype(np.int64))
    music_frames = music_frames[(music_frames >= 0) & (music_frames < track_length)]
    if music_frames.size == 0:
        raise A2AError(
            f"beat_align_score: no music beat falls inside the motion ({beat_seconds.size} beat times given, "
            f"motion covers frames 0..{track_length - 1} at {rate:g} fps)"
        )
    dance_frames = _motion_beat_frames(positions, direction)
    if dance_frames.size == 0:
        return 0.0
    if direction == "bailando":
        distances = _nearest_distance(music_frames, dance_frames)
    else:
        distances = _nearest_distance(dance_frames, music_frames)
    return float(np.mean(np.exp(-(distances.astype(np.float64) ** 2) / (2.0 * sigma_frames**2))))


def pfc(joints: np.ndarray, fps: float = 30.0, up_axis: str = "z") -> float:
    """EDGE Physical Foot Contact score of one clip (``eval/eval_pfc.py``), before the ×10⁴ scaling.

    With root ``r = joints[:, 0]``: ``a_t = (r[t+2] − 2r[t+1] + r[t]) · fps²`` (EDGE's two finite
    differences), up component clamped to ≥ 0 (falling is free), ``â_t = ‖a_t‖ / max_t ‖a_t‖``; feet
    ``u_{t,k} = ‖p[t+2,k] − p[t+1,k]‖`` over the horizontal components (metres per frame, no ``/dt``) for
    k = left ankle 7, left foot 10, right ankle 8, right foot 11; ``m_L = min(u_7, u_10)``,
    ``m_R = min(u_8, u_11)``; ``PFC = mean_t(m_L · m_R · â_t)`` over ``t = 0 .. T−3``.

    Because ``â`` is normalised per clip, ``fps`` cancels out of the result; the foot term is a per-frame
    displacement, so scores are comparable only at the same frame rate (EDGE: 30 fps, 5-s clips). A root
    with exactly zero acceleration makes EDGE divide 0 by 0 (NaN); this returns 0 (no acceleration to
    explain). A root moving at a constant velocity leaves only rounding noise in ``a``, which EDGE's
    normalisation blows up to order 1: that behaviour is kept.

    Args:
        joints: ``[T, 24, 3]`` SMPL-24 positions in metres, ``T ≥ 3``.
        fps: frame rate (EDGE: 30).
        up_axis: ``"z"`` (EDGE's ``full_pose``) or ``"y"`` (AIST++ / a2a motions; horizontal = x, z).

    Returns:
        The clip's PFC (unscaled).

    Raises:
        MotionFormatError: bad shape, fewer than 3 frames, non-finite values, bad ``fps`` or ``up_axis``.
    """
    positions = validate_joints(joints, min_frames=3, num_joints=24)
    dt = 1.0 / validate_fps(fps)
    if up_axis not in _UP_AXIS_INDEX:
        raise MotionFormatError(f"pfc: up_axis must be 'y' or 'z', got {up_axis!r}")
    up = _UP_AXIS_INDEX[up_axis]
    flat = [axis for axis in range(3) if axis != up]

    root_velocity = (positions[1:, 0] - positions[:-1, 0]) / dt
    root_acceleration = (root_velocity[1:] - root_velocity[:-1]) / dt
    root_acceleration[:, up] = np.maximum(root_acceleration[:, up], 0.0)
    acceleration_norm = np.linalg.norm(root_acceleration, axis=-1)
    peak = acceleration_norm.max()
    if peak == 0.0:
        return 0.0
    relative_acceleration = acceleration_norm / peak

    feet = positions[:, list(PFC_FOOT_JOINTS)][:, :, flat]
    foot_steps = np.linalg.norm(feet[2:] - feet[1:-1], axis=-1)
    left = np.minimum(foot_steps[:, 0], foot_steps[:, 1])
    right = np.minimum(foot_steps[:, 2], foot_steps[:, 3])
    return float(np.mean(left * right * relative_acceleration))


def pfc_dataset(clips: Sequence[np.ndarray], fps: float = 30.0, up_axis: str = "z") -> float:
    """EDGE's reported PFC: ``10⁴ × mean over clips`` of :func:`pfc` (the 10⁴ is in EDGE's code only).

    Args:
        clips: ``[T_i, 24, 3]`` clips in metres (EDGE protocol: 5-s clips with 2.5-s stride over the test
            music, 30 fps, Z-up).
        fps: frame rate of every clip.
        up_axis: ``"z"`` or ``"y"``.

    Returns:
        The scaled dataset PFC (EDGE 1.5363, GT ≈ 1.33 in the paper's protocol).

    Raises:
        A2AError: no clips; MotionFormatError for a bad clip (its index is named).
    """
    if len(clips) == 0:
        raise A2AError("pfc_dataset: no clips given")
    scores = []
    for index, clip in enumerate(clips):
        try:
            scores.append(pfc(clip, fps=fps, up_axis=up_axis))
        except MotionFormatError as error:
            raise MotionFormatError(f"pfc_dataset: clip {index}: {error}") from error
    return float(PFC_SCALE * np.mean(scores))


def bootstrap_ci(
    values: np.ndarray | Sequence[float], n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of a mean (e.g. per-clip BAS or PFC over 40 clips), by
    :func:`scipy.stats.bootstrap`.

    Args:
        values: ``[N]`` per-item values, ``N ≥ 1``, finite.
        n_boot: number of resamples (with replacement, size N).
        seed: seed of ``numpy.random.default_rng``; the same seed gives the same interval.
        alpha: two-sided level: the interval spans the ``alpha/2`` and ``1 − alpha/2`` quantiles.

    Returns:
        ``(mean of values, lower bound, upper bound)``.

    Raises:
        A2AError: empty or non-finite values, ``n_boot < 1``, ``alpha`` outside (0, 1).
    """
    data = np.asarray(values, dtype=np.float64).reshape(-1)
    if data.size == 0:
        raise A2AError("bootstrap_ci: values is empty")
    if not np.isfinite(data).all():
        raise A2AError("bootstrap_ci: values contains NaN or infinite entries")
    if n_boot < 1:
        raise A2AError(f"bootstrap_ci: n_boot must be ≥ 1, got {n_boot}")
    if not 0.0 < alpha < 1.0:
        raise A2AError(f"bootstrap_ci: alpha must lie in (0, 1), got {alpha}")
    mean = float(data.mean())
    if data.size == 1 or np.ptp(data) == 0.0:
        return mean, mean, mean  # every resample has the same mean
    result = scipy.stats.bootstrap(
        (data,),
        np.mean,
        n_resamples=int(n_boot),
        confidence_level=1.0 - alpha,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    interval = result.confidence_interval
    return mean, float(interval.low), float(interval.high)
