"""The ``Motion`` container: axis-angle poses of a skeleton's joints, root translation and frame rate.

Every generator returns a ``Motion``; every exporter reads one. Coordinates are Y-up metres as in
AIST++ unless a producer documents otherwise. The skeleton is SMPL-24 unless a producer gives another
rig (e.g. the 75-joint ZEGGS rig of the gesture data), and it travels with the motion: forward
kinematics, slicing, resampling and ``.npz`` files keep it.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from a2a.errors import A2AError, MotionFormatError
from a2a.motion.kinematics import fk_axis_angle
from a2a.motion.rotations import axis_angle_to_quaternion, quaternion_slerp, quaternion_to_axis_angle
from a2a.motion.skeleton import SMPL24, Skeleton

AISTPP_KEYS = ("smpl_poses", "smpl_trans", "smpl_scaling")


def _as_finite(array, name: str, source: str) -> np.ndarray:
    try:
        out = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MotionFormatError(f"{source}: field {name!r} is not numeric ({exc})") from None
    if not np.isfinite(out).all():
        bad = int((~np.isfinite(out)).sum())
        raise MotionFormatError(f"{source}: field {name!r} has {bad} NaN/infinite values")
    return out


@dataclass
class Motion:
    """A motion clip.

    Attributes:
        poses: ``[N, J, 3]`` axis-angle rotation of each joint relative to its parent (radians), ``J``
            the skeleton's joints (24 for SMPL).
        trans: ``[N, 3]`` root translation in metres (already divided by any AIST++ scaling); forward
            kinematics puts the root at ``trans + skeleton.offsets[0]``.
        fps: frames per second.
        skeleton: the joint hierarchy the poses belong to (default SMPL-24, EDGE's zero root offset).
    """

    poses: np.ndarray
    trans: np.ndarray
    fps: float = 30.0
    skeleton: Skeleton = SMPL24

    def __post_init__(self) -> None:
        if not isinstance(self.skeleton, Skeleton):
            raise MotionFormatError(
                f"Motion: skeleton must be a Skeleton, got {type(self.skeleton).__name__}"
            )
        self.poses, self.trans = self._validated(self.poses, self.trans, self.fps, "Motion", self.skeleton)

    @staticmethod
    def _validated(
        poses, trans, fps, source: str, skeleton: Skeleton = SMPL24
    ) -> tuple[np.ndarray, np.ndarray]:
        poses = _as_finite(poses, "poses", source)
        trans = _as_finite(trans, "trans", source)
        joints = skeleton.num_joints
        if poses.ndim == 2 and poses.shape[1] == 3 * joints:
            poses = poses.reshape(-1, joints, 3)
        if poses.ndim != 3 or poses.shape[1:] != (joints, 3):
            raise MotionFormatError(
                f"{source}: poses must have shape [N, {joints}, 3] or [N, {3 * joints}] for a "
                f"{joints}-joint skeleton, got {poses.shape}"
            )
        if trans.ndim != 2 or trans.shape[1] != 3:
            raise MotionFormatError(f"{source}: trans must have shape [N, 3], got {trans.shape}")
        if len(poses) != len(trans):
            raise MotionFormatError(f"{source}: poses have {len(poses)} frames but trans has {len(trans)}")
        if not (isinstance(fps, int | float) and np.isfinite(fps) and fps > 0):
            raise MotionFormatError(f"{source}: fps must be a positive number, got {fps!r}")
        return poses, trans

    # --- basic properties -------------------------------------------------------------------------

    @property
    def num_frames(self) -> int:
        return len(self.poses)

    def __len__(self) -> int:
        return self.num_frames

    @property
    def duration(self) -> float:
        """Length in seconds (frames / fps)."""
        return self.num_frames / self.fps

    def __getitem__(self, index: slice) -> Motion:
        """Frame slicing: ``motion[30:60]`` is a new Motion with those frames."""
        if not isinstance(index, slice):
            raise TypeError("Motion supports slice indexing only, e.g. motion[0:150]")
        return Motion(self.poses[index].copy(), self.trans[index].copy(), self.fps, self.skeleton)

    def slice_seconds(self, start: float, end: float) -> Motion:
        """Frames covering ``[start, end)`` seconds."""
        return self[round(start * self.fps) : round(end * self.fps)]

    def joints(self, skeleton: Skeleton | None = None) -> np.ndarray:
        """World joint positions ``[N, J, 3]`` by forward kinematics of ``skeleton`` (default: the
        motion's own; another one must have the same number of joints, e.g. SMPL with a root offset)."""
        return fk_axis_angle(self.poses, self.trans, self.skeleton if skeleton is None else skeleton)

    def with_poses(self, poses: np.ndarray, trans: np.ndarray, fps: float | None = None) -> Motion:
        """A motion on the same skeleton with other ``poses [N, J, 3]`` and ``trans [N, 3]``."""
        return Motion(poses, trans, self.fps if fps is None else fps, self.skeleton)

    # --- resampling -------------------------------------------------------------------------------

    def resample(self, fps: float) -> Motion:
        """Motion at another frame rate.

        An integer down-sampling ratio keeps every k-th frame (what EDGE does for 60 → 30 fps, so the
        frames are exactly the original ones); other ratios interpolate: slerp for rotations, linear for
        translation, over the same time span.
        """
        if fps <= 0:
            raise MotionFormatError(f"target fps must be positive, got {fps}")
        ratio = self.fps / fps
        if abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1:
            step = round(ratio)
            return self.with_poses(self.poses[::step].copy(), self.trans[::step].copy(), fps)
        n_out = max(1, int(np.floor((self.num_frames - 1) * fps / self.fps + 1e-9)) + 1)
        src = np.arange(n_out) * self.fps / fps
        lo = np.clip(np.floor(src).astype(int), 0, self.num_frames - 1)
        hi = np.clip(lo + 1, 0, self.num_frames - 1)
        frac = src - lo
        quats = axis_angle_to_quaternion(self.poses)
        joints = self.skeleton.num_joints
        q = quaternion_slerp(quats[lo], quats[hi], np.broadcast_to(frac[:, None], (n_out, joints)).copy())
        trans = self.trans[lo] * (1 - frac[:, None]) + self.trans[hi] * frac[:, None]
        return self.with_poses(quaternion_to_axis_angle(q), trans, fps)

    # --- files ------------------------------------------------------------------------------------

    @classmethod
    def from_aistpp_pkl(cls, path: str | os.PathLike, fps: float = 60.0) -> Motion:
        """Read an AIST++ motion pickle (``smpl_poses`` [N, 72], ``smpl_trans`` [N, 3],
        ``smpl_scaling`` [1]); the translation is divided by the scaling. AIST++ is 60 fps."""
        path = Path(path)
        data = _load_pickle(path)
        missing = [k for k in ("smpl_poses", "smpl_trans") if k not in data]
        if missing:
            raise MotionFormatError(
                f"{path}: missing field(s) {', '.join(missing)} "
                f"(found: {', '.join(map(str, data)) or 'none'})"
            )
        scaling = 1.0
        if "smpl_scaling" in data:
            s = _as_finite(data["smpl_scaling"], "smpl_scaling", str(path)).reshape(-1)
            if s.size != 1 or s[0] <= 0:
                raise MotionFormatError(f"{path}: field 'smpl_scaling' must be one positive number, got {s}")
            scaling = float(s[0])
        poses = _as_finite(data["smpl_poses"], "smpl_poses", str(path))
        if not (poses.ndim == 2 and poses.shape[1] == 72) and not (
            poses.ndim == 3 and poses.shape[1:] == (24, 3)
        ):
            raise MotionFormatError(f"{path}: field 'smpl_poses' must have shape [N, 72], got {poses.shape}")
        trans = _as_finite(data["smpl_trans"], "smpl_trans", str(path))
        if trans.ndim != 2 or trans.shape[1] != 3:
            raise MotionFormatError(f"{path}: field 'smpl_trans' must have shape [N, 3], got {trans.shape}")
        if len(poses) == 0:
            raise MotionFormatError(f"{path}: field 'smpl_poses' has zero frames")
        if len(poses) != len(trans):
            raise MotionFormatError(
                f"{path}: 'smpl_poses' has {len(poses)} frames but 'smpl_trans' has {len(trans)}"
            )
        return cls(poses.reshape(-1, 24, 3), trans / scaling, fps)

    def to_aistpp_pkl(self, path: str | os.PathLike, scaling: float = 1.0) -> Path:
        """Write an AIST++-style pickle; ``smpl_trans`` is stored multiplied by ``scaling``."""
        path = Path(path)
        if self.skeleton.names != SMPL24.names:
            raise MotionFormatError(
                f"{path}: an AIST++ pickle holds SMPL-24 poses; this motion is on a "
                f"{self.skeleton.num_joints}-joint rig (save it as .npz or BVH)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "smpl_poses": self.poses.reshape(-1, 72).astype(np.float64),
            "smpl_trans": (self.trans * scaling).astype(np.float64),
            "smpl_scaling": np.array([scaling], dtype=np.float64),
        }
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(data, f, protocol=4)
        tmp.replace(path)  # atomic: a crash never leaves a truncated pkl behind
        return path

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> Motion:
        """Read ``poses`` [N, J, 3] or [N, 3J], ``trans`` [N, 3], optional ``fps`` and, for a rig other
        than SMPL-24, ``joint_names`` [J], ``parents`` [J] and ``offsets`` [J, 3] from an npz."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = dict(data)
        except Exception as exc:  # zipfile/pickle/OS errors all mean the same to the user
            raise MotionFormatError(f"{path}: cannot read npz ({exc})") from None
        missing = [k for k in ("poses", "trans") if k not in fields]
        if missing:
            raise MotionFormatError(f"{path}: missing field(s) {', '.join(missing)}")
        fps = float(fields["fps"]) if "fps" in fields else 30.0
        skeleton = _skeleton_from_fields(fields, path)
        poses, trans = cls._validated(fields["poses"], fields["trans"], fps, str(path), skeleton)
        return cls(poses, trans, fps, skeleton)

    def to_npz(self, path: str | os.PathLike) -> Path:
        """Write ``poses``, ``trans`` and ``fps``; a rig other than SMPL-24 adds ``joint_names``,
        ``parents`` and ``offsets`` (plain arrays, readable without pickle)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        rig = {}
        if self.skeleton != SMPL24:
            rig = {
                "joint_names": np.array(self.skeleton.names, dtype=np.str_),
                "parents": np.array(self.skeleton.parents, dtype=np.int64),
                "offsets": self.skeleton.offsets,
            }
        np.savez(path, poses=self.poses, trans=self.trans, fps=np.float64(self.fps), **rig)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, fps: float | None = None) -> Motion:
        """Read a motion file by extension: ``.pkl`` (AIST++, 60 fps unless ``fps``) or ``.npz``."""
        path = Path(path)
        if not path.exists():
            raise MotionFormatError(f"{path}: no such file")
        if path.suffix == ".pkl":
            return cls.from_aistpp_pkl(path, fps=fps or 60.0)
        if path.suffix == ".npz":
            motion = cls.from_npz(path)
            return motion if fps is None else motion.with_poses(motion.poses, motion.trans, fps)
        raise MotionFormatError(f"{path}: unknown motion format {path.suffix!r} (expected .pkl or .npz)")


_RIG_FIELDS = ("joint_names", "parents", "offsets")


def _skeleton_from_fields(fields: dict[str, np.ndarray], path: Path) -> Skeleton:
    """The rig stored in an npz (all three fields), else SMPL-24 (none of them)."""
    present = [k for k in _RIG_FIELDS if k in fields]
    if not present:
        return SMPL24
    if len(present) != len(_RIG_FIELDS):
        missing = [k for k in _RIG_FIELDS if k not in fields]
        raise MotionFormatError(f"{path}: has {', '.join(present)} but lacks {', '.join(missing)} of its rig")
    names = fields["joint_names"]
    if names.ndim != 1 or names.dtype.kind != "U":
        raise MotionFormatError(f"{path}: field 'joint_names' must be a 1-d array of strings")
    parents = _as_finite(fields["parents"], "parents", str(path))
    offsets = _as_finite(fields["offsets"], "offsets", str(path))
    try:
        skeleton = Skeleton(tuple(str(n) for n in names), tuple(int(p) for p in parents.reshape(-1)), offsets)
    except A2AError as exc:
        raise MotionFormatError(f"{path}: the stored rig is invalid ({exc})") from None
    return SMPL24 if skeleton == SMPL24 else skeleton


class _SafeUnpickler(pickle.Unpickler):
    """Admits only numpy arrays and builtin containers: a motion pickle runs no foreign code."""

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("collections", "OrderedDict"),
        }
    )

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED or (module.startswith("numpy") and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _load_pickle(path: Path) -> dict:
    if not path.exists():
        raise MotionFormatError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            data = _SafeUnpickler(f, encoding="latin1").load()
    except Exception as exc:  # truncated files raise EOFError/UnpicklingError/ValueError alike
        raise MotionFormatError(
            f"{path}: not a readable motion pickle ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(data, dict):
        raise MotionFormatError(f"{path}: expected a dict of arrays, got {type(data).__name__}")
    return data
