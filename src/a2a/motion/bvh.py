"""BVH files: a reader for any BVH, a writer whose output the subnet-25 validator scores like the
reference miner's, and a writer for motions on any other rig (:func:`write_rig_bvh`, e.g. ZEGGS).

**Writer.** The reference miner (subnet 25) turns EDGE's Z-up SMPL output into a BVH with smpl2bvh and
then re-aligns it with bvhio (root ``RestPose.Scale = 1``, ``RestPose.addEuler((-90, 0, 0))``,
``RestPose.PositionWorld = (-40, -95, 40)``, ``writeHierarchy``). bvhio stores keyframes relative to the
rest pose, so those three edits move the whole animation rigidly: every joint the validator reads sits at

    p_world = position + scale · E · Rx(+90°) · 100 · fk_yup(motion)      (cm)

where ``fk_yup`` is forward kinematics of a2a's Y-up :class:`~a2a.motion.Motion` with the root at the
translation (EDGE's convention), ``Rx(+90°)`` is EDGE's Y-up → Z-up conversion and ``E`` is the
``addEuler`` rotation. With the default transform ``E · Rx(+90°)`` is the identity. :func:`motion_to_bvh`
writes that result directly (plain numpy, no bvhio): smpl2bvh joint names, order and channel layout
(root ``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, other joints
``Zrotation Yrotation Xrotation``, ``R = Rz·Ry·Rx``), SMPL male offsets in cm (Y-up, so the rest pose is
upright), root rotation ``E·Rx(90°)·R_root``, root position channels ``position + scale·E·Rx(90°)·100·trans``,
``%f`` numbers and ``Frame Time: 0.033333``. Differences from the reference chain, none of which moves a
joint by more than bvhio's own float32 noise (~1e-4 cm):

- smpl2bvh converts axis-angle to quaternions by dividing by the angle, so an exactly zero rotation
  becomes NaN in its file (and the validator then scores it 0); this writer goes through rotation
  matrices and writes 0.
- bvhio re-expresses offsets and rotations in the rotated frame and writes ZXY channels; this file keeps
  Y-up offsets and ZYX channels. Only world positions matter to the validator.
- bvhio drops a joint's rotation channels when its rotation is nearly the identity over the whole clip
  (summed quaternion deviation < 0.01); this writer keeps every channel.

The file is 30 fps like the reference miner's; a Motion at another rate is resampled to 30 fps first
(:meth:`Motion.resample`: every k-th frame for an integer ratio such as 60 → 30, else slerp).

**Reader.** :func:`read_bvh` parses any BVH (any skeleton, channel order, 3- or 6-channel joints, End
Sites, CRLF, tabs) and computes world joint positions the way bvhio does: a joint's translation is its
OFFSET with each position channel present *replacing* that component (so the root's OFFSET is ignored
when it has all three position channels), and its rotation is the product of its rotation channels in
file order (``Zrotation Xrotation Yrotation`` → ``R = Rz·Rx·Ry``).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from a2a.errors import A2AError, BVHError
from a2a.motion.motion import Motion
from a2a.motion.rotations import (
    axis_angle_to_matrix,
    check_euler_order,
    matrix_to_axis_angle,
    matrix_to_euler,
)
from a2a.motion.skeleton import SMPL24, Skeleton

EXPORT_FPS = 30.0
# smpl2bvh prints the frame time with %f: 1/30 → 0.033333.
EXPORT_FRAME_TIME = "%f" % (1.0 / EXPORT_FPS)
CM_PER_METRE = 100.0

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
_CHANNEL_BY_LOWER = {c.lower(): c for c in POSITION_CHANNELS + ROTATION_CHANNELS}
_AXIS_INDEX = {"X": 0, "Y": 1, "Z": 2}

# EDGE turns AIST++ Y-up into Z-up by rotating +90° about X: (x, y, z) → (x, −z, y).
_EDGE_Y_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def _axis_matrices(axis: str, radians: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` about one coordinate axis (column vectors, right-handed)."""
    c, s = np.cos(radians), np.sin(radians)
    out = np.zeros(radians.shape + (3, 3))
    i = _AXIS_INDEX[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., k, j] = s
    out[..., j, k] = -s
    return out


# --- export transform ------------------------------------------------------------------------------


