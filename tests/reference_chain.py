"""Test helper: the subnet-25 reference miner's BVH pipeline and the validator's bvhio scoring loop,
re-implemented from their descriptions (``/work/shared/reference/subnet25.md`` §3.2, §4.1, §4.2) with the
real ``bvhio`` package, to check a2a's native writer, reader and score against them.

Pipeline: Y-up a2a Motion → EDGE's Z-up conversion (root rotation left-multiplied by +90° about X,
translation (x, y, z) → (x, −z, y)) → smpl2bvh text (pelvis-rest root offset, SMPL offsets in cm, root
``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, others ``Zrotation Yrotation Xrotation``,
quaternion → ZYX Euler degrees with smpl2bvh's formulas, ``%f``, tabs) → bvhio transform
(``RestPose.Scale = 1``, ``RestPose.addEuler(rotation)``, ``RestPose.PositionWorld = position``,
``writeHierarchy(path, root, 1/30)``).

Also importable by ``benchmarks/bench_validator.py`` (it puts this folder on ``sys.path``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import bvhio
import numpy as np

from a2a.motion import Motion
from a2a.motion.rotations import axis_angle_to_quaternion, quaternion_multiply, quaternion_to_axis_angle
from a2a.motion.skeleton import SMPL_JOINT_NAMES, SMPL_MALE_OFFSETS, SMPL_MALE_PELVIS_REST, SMPL_PARENTS

REFERENCE_ROTATION = (-90.0, 0.0, 0.0)
REFERENCE_POSITION = (-40.0, -95.0, 40.0)


def random_smooth_motion(
    frames: int,
    seed: int,
    rotation_amplitude: float = 0.6,
    translation_amplitude: float = 1.0,
    fps: float = 30.0,
) -> Motion:
    """A smooth random SMPL-24 motion: each rotation/translation coordinate is a sum of three sinusoids.

    Args:
        frames: number of frames N.
        seed: random seed.
        rotation_amplitude: per-sinusoid amplitude of the axis-angle coordinates (radians); the root gets
            three times as much, so values around 1 give root turns beyond 180°.
        translation_amplitude: per-sinusoid amplitude of the translation (metres).
        fps: frame rate of the result.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps

    def waves(count: int, amplitude: float) -> np.ndarray:
        freq = rng.uniform(0.1, 1.5, size=(3, 1, count))
        phase = rng.uniform(0, 2 * np.pi, size=(3, 1, count))
        amp = amplitude * rng.uniform(0.3, 1.0, size=(3, 1, count))
        return (amp * np.sin(2 * np.pi * freq * t[None, :, None] + phase)).sum(0)  # [N, count]

    poses = waves(72, rotation_amplitude).reshape(frames, 24, 3)
    poses[:, 0] *= 3.0
    trans = waves(3, translation_amplitude)
    return Motion(poses, trans, fps)


