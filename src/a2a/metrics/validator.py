"""The subnet-25 validator's score of a BVH answer against the reference BVH, reproduced exactly.

The validator (``vpa2a/validator/rmse.py`` and ``reward.py``, spec version 40) computes:

- **rmse**: for each of the 22 mapped joint pairs ``(answer name, reference name)`` and each frame
  ``i < F = min(frames of answer, frames of reference)``: ``d = p_answer − p_reference`` (bvhio
  ``PositionWorld`` after ``loadPose(i)``, BVH units = cm), ``rms_i = sqrt(mean_xyz(d²))``; the joint's
  error is ``Σ_i rms_i / F`` and **rmse is the sum over the joints** (not the mean).
- **correctness** ``c = 0.1`` if rmse > 4000, else ``1 − rmse · (1.0 − 0.1) / 4000``.
- **speed** ``s = sigmoid((1 − t/180) − 0.5)`` with t the dendrite process time in seconds
  (``None`` → 120 s), computed in float32 as the validator does with a torch tensor.
- **reward** ``0.7·c + 0.3·s``; an empty answer scores 0.

Quirks reproduced (see ``subnet25.md`` §3.4):

1. A joint name that is missing from a file keeps the *previous* position: the validator's position
   variables are set once before the joint loop and only overwritten on a name match, so a missing joint
   takes the last matched joint's position at the last compared frame (constant over frames), or the
   origin (the integer 0) when no joint has matched yet. With repeated names the last joint in file
   order wins (the lookup scans the whole hierarchy without stopping).
2. Only the first ``min(F_answer, F_reference)`` frames are compared.
3. The frame rate is not checked: frame i is compared with frame i whatever ``Frame Time`` says.
4. A NaN rmse (NaN channels) gives a NaN reward, which the validator's score update turns into 0; here
   ``reward`` is reported as 0.0 and ``rmse``/``correctness`` stay NaN.

Numerics: a2a computes in float64 from the file's numbers; bvhio works in float32 and the validator sums
the per-frame rms in float32, so the two rmse values differ by about 1e-6 relative.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from a2a.errors import BVHError
from a2a.motion.bvh import BVHData, is_bvh_text, read_bvh
from a2a.motion.library_rig import LIBRARY_NAMES as _LIBRARY_NAMES
from a2a.motion.library_rig import SMPL_NAMES as _SMPL_NAMES

JointMap = Sequence[tuple[str, str]]

# (answer joint, reference joint) pairs, in the validator's order (the order matters for quirk 1).
EDGE_LIBRARY: tuple[tuple[str, str], ...] = tuple(zip(_SMPL_NAMES, _LIBRARY_NAMES, strict=True))
EDGE_EDGE: tuple[tuple[str, str], ...] = tuple(zip(_SMPL_NAMES, _SMPL_NAMES, strict=True))
LIBRARY_LIBRARY: tuple[tuple[str, str], ...] = tuple(zip(_LIBRARY_NAMES, _LIBRARY_NAMES, strict=True))
JOINT_MAPS: dict[str, tuple[tuple[str, str], ...]] = {
    "edge_library": EDGE_LIBRARY,
    "edge_edge": EDGE_EDGE,
    "library_library": LIBRARY_LIBRARY,
}
# joint_map=AUTO: the map named after the two files' rigs, answer first (detect_joint_map).
AUTO = "auto"
RIGS: dict[str, tuple[str, ...]] = {"edge": _SMPL_NAMES, "library": _LIBRARY_NAMES}

MAX_RESPONSE_TIME = 180.0
DEFAULT_PROCESS_TIME = 120.0  # the validator's stand-in when the dendrite reports no process time
MAX_ALLOWABLE_RMSE = 4000.0
MIN_CORRECTNESS = 0.1
MAX_CORRECTNESS = 1.0
CORRECTNESS_WEIGHT = 0.7
SPEED_WEIGHT = 0.3


def resolve_joint_map(joint_map: str | JointMap) -> tuple[tuple[str, str], ...]:
    """A joint map by name (``edge_library``, ``edge_edge``, ``library_library``) or given as pairs."""
    if isinstance(joint_map, str):
        if joint_map not in JOINT_MAPS:
            raise BVHError(f"unknown joint map {joint_map!r}; expected one of {', '.join(JOINT_MAPS)}")
        return JOINT_MAPS[joint_map]
    pairs = tuple((str(a), str(b)) for a, b in joint_map)
    if not pairs:
        raise BVHError("the joint map is empty")
    return pairs


def detect_rig(bvh: BVHData) -> str | None:
    """``"edge"`` (smpl2bvh names: a2a's and EDGE's export) or ``"library"`` (the subnet's library rig):
    the rig whose 22 mapped names the file has most of; ``None`` when it has none of either."""
    names = set(bvh.names)
    counts = {rig: sum(name in names for name in rig_names) for rig, rig_names in RIGS.items()}
    best = max(counts, key=lambda rig: counts[rig])
    return best if counts[best] else None


def detect_joint_map(pred: BVHData, ref: BVHData) -> str:
    """The name of the joint map that pairs the rigs of ``pred`` and ``ref`` (``edge_edge`` for two a2a
    exports, ``edge_library`` for an a2a answer against the subnet's library reference, ...).

    Raises:
        BVHError: a file uses neither rig, or the pair has no validator map (a library-rig answer
            against an a2a reference).
    """
    rigs = []
    for data, side in ((pred, "answer"), (ref, "reference")):
        rig = detect_rig(data)
        if rig is None:
            raise BVHError(
                f"{data.source}: the {side}'s joints are neither the smpl2bvh names (Pelvis, Left_hip, ...) "
                "nor the subnet library rig's (hips_JNT, ...); name a joint map"
            )
        rigs.append(rig)
    name = "_".join(rigs)
    if name not in JOINT_MAPS:
        raise BVHError(
            f"{pred.source} uses the {rigs[0]} rig and {ref.source} the {rigs[1]} rig: no validator joint "
            f"map pairs them in this order (maps: {', '.join(JOINT_MAPS)}); swap the answer and the reference"
        )
    return name


def missing_joints_message(missing: Sequence[str], joint_map: str) -> str:
    """A warning for mapped joints absent from a file: the score then measures the validator's quirk 1."""
    shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
    return (
        f"{len(missing)} mapped joint(s) missing with joint map {joint_map} ({shown}): the validator "
        "reuses the previous joint's position for them, so this score says little; check the joint map"
    )


def missing_joints(pred: BVHData, ref: BVHData, joint_map: str | JointMap = "edge_library") -> list[str]:
    """Mapped joint names absent from their file, as ``"answer:<name>"`` / ``"reference:<name>"``."""
    pairs = resolve_joint_map(joint_map)
    pred_names, ref_names = set(pred.names), set(ref.names)
    missing = [f"answer:{a}" for a, _ in pairs if a not in pred_names]
    return missing + [f"reference:{b}" for _, b in pairs if b not in ref_names]


def _mapped_positions(
    data: BVHData, names: Sequence[str], frames: int, side: str, strict: bool
) -> np.ndarray:
    """World positions ``[M, F, 3]`` of the mapped joints, with quirk 1 for missing names."""
    world = data.world_positions()[:frames]
    lookup = data.name_to_index()
    out = np.empty((len(names), frames, 3))
    held = np.zeros(3)  # the validator's position variable starts as the integer 0 (the origin)
    for m, name in enumerate(names):
        j = lookup.get(name)
        if j is None:
            if strict:
                raise BVHError(f"{data.source}: {side} has no joint {name!r} (joint map needs it)")
            out[m] = held
        else:
            out[m] = world[:, j]
            held = world[frames - 1, j]
    return out


def rmse(
    pred: BVHData, ref: BVHData, joint_map: str | JointMap = "edge_library", strict: bool = False
) -> float:
    """The validator's rmse: Σ over mapped joints of the mean over common frames of ``‖Δp‖/√3`` (cm).

    Args:
        pred: the answer (the miner's BVH).
        ref: the reference BVH.
        joint_map: pairs ``(pred name, ref name)`` or the name of a map in :data:`JOINT_MAPS`.
        strict: raise :class:`BVHError` naming the joint when a mapped joint is missing, instead of the
            validator's reuse of the previous position.
    """
    pairs = resolve_joint_map(joint_map)
    frames = min(pred.num_frames, ref.num_frames)
    p = _mapped_positions(pred, [a for a, _ in pairs], frames, "the answer", strict)
    r = _mapped_positions(ref, [b for _, b in pairs], frames, "the reference", strict)
    per_frame = np.sqrt(np.mean((p - r) ** 2, axis=-1))  # [M, F]
    return float(np.sum(per_frame.sum(axis=1) / frames))


def correctness(rmse_value: float) -> float:
    """``0.1`` above rmse 4000, else ``1 − rmse·0.9/4000`` (exactly the validator's float arithmetic)."""
    if rmse_value > MAX_ALLOWABLE_RMSE:
        return MIN_CORRECTNESS
    k = (MAX_CORRECTNESS - MIN_CORRECTNESS) / MAX_ALLOWABLE_RMSE
    return 1 - (rmse_value * k)


def speed(process_time: float | None) -> float:
    """``sigmoid((1 − t/180) − 0.5)`` in float32 as the validator computes it; ``None`` counts as 120 s."""
    t = DEFAULT_PROCESS_TIME if process_time is None else float(process_time)
    x = torch.tensor([1 - t / MAX_RESPONSE_TIME])  # float32, like the validator's torch.tensor
    return float((1 / (1 + torch.exp(-1.0 * (x - 0.5)))).item())


def reward(correctness_value: float, speed_value: float) -> float:
    """``0.7·correctness + 0.3·speed`` (NaN → 0, as the validator's score update does)."""
    value = CORRECTNESS_WEIGHT * correctness_value + SPEED_WEIGHT * speed_value
    return 0.0 if math.isnan(value) else value


def score(
    pred: BVHData,
    ref: BVHData,
    process_time: float | None = None,
    joint_map: str | JointMap = "edge_library",
    strict: bool = False,
) -> dict:
    """Full validator score of ``pred`` against ``ref``.

    ``joint_map="auto"`` picks the map from the two files' joint names (:func:`detect_joint_map`).

    Returns:
        ``{"rmse", "correctness", "speed", "reward", "frames", "missing_joints", "joint_map"}``;
        ``frames`` is the number of compared frames, ``missing_joints`` lists mapped names absent from
        either file (``"answer:<name>"``/``"reference:<name>"``), which the validator silently scores by
        quirk 1; ``joint_map`` is the map's name (``"custom"`` for explicit pairs).
    """
    if joint_map == AUTO:
        joint_map = detect_joint_map(pred, ref)
    error = rmse(pred, ref, joint_map, strict=strict)
    c = correctness(error)
    s = speed(process_time)
    return {
        "rmse": error,
        "correctness": c,
        "speed": s,
        "reward": reward(c, s),
        "frames": min(pred.num_frames, ref.num_frames),
        "missing_joints": missing_joints(pred, ref, joint_map),
        "joint_map": joint_map if isinstance(joint_map, str) else "custom",
    }


def score_files(
    pred_path: str | os.PathLike,
    ref_path: str | os.PathLike,
    time: float | None = None,
    joint_map: str | JointMap = "edge_library",
    strict: bool = False,
) -> dict:
    """:func:`score` of two BVH files (paths or BVH text). An empty answer (empty file or empty
    string) scores reward 0 like the validator, with the other fields ``None``."""
    ref = read_bvh(ref_path)
    if _is_empty_answer(pred_path):
        return {
            "rmse": None,
            "correctness": None,
            "speed": None,
            "reward": 0.0,
            "frames": 0,
            "missing_joints": [],
            "joint_map": joint_map if isinstance(joint_map, str) else "custom",
        }
    return score(read_bvh(pred_path), ref, time, joint_map, strict=strict)


def _is_empty_answer(pred: str | os.PathLike) -> bool:
    """An empty string, or a path to an empty file (BVH text is never empty)."""
    if isinstance(pred, str):
        if not pred:
            return True
        if is_bvh_text(pred):
            return False
    path = Path(pred)
    return path.is_file() and path.stat().st_size == 0
