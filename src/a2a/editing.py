"""EDGE's editing: keep part of a given motion exactly and generate the rest to fit the music.

An :class:`Edit` names what to keep — a frame mask ``[N]`` and a channel mask ``[D]`` of the model's
representation — and the motion to take it from. The generator turns it into a replace-style diffusion
constraint (:class:`a2a.diffusion.Constraint`): the kept values are re-noised to every step's level and
pasted in, and the final step pastes the clean values, so the output equals the input there (within the
normaliser's range: a min–max normaliser clips values beyond what the model was trained on).

- :func:`keep_joints`: joint-wise editing — keep the given joints (``lower_body``, ``upper_body`` or
  names) of a motion over its whole length and generate the others (EDGE's "lower body" edits);
- :func:`prefix`: temporal — continue a given dance: its frames are kept, the music decides the rest;
- :func:`inbetween`: temporal — fill the frames between two given clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from a2a.errors import A2AError
from a2a.motion.motion import Motion

# SMPL-24 joints of the legs and hips; the root's translation (and EDGE's foot contacts) go with them.
LOWER_BODY = (
    "Pelvis",
    "Left_hip",
    "Right_hip",
    "Left_knee",
    "Right_knee",
    "Left_ankle",
    "Right_ankle",
    "Left_foot",
    "Right_foot",
)
UPPER_BODY = (
    "Spine1",
    "Spine2",
    "Spine3",
    "Neck",
    "Left_collar",
    "Right_collar",
    "Head",
    "Left_shoulder",
    "Right_shoulder",
    "Left_elbow",
    "Right_elbow",
    "Left_wrist",
    "Right_wrist",
    "Left_palm",
    "Right_palm",
)
BODY_PARTS = {"lower_body": LOWER_BODY, "upper_body": UPPER_BODY}


@dataclass
class Edit:
    """What to keep from ``motion`` (placed at output frame 0).

    Attributes:
        motion: the source of the kept values, at the model's frame rate; frame ``i`` of it is output
            frame ``i`` (``inbetween`` builds a motion spanning the whole output).
        frames: ``[N_keep]`` bool, True where output frames are kept (frames past it are generated).
        joints: the joints kept at those frames (``None``: every channel, the root's too).
        root: keep the root translation (and contacts) at those frames as well.
    """

    motion: Motion
    frames: np.ndarray
    joints: tuple[str, ...] | None = None
    root: bool = True

    def __post_init__(self) -> None:
        self.frames = np.asarray(self.frames, dtype=bool)
        if self.frames.ndim != 1 or len(self.frames) != self.motion.num_frames:
            raise A2AError(
                f"edit frame mask has shape {self.frames.shape}; "
                f"the motion has {self.motion.num_frames} frames"
            )


def _joint_names(joints: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(joints, str):
        if joints in BODY_PARTS:
            return BODY_PARTS[joints]
        joints = [name.strip() for name in joints.split(",") if name.strip()]
    names = tuple(joints)
    if not names:
        raise A2AError(
            "--keep-joints names no joints (lower_body, upper_body, or comma-separated joint names)"
        )
    return names


def keep_joints(motion: Motion, joints: str | Sequence[str] = "lower_body") -> Edit:
    """Keep ``joints`` of ``motion`` (``lower_body``, ``upper_body`` or joint names) at every frame; the
    root translation is kept with ``lower_body`` (and whenever the pelvis is kept)."""
    names = _joint_names(joints)
    unknown = [n for n in names if n not in motion.skeleton.names]
    if unknown:
        raise A2AError(
            f"--keep-joints: {', '.join(unknown)} not in the {motion.skeleton.num_joints}-joint rig "
            f"(known: {', '.join(motion.skeleton.names)}, or lower_body / upper_body)"
        )
    return Edit(
        motion, np.ones(motion.num_frames, dtype=bool), names, root=names[0] == "Pelvis" or "Pelvis" in names
    )


def prefix(motion: Motion) -> Edit:
    """Continue ``motion``: its frames are output frames ``0 … len − 1``, kept whole."""
    return Edit(motion, np.ones(motion.num_frames, dtype=bool))


def inbetween(start: Motion, end: Motion, total_frames: int) -> Edit:
    """Keep ``start`` at the beginning and ``end`` at the end of a ``total_frames``-frame output; the frames
    between are generated. Both clips must fit without overlapping."""
    if start.num_frames + end.num_frames >= total_frames:
        raise A2AError(
            f"--inbetween: the start ({start.num_frames} frames) and end ({end.num_frames}) clips leave no "
            f"frames to fill in {total_frames} frames of music"
        )
    if start.skeleton != end.skeleton:
        raise A2AError("--inbetween: the start and end clips are on different rigs")
    gap = total_frames - start.num_frames - end.num_frames
    # The generated frames need placeholder values; they are not kept, so holding the last start pose
    # is as good as anything.
    filler = start[start.num_frames - 1 :]
    poses = np.concatenate([start.poses, np.repeat(filler.poses, gap, 0), end.poses])
    trans = np.concatenate([start.trans, np.repeat(filler.trans, gap, 0), end.trans])
    frames = np.zeros(total_frames, dtype=bool)
    frames[: start.num_frames] = True
    frames[total_frames - end.num_frames :] = True
    return Edit(start.with_poses(poses, trans), frames)