def _three_floats(value: Any, name: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise A2AError(f"export.transform.{name} must be three numbers, got {value!r}") from None
    if len(out) != 3 or not all(np.isfinite(out)):
        raise A2AError(f"export.transform.{name} must be three finite numbers, got {value!r}")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class ExportTransform:
    """Where the exported animation lands, as the reference miner's bvhio step puts it.

    Attributes:
        rotation: Euler angles in degrees ``(x, y, z)`` applied like bvhio's
            ``RestPose.addEuler(rotation)`` (SpatialTransform defaults: order ``ZXY``, extrinsic,
            pre-multiplied, i.e. ``E = Ry(y)·Rx(x)·Rz(z)``) to EDGE's Z-up output. The default
            ``(-90, 0, 0)`` undoes EDGE's +90° about X, so the file is Y-up.
        position: world position of the root's rest pose in cm (bvhio ``RestPose.PositionWorld``): the
            point where a zero root translation puts the pelvis.
        scale: uniform scale of the whole animation about ``position`` (bvhio ``RestPose.Scale``).
    """

    rotation: tuple[float, float, float] = (-90.0, 0.0, 0.0)
    position: tuple[float, float, float] = (-40.0, -95.0, 40.0)
    scale: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation", _three_floats(self.rotation, "rotation"))
        object.__setattr__(self, "position", _three_floats(self.position, "position"))
        try:
            scale = float(self.scale)
        except (TypeError, ValueError):
            raise A2AError(f"export.transform.scale must be a number, got {self.scale!r}") from None
        if not (np.isfinite(scale) and scale > 0):
            raise A2AError(f"export.transform.scale must be a positive number, got {self.scale!r}")
        object.__setattr__(self, "scale", scale)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | ExportTransform | None) -> ExportTransform:
        """Build from a plain mapping such as the Hydra value ``export.transform`` (missing keys keep
        their defaults; ``None`` gives the default transform)."""
        if value is None:
            return cls()
        if isinstance(value, ExportTransform):
            return value
        if not isinstance(value, Mapping):
            raise A2AError(f"export.transform must be a mapping, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(str(k) for k in value if k not in known)
        if unknown:
            expected = ", ".join(sorted(known))
            raise A2AError(f"export.transform has unknown key(s) {', '.join(unknown)}; expected {expected}")
        return cls(**{str(k): v for k, v in value.items()})

    def euler_matrix(self) -> np.ndarray:
        """``E [3, 3]``: the ``addEuler`` rotation, ``Ry(y)·Rx(x)·Rz(z)``."""
        x, y, z = np.radians(self.rotation)
        return (
            _axis_matrices("Y", np.array(y))
            @ _axis_matrices("X", np.array(x))
            @ _axis_matrices("Z", np.array(z))
        )

    def frame_rotation(self) -> np.ndarray:
        """``[3, 3]`` rotation from a2a's Y-up frame to the file's frame: ``E · Rx(+90°)`` (EDGE's Z-up
        conversion followed by the bvhio rotation); the identity for the default transform."""
        return self.euler_matrix() @ _EDGE_Y_TO_Z_UP


# --- writer -----------------------------------------------------------------------------------------


def _depth_first_order(parents: tuple[int, ...]) -> list[int]:
    """Joint indices depth-first from the root, children by index (smpl2bvh's file order)."""
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for c, p in enumerate(parents):
            if p == j:
                visit(c)

    visit(0)
    return order


def _hierarchy_text(offsets_cm: np.ndarray, root_offset: np.ndarray) -> str:
    names, parents = SMPL24.names, SMPL24.parents
    lines = ["HIERARCHY"]

    def write(j: int, depth: int) -> None:
        tab = "\t" * depth
        lines.append(f"{tab}{'ROOT' if j == 0 else 'JOINT'} {names[j]}")
        lines.append(tab + "{")
        offset = root_offset if j == 0 else offsets_cm[j]
        lines.append(tab + "\tOFFSET " + " ".join(f"{v:f}" for v in offset))
        if j == 0:
            lines.append(tab + "\tCHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation")
        else:
            lines.append(tab + "\tCHANNELS 3 Zrotation Yrotation Xrotation")
        children = [c for c, p in enumerate(parents) if p == j]
        for c in children:
            write(c, depth + 1)
        if not children:
            lines.extend(
                [tab + "\tEnd Site", tab + "\t{", tab + "\t\tOFFSET 0.000000 0.000000 0.000000", tab + "\t}"]
            )
        lines.append(tab + "}")

    write(0, 0)
    return "\n".join(lines)


def motion_to_bvh(motion: Motion, transform: ExportTransform | None = None) -> str:
    """BVH text for ``motion`` that the subnet-25 validator reads like the reference miner's output.

    Args:
        motion: Y-up SMPL-24 motion (``poses [N, 24, 3]``, ``trans [N, 3]`` metres); resampled to 30 fps
            when it has another frame rate.
        transform: placement in the validator's world (default: the reference miner's constants).

    Returns:
        The file text (``\\n`` line ends, no blank lines: bvhio 1.3.8 cannot parse blank lines).
    """
    transform = transform or ExportTransform()
    if motion.skeleton.names != SMPL24.names:
        raise BVHError(
            f"the validator-exact BVH is for SMPL-24 motions; this one is on a {motion.skeleton.num_joints}-"
            "joint rig (write it with write_rig_bvh)"
        )
    if motion.num_frames == 0:
        raise BVHError("cannot export a motion with zero frames (the validator would divide by zero)")
    if abs(motion.fps - EXPORT_FPS) > 1e-9:
        motion = motion.resample(EXPORT_FPS)
    frame = transform.frame_rotation()
    scale_cm = transform.scale * CM_PER_METRE
    position = np.asarray(transform.position)

    local = axis_angle_to_matrix(motion.poses)  # [N, 24, 3, 3]
    local[:, 0] = frame @ local[:, 0]
    euler_zyx = np.degrees(matrix_to_euler(local, "ZYX"))  # [N, 24, 3] as (z, y, x)
    root_position = position + scale_cm * motion.trans @ frame.T  # [N, 3]

    order = _depth_first_order(SMPL24.parents)
    columns = np.concatenate([root_position, euler_zyx[:, order].reshape(len(motion.poses), -1)], axis=1)
    row_format = " ".join(["%f"] * columns.shape[1])
    rows = "\n".join(row_format % tuple(row) for row in columns.tolist())

    header = _hierarchy_text(SMPL24.offsets * scale_cm, position)
    return f"{header}\nMOTION\nFrames: {len(columns)}\nFrame Time: {EXPORT_FRAME_TIME}\n{rows}\n"


def write_bvh(motion: Motion, path: str | os.PathLike, transform: ExportTransform | None = None) -> Path:
    """Write :func:`motion_to_bvh` to ``path`` (parent folders created, replaced atomically)."""
    path = Path(path)
    text = motion_to_bvh(motion, transform)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    tmp.replace(path)
    return path


# --- any rig: writer and Motion from a parsed file -----------------------------------------------------

# ZEGGS files are centimetres; a2a's Motion holds metres.
RIG_UNITS_PER_METRE = 100.0


def _rig_hierarchy_text(skeleton: Skeleton, offsets: np.ndarray, rotation_channels: str) -> str:
    """HIERARCHY block of ``skeleton`` in depth-first order: the root with position and rotation channels,
    other joints with rotation channels, an End Site (offset 0) under each leaf (as ZEGGS writes)."""
    lines = ["HIERARCHY"]

    def write(j: int, depth: int) -> None:
        tab = "\t" * depth
        lines.append(f"{tab}{'ROOT' if j == 0 else 'JOINT'} {skeleton.names[j]}")
        lines.append(tab + "{")
        lines.append(tab + "\tOFFSET " + " ".join(f"{v:f}" for v in offsets[j]))
        if j == 0:
            lines.append(f"{tab}\tCHANNELS 6 Xposition Yposition Zposition {rotation_channels}")
        else:
            lines.append(f"{tab}\tCHANNELS 3 {rotation_channels}")
        children = skeleton.children(j)
        for c in children:
            write(c, depth + 1)
        if not children:
            lines.extend(
                [tab + "\tEnd Site", tab + "\t{", tab + "\t\tOFFSET 0.000000 0.000000 0.000000", tab + "\t}"]
            )
        lines.append(tab + "}")

    write(0, 0)
    return "\n".join(lines)


def motion_to_rig_bvh(
    motion: Motion,
    *,
    order: str = "ZYX",
    fps: float | None = None,
    units_per_metre: float = RIG_UNITS_PER_METRE,
) -> str:
    """BVH text of ``motion`` on its own rig (any :class:`~a2a.motion.skeleton.Skeleton`).

    Joint names and OFFSETs are the motion's skeleton's (× ``units_per_metre``: centimetres by default,
    as ZEGGS); the root has ``Xposition Yposition Zposition`` then the rotation channels, every other
    joint the rotation channels only, in Euler ``order`` (``"ZYX"``: ``Zrotation Yrotation Xrotation``,
    ``R = Rz·Ry·Rx``, as ZEGGS). Joints are written depth first, children in index order, so a rig
    whose joints are already depth first (ZEGGS) reads back in the same order. Numbers are ``%f``.

    Args:
        motion: the motion (Y-up metres); the root's position channels hold ``trans + offsets[0]``.
        order: Euler order of the rotation channels (one of ``XYZ XZY YXZ YZX ZXY ZYX``).
        fps: frame rate of the file; default the motion's. Another rate resamples
            (:meth:`Motion.resample`: every k-th frame for an integer ratio, else slerp).
        units_per_metre: file length unit (100: centimetres).

    The text has ``\n`` line ends and no blank lines.
    """
    order = check_euler_order(order)
    if motion.num_frames == 0:
        raise BVHError("cannot export a motion with zero frames")
    if not (np.isfinite(units_per_metre) and units_per_metre > 0):
        raise BVHError(f"units_per_metre must be a positive number, got {units_per_metre!r}")
    if fps is not None and abs(fps - motion.fps) > 1e-9:
        motion = motion.resample(fps)
    skeleton = motion.skeleton
    channels = " ".join(f"{axis}rotation" for axis in order)
    header = _rig_hierarchy_text(skeleton, skeleton.offsets * units_per_metre, channels)
    euler = np.degrees(matrix_to_euler(axis_angle_to_matrix(motion.poses), order))  # [N, J, 3]
    root_position = (motion.trans + skeleton.offsets[0]) * units_per_metre
    file_order = _depth_first_order(skeleton.parents)
    columns = np.concatenate([root_position, euler[:, file_order].reshape(motion.num_frames, -1)], axis=1)
    row_format = " ".join(["%f"] * columns.shape[1])
    rows = "\n".join(row_format % tuple(row) for row in columns.tolist())
    frame_time = "%f" % (1.0 / motion.fps)
    return f"{header}\nMOTION\nFrames: {len(columns)}\nFrame Time: {frame_time}\n{rows}\n"


def write_rig_bvh(motion: Motion, path: str | os.PathLike, **options: Any) -> Path:
    """Write :func:`motion_to_rig_bvh` (``options`` go to it) to ``path``, replaced atomically."""
    path = Path(path)
    text = motion_to_rig_bvh(motion, **options)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        f.write(text)
    tmp.replace(path)
    return path


# A non-root joint whose position channels move by more than this (file units) over a clip is animated
# in translation, which a Motion (rotations + root translation) cannot hold.
_BONE_TRANSLATION_TOLERANCE = 1e-3


def bvh_to_motion(
    bvh: BVHData, *, units_per_metre: float = RIG_UNITS_PER_METRE, fps: float | None = None
) -> Motion:
    """A :class:`~a2a.motion.Motion` on the file's own rig (joints in file order).

    The skeleton's offsets are the file's OFFSETs (a non-root joint with position channels takes them
    from its first frame; they must stay constant), divided by ``units_per_metre``; the root's offset is
    its OFFSET and ``trans`` the root position channels minus it, so that forward kinematics puts the
    root exactly where the file does. ``fps`` overrides the frame rate (BVH frame times are printed with
    few digits: 0.016667 s is 59.9988 fps, which would make 60 → 20 fps a non-integer resampling).
    """
    if not (np.isfinite(units_per_metre) and units_per_metre > 0):
        raise BVHError(f"units_per_metre must be a positive number, got {units_per_metre!r}")
    local = bvh.local_positions  # [F, J, 3]
    drift = np.abs(local[:, 1:] - local[:1, 1:]).max(axis=(0, 2)) if bvh.num_joints > 1 else np.zeros(0)
    moving = [bvh.names[j + 1] for j in np.flatnonzero(drift > _BONE_TRANSLATION_TOLERANCE)]
    if moving:
        raise BVHError(
            f"{bvh.source}: joints {', '.join(moving)} are animated in translation; only the root may "
            "move (a Motion holds rotations and the root translation)"
        )
    offsets = np.concatenate([bvh.offsets[:1], local[0, 1:]], axis=0) / units_per_metre
    try:
        skeleton = Skeleton(bvh.names, bvh.parents, offsets)
    except A2AError as exc:
        raise BVHError(f"{bvh.source}: unusable hierarchy ({exc})") from None
    trans = local[:, 0] / units_per_metre - offsets[0]
    poses = matrix_to_axis_angle(bvh.local_rotations)
    return Motion(poses, trans, bvh.fps if fps is None else fps, skeleton)


# --- reader -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class BVHData:
    """A parsed BVH file.

    Attributes:
        names: joint names ``[J]`` in file order (End Sites are not joints).
        parents: parent index per joint ``[J]``, ``-1`` for the root.
        offsets: OFFSET of each joint ``[J, 3]`` (file units, usually cm).
        channels: channel names of each joint, in file order (canonical spelling, e.g. ``Zrotation``).
        end_sites: ``(joint index, offset [3])`` for each End Site.
        frame_time: seconds per frame (``Frame Time``).
        local_rotations: ``[F, J, 3, 3]`` rotation of each joint relative to its parent.
        local_positions: ``[F, J, 3]`` translation of each joint in its parent's frame (OFFSET with the
            position channels replacing their components).
        source: file path or ``"<string>"``, for messages.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray = field(repr=False)
    channels: tuple[tuple[str, ...], ...] = field(repr=False)
    end_sites: tuple[tuple[int, np.ndarray], ...] = field(repr=False)
    frame_time: float
    local_rotations: np.ndarray = field(repr=False)
    local_positions: np.ndarray = field(repr=False)
    source: str = "<string>"

    @property
    def num_frames(self) -> int:
        return int(self.local_rotations.shape[0])

    @property
    def num_joints(self) -> int:
        return len(self.names)

    @property
    def fps(self) -> float:
        if not self.frame_time > 0:
            raise BVHError(f"{self.source}: Frame Time {self.frame_time} is not positive, so there is no fps")
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        """Index of the joint ``name``; with repeated names the last one (as the validator's lookup)."""
        lookup = self.name_to_index()
        if name not in lookup:
            raise BVHError(f"{self.source}: no joint {name!r}; joints are: {', '.join(self.names)}")
        return lookup[name]

    def name_to_index(self) -> dict[str, int]:
        """Joint name → index; a repeated name maps to its last occurrence in file order."""
        return {n: j for j, n in enumerate(self.names)}

    def world_positions(self) -> np.ndarray:
        """World joint positions ``[F, J, 3]`` (file units), as bvhio's ``PositionWorld`` after
        ``loadPose``."""
        frames, joints = self.local_positions.shape[:2]
        world_rot = np.empty((frames, joints, 3, 3))
        world_pos = np.empty((frames, joints, 3))
        for j, p in enumerate(self.parents):
            if p < 0:
                world_rot[:, j] = self.local_rotations[:, j]
                world_pos[:, j] = self.local_positions[:, j]
            else:
                world_rot[:, j] = world_rot[:, p] @ self.local_rotations[:, j]
                world_pos[:, j] = (
                    world_pos[:, p] + (world_rot[:, p] @ self.local_positions[:, j, :, None])[..., 0]
                )
        return world_pos


class _Lines:
    """Non-blank lines of a text with 1-based line numbers, one at a time."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.pos = 0
        self.source = source

    def next(self) -> tuple[int, list[str]] | None:
        while self.pos < len(self.lines):
            self.pos += 1
            tokens = self.lines[self.pos - 1].split()
            if tokens:
                return self.pos, tokens
        return None

    def error(self, line: int | None, message: str) -> BVHError:
        where = f"{self.source}, line {line}" if line is not None else self.source
        return BVHError(f"{where}: {message}")


@dataclass
class _JointSpec:
    name: str
    parent: int
    line: int
    offset: np.ndarray | None = None
    channels: tuple[str, ...] = ()


def _parse_floats(tokens: list[str], lines: _Lines, line: int, what: str) -> np.ndarray:
    try:
        return np.array([float(t) for t in tokens])
    except ValueError:
        bad = next(t for t in tokens if not _is_float(t))
        raise lines.error(line, f"{what} has a non-numeric value {bad!r}") from None


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _parse_channels(tokens: list[str], lines: _Lines, line: int, joint: str) -> tuple[str, ...]:
    if len(tokens) < 2 or not tokens[1].isdigit():
        raise lines.error(line, f"CHANNELS of joint {joint!r} must start with a channel count")
    count = int(tokens[1])
    names = tokens[2:]
    if count != len(names):
        raise lines.error(line, f"joint {joint!r} declares {count} channels but lists {len(names)}")
    out = []
    for name in names:
        canonical = _CHANNEL_BY_LOWER.get(name.lower())
        if canonical is None:
            raise lines.error(
                line,
                f"joint {joint!r} has unknown channel {name!r} "
                f"(expected {', '.join(POSITION_CHANNELS + ROTATION_CHANNELS)})",
            )
        if canonical in out:
            raise lines.error(line, f"joint {joint!r} lists channel {canonical} twice")
        out.append(canonical)
    return tuple(out)


def _opens_block(tokens: list[str], header_len: int, lines: _Lines, line: int, what: str) -> bool:
    """Whether a header line also opens its block (``JOINT name {``); rejects other extra tokens."""
    if len(tokens) == header_len:
        return False
    if len(tokens) == header_len + 1 and tokens[-1] == "{":
        return True
    raise lines.error(line, f"{what} line must be {'`End Site`' if what == 'End Site' else what + ' <name>'}")


def _expect_open(lines: _Lines, what: str, line: int) -> None:
    nxt = lines.next()
    if nxt is None or nxt[1] != ["{"]:
        where = nxt[0] if nxt else None
        raise lines.error(where, f"expected '{{' to open {what} (declared at line {line})")


def _parse_joint(
    name: str,
    parent: int,
    line: int,
    opened: bool,
    lines: _Lines,
    joints: list[_JointSpec],
    end_sites: list[tuple[int, np.ndarray]],
) -> None:
    if not opened:
        _expect_open(lines, f"joint {name!r}", line)
    index = len(joints)
    spec = _JointSpec(name, parent, line)
    joints.append(spec)
    while True:
        nxt = lines.next()
        if nxt is None:
            raise lines.error(None, f"unbalanced braces: joint {name!r} (line {line}) is never closed")
        ln, tokens = nxt
        key = tokens[0]
        if key == "OFFSET":
            if len(tokens) != 4:
                raise lines.error(ln, f"OFFSET of joint {name!r} must have 3 numbers, got {len(tokens) - 1}")
            spec.offset = _parse_floats(tokens[1:], lines, ln, f"OFFSET of joint {name!r}")
        elif key == "CHANNELS":
            spec.channels = _parse_channels(tokens, lines, ln, name)
        elif key == "JOINT":
            if len(tokens) < 2:
                raise lines.error(ln, "JOINT line must be JOINT <name>")
            child_opened = _opens_block(tokens, 2, lines, ln, "JOINT")
            _parse_joint(tokens[1], index, ln, child_opened, lines, joints, end_sites)
        elif key == "End":
            site_opened = _opens_block(tokens, 2, lines, ln, "End Site")
            if not site_opened:
                _expect_open(lines, f"the End Site of joint {name!r}", ln)
            offset_line = lines.next()
            if offset_line is None or offset_line[1][0] != "OFFSET" or len(offset_line[1]) != 4:
                raise lines.error(
                    offset_line[0] if offset_line else None,
                    f"End Site of joint {name!r} needs `OFFSET x y z`",
                )
            end_sites.append(
                (index, _parse_floats(offset_line[1][1:], lines, offset_line[0], "End Site OFFSET"))
            )
            close = lines.next()
            if close is None or close[1] != ["}"]:
                raise lines.error(
                    close[0] if close else None,
                    f"unbalanced braces: End Site of joint {name!r} (line {ln}) is not closed",
                )
        elif key == "}":
            break
        elif key in ("MOTION", "ROOT"):
            raise lines.error(
                ln, f"unbalanced braces: joint {name!r} (line {line}) is not closed before {key}"
            )
        else:
            raise lines.error(ln, f"unexpected {key!r} in joint {name!r}")
    if spec.offset is None:
        raise lines.error(line, f"joint {name!r} has no OFFSET")


_FRAMES = re.compile(r"^\s*Frames\s*:\s*(\S+)\s*$")
_FRAME_TIME = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S+)\s*$")


def _parse_motion(lines: _Lines, channel_count: int) -> tuple[float, np.ndarray]:
    nxt = lines.next()
    if nxt is None or nxt[1] != ["MOTION"]:
        if nxt is not None and nxt[1][0] == "}":
            raise lines.error(nxt[0], "unbalanced braces: '}' after the ROOT joint was closed")
        raise lines.error(nxt[0] if nxt else None, "missing MOTION section after the hierarchy")
    nxt = lines.next()
    match = _FRAMES.match(lines.lines[nxt[0] - 1]) if nxt else None
    if match is None:
        raise lines.error(nxt[0] if nxt else None, "expected `Frames: <count>` after MOTION")
    try:
        frames = int(match.group(1))
    except ValueError:
        raise lines.error(nxt[0], f"frame count {match.group(1)!r} is not an integer") from None
    if frames <= 0:
        raise lines.error(nxt[0], f"the file has zero frames (Frames: {frames})")
    nxt = lines.next()
    match = _FRAME_TIME.match(lines.lines[nxt[0] - 1]) if nxt else None
    if match is None:
        raise lines.error(nxt[0] if nxt else None, "expected `Frame Time: <seconds>` after the frame count")
    try:
        frame_time = float(match.group(1))
    except ValueError:
        raise lines.error(nxt[0], f"Frame Time {match.group(1)!r} is not a number") from None

    if channel_count == 0:
        raise lines.error(None, "the hierarchy has no channels, so the frames carry no data")
    data_lines = lines.lines[lines.pos :]
    data = None
    # numpy's C parser is ~3x faster than splitting in Python; any irregularity falls back to the
    # line-by-line check below, which names the offending line.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = np.loadtxt(data_lines, dtype=np.float64, comments=None, ndmin=2)
        except ValueError:
            data = None
    if data is None or data.shape != (frames, channel_count):
        _diagnose_frames(lines, frames, channel_count)
        raise lines.error(None, f"cannot read the {frames} frames of {channel_count} values")
    return frame_time, data


def _diagnose_frames(lines: _Lines, frames: int, channel_count: int) -> None:
    """Walk the frame lines one by one and raise the first problem, with its line number."""
    found = 0
    while (nxt := lines.next()) is not None:
        ln, tokens = nxt
        if found == frames:
            raise lines.error(ln, f"more frame lines than `Frames: {frames}` declares")
        if len(tokens) != channel_count:
            raise lines.error(
                ln, f"frame {found} has {len(tokens)} values but the hierarchy has {channel_count} channels"
            )
        _parse_floats(tokens, lines, ln, "frame line")
        found += 1
    if found < frames:
        raise lines.error(None, f"`Frames: {frames}` declared but only {found} frame lines found")


def is_bvh_text(value: str) -> bool:
    """BVH text rather than a path: several lines, or one line starting with HIERARCHY that is no file."""
    if "\n" in value or "\r" in value:
        return True
    return value.lstrip().startswith("HIERARCHY") and not Path(value).is_file()


def read_bvh(path_or_text: str | os.PathLike) -> BVHData:
    """Parse a BVH file (a path) or BVH text (a string holding the file's contents).

    Raises:
        BVHError: naming the line or joint at fault: missing HIERARCHY/MOTION, unbalanced braces,
            unknown channel names, non-numeric values, a frame line with the wrong number of values,
            zero frames or a frame count that does not match the data.
    """
    if isinstance(path_or_text, str) and is_bvh_text(path_or_text):
        text, source = path_or_text, "<string>"
    else:
        path = Path(path_or_text)
        if not path.is_file():
            raise BVHError(f"{path}: no such file")
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise BVHError(f"{path}: cannot read ({exc})") from None
        source = str(path)

    lines = _Lines(text, source)
    first = lines.next()
    if first is None:
        raise BVHError(f"{source}: empty file")
    if first[1] != ["HIERARCHY"]:
        raise lines.error(first[0], f"missing HIERARCHY section (file starts with {first[1][0]!r})")
    root = lines.next()
    if root is None or root[1][0] != "ROOT" or len(root[1]) < 2:
        raise lines.error(root[0] if root else None, "expected `ROOT <name>` after HIERARCHY")
    joints: list[_JointSpec] = []
    end_sites: list[tuple[int, np.ndarray]] = []
    opened = _opens_block(root[1], 2, lines, root[0], "ROOT")
    _parse_joint(root[1][1], -1, root[0], opened, lines, joints, end_sites)

    channel_count = sum(len(j.channels) for j in joints)
    frame_time, data = _parse_motion(lines, channel_count)
    local_rotations, local_positions = _channels_to_local(joints, data)
    return BVHData(
        names=tuple(j.name for j in joints),
        parents=tuple(j.parent for j in joints),
        offsets=np.stack([j.offset for j in joints]),
        channels=tuple(j.channels for j in joints),
        end_sites=tuple(end_sites),
        frame_time=frame_time,
        local_rotations=local_rotations,
        local_positions=local_positions,
        source=source,
    )


def _channels_to_local(joints: list[_JointSpec], data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations ``[F, J, 3, 3]`` and positions ``[F, J, 3]`` from the MOTION block ``[F, C]``."""
    frames, num_joints = data.shape[0], len(joints)
    positions = np.broadcast_to(np.stack([j.offset for j in joints]), (frames, num_joints, 3)).copy()
    rotations = np.empty((frames, num_joints, 3, 3))
    # Joints with the same rotation channel order (e.g. "ZYX") are converted together:
    # R = R_first · R_second · R_third, batched over frames and joints.
    groups: dict[str, tuple[list[int], list[list[int]]]] = {}
    column = 0
    for j, spec in enumerate(joints):
        order, cols = "", []
        for channel in spec.channels:
            if channel.endswith("position"):
                positions[:, j, _AXIS_INDEX[channel[0]]] = data[:, column]
            else:
                order += channel[0]
                cols.append(column)
            column += 1
        js, group_cols = groups.setdefault(order, ([], []))
        js.append(j)
        group_cols.append(cols)
    for order, (js, group_cols) in groups.items():
        if not order:
            rotations[:, js] = np.eye(3)
            continue
        half = 0.5 * np.radians(data[:, np.array(group_cols)])  # [F, Jg, len(order)]
        cos, sin = np.cos(half), np.sin(half)
        # Elementwise quaternion products are several times faster than batched 3x3 matmuls here.
        w, v = cos[..., 0], [np.zeros_like(cos[..., 0]) for _ in range(3)]
        v[_AXIS_INDEX[order[0]]] = sin[..., 0]
        for k in range(1, len(order)):
            w, v = _multiply_by_axis_quaternion(w, v, _AXIS_INDEX[order[k]], cos[..., k], sin[..., k])
        rotations[:, js] = _quaternion_matrices(w, *v)
    return rotations, positions


def _multiply_by_axis_quaternion(
    w: np.ndarray, v: list[np.ndarray], axis: int, c: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``q · (c, s·e_axis)`` for quaternions given as scalar ``w`` and vector parts ``v = [x, y, z]``."""
    i, j, k = axis, (axis + 1) % 3, (axis + 2) % 3
    out = [np.empty_like(w) for _ in range(3)]
    out[i] = v[i] * c + w * s
    out[j] = v[j] * c + v[k] * s
    out[k] = v[k] * c - v[j] * s
    return w * c - v[i] * s, out


def _quaternion_matrices(w: np.ndarray, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` of unit quaternions given by components ``[...]``."""
    out = np.empty(w.shape + (3, 3))
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    out[..., 0, 0] = 1 - 2 * (yy + zz)
    out[..., 0, 1] = 2 * (xy - wz)
    out[..., 0, 2] = 2 * (xz + wy)
    out[..., 1, 0] = 2 * (xy + wz)
    out[..., 1, 1] = 1 - 2 * (xx + zz)
    out[..., 1, 2] = 2 * (yz - wx)
    out[..., 2, 0] = 2 * (xz - wy)
    out[..., 2, 1] = 2 * (yz + wx)
    out[..., 2, 2] = 1 - 2 * (xx + yy)
    return out
