"""Beat consistency (BC) between speech onsets and gesture kinematic beats (BEAT, Liu et al. 2022; EMAGE).

Definition (the ``alignment`` class of BEAT's ``utils/metric.py`` and of its successor in EMAGE /
PantoMatrix, which most speech-to-gesture papers report as "BC"):

- **Audio beats** = speech onsets: ``librosa.onset.onset_detect(y, sr, hop_length=512, units="time")``
  (EMAGE; :func:`speech_onsets`). BEAT 2022 backtracked the onsets to RMS minima and converted frames to
  seconds at librosa's default 22,050 Hz whatever the real rate (a 16-kHz signal's onsets come out
  scaled by 0.73); EMAGE's plain onset times are used here.
- **Motion beats** of joint ``j``: the speed ``s_j[t] = ‖v_j[t]‖`` with central differences
  (``np.gradient``: one-sided at the ends; EMAGE), divided by a reference mean speed ``m_j`` (EMAGE: the
  training set's, :func:`mean_joint_speed`; default here: the clip's own), and its strict local minima
  over ``±order`` frames (``scipy.signal.argrelextrema(np.less, order)``, no smoothing, as in both
  references). EMAGE uses ``order = 7`` at 30 fps; a2a states the order in seconds (``7/30 s``) and
  rounds it to frames at the clip's rate (14 at 60 fps). EMAGE keeps a minimum only if
  ``s_j/m_j > 0.3`` — but indexes that test with the frame number *before* cropping its 2-s margins, so
  the test lands 60 frames away from the minimum; BEAT 2022 has no such test. ``min_speed`` applies it at
  the minimum itself; the default 0 follows BEAT 2022 (a hand that stops between strokes has speed 0 at
  exactly the beat, which the test would discard).
- **Score** (BEAT/EMAGE ``GAHR``, direction ``"onsets"``): for each joint,
  ``BC_j = (1/|A|) Σ_{a ∈ A} exp(−min_{b ∈ B_j} (a − b)² / (2σ²))`` over the onsets ``A`` and the joint's
  motion beats ``B_j`` in seconds, with σ = 0.3 s; ``BC`` = mean of ``BC_j`` over the joints scored
  (EMAGE: 13 upper-body SMPL-X joints — spine, neck, head, collars, shoulders, elbows, wrists; BEAT 2022:
  the right wrist's Euler-angle channels only).
  A joint without motion beats scores 0. Direction ``"motion"`` averages over the motion beats instead
  (``(1/|B_j|) Σ_{b} exp(−min_a (b − a)²/(2σ²))``), which never penalises onsets without a gesture.

Onsets outside the motion's time span (``0 .. (T−1)/fps``) are dropped, since each reference cuts the audio
to the motion. EMAGE also skips the first and last 2 s of each clip (``align_mask = 60`` frames at 30 fps):
crop ``joints`` and shift the onsets yourself to reproduce that. Its dataset BC is the mean of the clips'
BCs weighted by their scored frame counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import librosa
import numpy as np
from scipy.signal import argrelextrema

from a2a.errors import A2AError, AudioError
from a2a.metrics.kinetic import validate_fps, validate_joints

__all__ = [
    "BC_SIGMA",
    "EMAGE_ORDER_SECONDS",
    "ONSET_HOP",
    "BCDirection",
    "beat_consistency",
    "gesture_beats",
    "joint_speeds",
    "mean_joint_speed",
    "speech_onsets",
]

BC_SIGMA = 0.3
"""σ of the Gaussian in seconds (BEAT ``alignment(0.3, ...)``, EMAGE ``alignment(0.3, 7, ...)``)."""

EMAGE_ORDER_SECONDS = 7 / 30
"""Half-width of the strict-minimum test: EMAGE's 7 frames at 30 fps."""

ONSET_HOP = 512
"""Hop length of the onset detector in samples (EMAGE)."""

BCDirection = Literal["onsets", "motion"]