def edge_zup(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """EDGE's Y-up → Z-up conversion: ``poses [N, 24, 3]``, ``trans [N, 3]`` (metres) in Z-up."""
    quarter_turn_x = np.array([np.cos(np.pi / 4), np.sin(np.pi / 4), 0.0, 0.0])  # +90° about X, wxyz
    root = axis_angle_to_quaternion(motion.poses[:, 0])
    poses = motion.poses.copy()
    poses[:, 0] = quaternion_to_axis_angle(
        quaternion_multiply(np.broadcast_to(quarter_turn_x, root.shape).copy(), root)
    )
    x, y, z = motion.trans.T
    return poses, np.stack([x, -z, y], axis=-1)


def _smpl2bvh_quaternions(rots: np.ndarray) -> np.ndarray:
    """smpl2bvh ``quat.from_axis_angle``: divides by the angle, so a zero rotation gives NaN."""
    angle = np.linalg.norm(rots, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        axis = rots / angle[..., None]
    return np.concatenate([np.cos(angle / 2.0)[..., None], np.sin(angle / 2.0)[..., None] * axis], axis=-1)


def _smpl2bvh_euler_zyx(q: np.ndarray) -> np.ndarray:
    """smpl2bvh ``quat.to_euler(order="zyx")`` (radians, stored as z, y, x)."""
    q0, q1, q2, q3 = q[..., 0:1], q[..., 1:2], q[..., 2:3], q[..., 3:4]
    return np.concatenate(
        [
            np.arctan2(2 * (q0 * q3 + q1 * q2), 1 - 2 * (q2 * q2 + q3 * q3)),
            np.arcsin((2 * (q0 * q2 - q3 * q1)).clip(-1, 1)),
            np.arctan2(2 * (q0 * q1 + q2 * q3), 1 - 2 * (q1 * q1 + q2 * q2)),
        ],
        axis=-1,
    )


def smpl2bvh_text(poses: np.ndarray, trans: np.ndarray, fps: float = 30.0) -> str:
    """The BVH text smpl2bvh writes for SMPL ``poses [N, 24, 3]`` and ``trans [N, 3]`` (metres)."""
    offsets = SMPL_MALE_OFFSETS * 100.0
    offsets[0] = SMPL_MALE_PELVIS_REST * 100.0
    with np.errstate(invalid="ignore"):
        rotations = np.degrees(_smpl2bvh_euler_zyx(_smpl2bvh_quaternions(poses)))
    root_positions = offsets[0] + trans * 100.0

    lines = [
        "HIERARCHY",
        f"ROOT {SMPL_JOINT_NAMES[0]}",
        "{",
        "\tOFFSET " + " ".join(f"{v:f}" for v in offsets[0]),
        "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation ",
    ]
    save_order = [0]

    def save_joint(i: int, tab: str) -> None:
        save_order.append(i)
        lines.extend([f"{tab}JOINT {SMPL_JOINT_NAMES[i]}", tab + "{"])
        inner = tab + "\t"
        lines.append(inner + "OFFSET " + " ".join(f"{v:f}" for v in offsets[i]))
        lines.append(inner + "CHANNELS 3 Zrotation Yrotation Xrotation")
        children = [j for j, p in enumerate(SMPL_PARENTS) if p == i]
        for j in children:
            save_joint(j, inner)
        if not children:
            lines.extend(
                [inner + "End Site", inner + "{", inner + "\tOFFSET 0.000000 0.000000 0.000000", inner + "}"]
            )
        lines.append(tab + "}")

    for j, p in enumerate(SMPL_PARENTS):
        if p == 0:
            save_joint(j, "\t")
    lines.extend(["}", "MOTION", f"Frames: {len(poses)}", "Frame Time: %f" % (1.0 / fps)])
    for f in range(len(poses)):
        values = [*root_positions[f], *rotations[f, 0]]
        for j in save_order[1:]:
            values.extend(rotations[f, j])
        lines.append("".join(f"{v:f} " for v in values))
    return "\n".join(lines) + "\n"


def bvhio_transform(
    src: Path,
    dst: Path,
    rotation: Sequence[float] = REFERENCE_ROTATION,
    position: Sequence[float] = REFERENCE_POSITION,
    scale: float = 1.0,
) -> Path:
    """The reference miner's ``transform_edge_bvh`` + ``writeHierarchy`` with the real bvhio."""
    root = bvhio.readAsHierarchy(str(src))
    root.RestPose.Scale = scale
    root.RestPose.addEuler(tuple(rotation))
    root.RestPose.PositionWorld = tuple(position)
    bvhio.writeHierarchy(str(dst), root, 1 / 30)
    return dst


def reference_miner_bvh(
    motion: Motion,
    folder: Path,
    rotation: Sequence[float] = REFERENCE_ROTATION,
    position: Sequence[float] = REFERENCE_POSITION,
    scale: float = 1.0,
) -> Path:
    """Run the whole reference chain on a Y-up ``motion`` (30 fps); returns the final BVH path."""
    if abs(motion.fps - 30.0) > 1e-9:
        motion = motion.resample(30.0)
    poses, trans = edge_zup(motion)
    raw = folder / "smpl2bvh.bvh"
    raw.write_text(smpl2bvh_text(poses, trans))
    return bvhio_transform(raw, folder / "reference.bvh", rotation, position, scale)


def bvhio_world_positions(path: Path, names: Sequence[str]) -> np.ndarray:
    """bvhio ``PositionWorld`` of the joints ``names`` for every frame: ``[F, len(names), 3]``."""
    root = bvhio.readAsHierarchy(str(path))
    frames = bvhio.readAsBvh(str(path)).FrameCount
    out = np.empty((frames, len(names), 3))
    for f in range(frames):
        root.loadPose(f)
        by_name = {joint.Name: joint for joint, _, _ in root.layout()}
        for k, name in enumerate(names):
            out[f, k] = tuple(by_name[name].PositionWorld)
    return out


def validator_compute_rmse(pred_path: Path, ref_path: Path, joint_map: Sequence[tuple[str, str]]) -> float:
    """The validator's ``compute_rmse`` loop, step for step: both files through bvhio, for each mapped
    joint and each common frame a full ``loadPose`` of both hierarchies and a scan of ``layout()`` by
    name; positions persist across joints when a name is missing (the validator's quirk)."""
    pred_root = bvhio.readAsHierarchy(str(pred_path))
    ref_root = bvhio.readAsHierarchy(str(ref_path))
    frames = min(bvhio.readAsBvh(str(pred_path)).FrameCount, bvhio.readAsBvh(str(ref_path)).FrameCount)
    per_joint = []
    pred_position = 0
    ref_position = 0
    for pred_name, ref_name in joint_map:
        total = 0
        for frame in range(frames):
            for joint, _, _ in pred_root.loadPose(frame).layout():
                if joint.Name == pred_name:
                    pred_position = joint.PositionWorld
            for joint, _, _ in ref_root.loadPose(frame).layout():
                if joint.Name == ref_name:
                    ref_position = joint.PositionWorld
            difference = pred_position - ref_position
            total = total + np.sqrt(np.mean(difference**2))
        per_joint.append(total / frames)
    return float(sum(per_joint))