def speech_onsets(waveform: np.ndarray, sample_rate: int, hop_length: int = ONSET_HOP) -> np.ndarray:
    """Onset times of speech (EMAGE): ``librosa.onset.onset_detect(..., units="time")``.

    Args:
        waveform: ``[S]`` mono samples.
        sample_rate: samples per second of ``waveform``.
        hop_length: detector hop in samples (512: 32 ms at 16 kHz).

    Returns:
        ``[K]`` onset times in seconds, ascending.

    Raises:
        AudioError: not 1-D, empty, non-finite, or a non-positive rate.
    """
    samples = np.asarray(waveform, dtype=np.float32)
    if samples.ndim != 1 or samples.size == 0:
        raise AudioError(f"speech_onsets: expected mono samples of shape [S], got {samples.shape}")
    if not np.isfinite(samples).all():
        raise AudioError("speech_onsets: waveform contains NaN or infinite samples")
    if sample_rate <= 0:
        raise AudioError(f"speech_onsets: sample_rate must be positive, got {sample_rate}")
    return librosa.onset.onset_detect(y=samples, sr=sample_rate, hop_length=hop_length, units="time")


def joint_speeds(joints: np.ndarray, fps: float) -> np.ndarray:
    """Per-joint speed with central differences (one-sided at both ends).

    Args:
        joints: ``[T, J, 3]`` positions, ``T ≥ 2``.
        fps: frame rate.

    Returns:
        ``[T, J]`` speeds in position units per second.
    """
    positions = validate_joints(joints, min_frames=2)
    velocity = np.gradient(positions, 1.0 / validate_fps(fps), axis=0)
    return np.linalg.norm(velocity, axis=-1)


def mean_joint_speed(clips: Sequence[np.ndarray], fps: float) -> np.ndarray:
    """EMAGE's reference speed ``m_j``: each joint's mean :func:`joint_speeds` over all frames of ``clips``.

    Args:
        clips: ``[T_i, J, 3]`` training clips.
        fps: their frame rate.

    Returns:
        ``[J]`` mean speeds.
    """
    if not clips:
        raise A2AError("mean_joint_speed: no clips given")
    speeds = [joint_speeds(clip, fps) for clip in clips]
    if len({s.shape[1] for s in speeds}) > 1:
        raise A2AError("mean_joint_speed: clips have different joint counts")
    return np.concatenate(speeds).mean(axis=0)


def _selected(num_joints: int, joint_indices: Sequence[int] | None) -> np.ndarray:
    if joint_indices is None:
        return np.arange(num_joints)
    indices = np.asarray(joint_indices, dtype=np.int64).reshape(-1)
    if indices.size == 0:
        raise A2AError("joint_indices is empty")
    if indices.min() < 0 or indices.max() >= num_joints:
        raise A2AError(f"joint_indices {indices.tolist()} out of range for {num_joints} joints")
    return indices


def gesture_beats(
    joints: np.ndarray,
    fps: float,
    *,
    joint_indices: Sequence[int] | None = None,
    order_seconds: float = EMAGE_ORDER_SECONDS,
    min_speed: float = 0.0,
    mean_speed: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Motion beats per joint: strict minima of the normalised speed (see the module docstring).

    Args:
        joints: ``[T, J, 3]`` positions, ``T ≥ 2``.
        fps: frame rate.
        joint_indices: joints to use (default: all), e.g. the rig's upper body.
        order_seconds: half-width of the minimum test, rounded to ``max(1, round(order_seconds · fps))``
            frames.
        min_speed: keep a minimum only if ``s_j[t] / m_j ≥ min_speed`` (EMAGE: 0.3; 0 keeps every one).
        mean_speed: ``[J]`` reference speeds ``m_j`` (default: the clip's per-joint mean speed). A joint
            whose reference speed is 0 never moves and has no beats.

    Returns:
        One ``[K_j]`` array of beat times in seconds (``frame / fps``) per selected joint, in order.
    """
    rate = validate_fps(fps)
    speeds = joint_speeds(joints, rate)
    selected = _selected(speeds.shape[1], joint_indices)
    if mean_speed is None:
        reference = speeds.mean(axis=0)
    else:
        reference = np.asarray(mean_speed, dtype=np.float64).reshape(-1)
        if reference.shape != (speeds.shape[1],) or not np.isfinite(reference).all() or (reference < 0).any():
            raise A2AError(
                f"mean_speed must hold {speeds.shape[1]} finite speeds ≥ 0, got shape {reference.shape}"
            )
    if not np.isfinite(order_seconds) or order_seconds <= 0:
        raise A2AError(f"order_seconds must be positive, got {order_seconds}")
    order = max(1, round(order_seconds * rate))
    beats = []
    for joint in selected:
        if reference[joint] == 0:
            beats.append(np.zeros(0))
            continue
        relative = speeds[:, joint] / reference[joint]
        frames = argrelextrema(relative, np.less, order=order)[0]
        beats.append(frames[relative[frames] >= min_speed] / rate)
    return beats


def _mean_gaussian_hit(queries: np.ndarray, targets: np.ndarray, sigma: float) -> float:
    """``mean_q exp(−min_t (q − t)² / (2σ²))``; 0 if ``targets`` is empty."""
    if targets.size == 0 or queries.size == 0:
        return 0.0
    nearest = np.min(np.abs(queries[:, None] - targets[None, :]), axis=1)
    return float(np.mean(np.exp(-(nearest**2) / (2.0 * sigma**2))))


def beat_consistency(
    joints: np.ndarray,
    onsets: np.ndarray,
    fps: float,
    *,
    joint_indices: Sequence[int] | None = None,
    sigma: float = BC_SIGMA,
    order_seconds: float = EMAGE_ORDER_SECONDS,
    min_speed: float = 0.0,
    mean_speed: np.ndarray | None = None,
    direction: BCDirection = "onsets",
) -> float:
    """Beat consistency of one clip against its speech onsets (the module docstring gives the formula).

    Args:
        joints: ``[T, J, 3]`` positions at ``fps``, ``T ≥ 2``.
        onsets: ``[K]`` speech onset times in seconds from the clip's first frame (:func:`speech_onsets`).
        fps: frame rate of ``joints``.
        joint_indices: joints scored and averaged (default: all; pass the rig's upper body).
        sigma: Gaussian σ in seconds (0.3 in BEAT and EMAGE).
        order_seconds, min_speed, mean_speed: motion-beat detection (:func:`gesture_beats`).
        direction: ``"onsets"`` (BEAT/EMAGE: mean over onsets) or ``"motion"`` (mean over motion beats).

    Returns:
        BC in [0, 1].

    Raises:
        A2AError: bad direction or σ, non-finite onsets, no onset within the motion's time span.
    """
    if direction not in ("onsets", "motion"):
        raise A2AError(f"direction must be 'onsets' or 'motion', got {direction!r}")
    if not np.isfinite(sigma) or sigma <= 0:
        raise A2AError(f"sigma must be positive seconds, got {sigma}")
    rate = validate_fps(fps)
    positions = validate_joints(joints, min_frames=2)
    times = np.asarray(onsets, dtype=np.float64).reshape(-1)
    if not np.isfinite(times).all():
        raise A2AError("beat_consistency: onsets contain NaN or infinite times")
    end = (len(positions) - 1) / rate
    inside = times[(times >= 0) & (times <= end)]
    if inside.size == 0:
        raise A2AError(
            f"beat_consistency: no onset falls inside the motion ({times.size} onsets given, motion spans "
            f"0..{end:g} s)"
        )
    beats = gesture_beats(
        positions,
        rate,
        joint_indices=joint_indices,
        order_seconds=order_seconds,
        min_speed=min_speed,
        mean_speed=mean_speed,
    )
    if direction == "onsets":
        scores = [_mean_gaussian_hit(inside, joint_beats, sigma) for joint_beats in beats]
    else:
        scores = [_mean_gaussian_hit(joint_beats, inside, sigma) for joint_beats in beats]
    return float(np.mean(scores))
