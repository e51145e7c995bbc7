"""Fixed-length windows of joint positions: the input of the gesture metrics' networks (FGD, style).

A clip is ``[N, J, 3]`` joint positions at ``fps``. :class:`WindowSpec` says how clips become windows:
``window`` frames every ``stride`` frames (a tail shorter than a window is dropped, as in GENEA's FGD
``make_tensor`` — which also drops the last full window by an off-by-one; here every window that fits is
kept), each frame made relative to the ``root`` joint's position in that frame (global translation carries
no gesture information and would dominate the statistics). A spec is stored with every trained network,
so features are always computed on the windows the network was trained on.

:func:`read_joint_clips` reads the plain-array training format of ``a2a train-fgd-encoder`` and
``a2a train-style-classifier``: a folder of ``.npz`` files, each with ``joints [N, J, 3]``, ``fps`` and,
for the style classifier, ``style`` (a string).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from a2a.data.windows import window_starts
from a2a.errors import A2AError, DatasetError
from a2a.metrics.kinetic import validate_fps, validate_joints

__all__ = [
    "MIN_WINDOW",
    "STD_FLOOR_FRACTION",
    "JointClips",
    "WindowSpec",
    "read_joint_clips",
    "window_statistics",
]

MIN_WINDOW = 12
"""Shortest window the conv encoders accept (three 3-frame convolutions and one stride-2 4-frame one)."""

STD_FLOOR_FRACTION = 1e-2
"""Per-coordinate standard deviations are floored at this fraction of the largest one, so a coordinate
that barely moves (or the root, which is 0 after :meth:`WindowSpec.cut`) is not blown up into noise."""


@dataclass(frozen=True)
class WindowSpec:
    """How clips become windows, and which data a trained network accepts.

    Attributes:
        num_joints: ``J`` of every clip.
        window: frames per window (GENEA 2020's FGD: 30, 60 or 90; Yoon et al. 2020: 34;
            ≥ :data:`MIN_WINDOW`).
        stride: frames between window starts (GENEA: ``window // 2``).
        fps: frame rate of the clips; a window means a duration only at this rate.
        root: joint whose position is subtracted from every joint, per frame (``None``: keep world
            positions).
    """

    num_joints: int
    window: int
    stride: int
    fps: float
    root: int | None = 0

    def __post_init__(self) -> None:
        if self.num_joints < 1:
            raise A2AError(f"num_joints must be ≥ 1, got {self.num_joints}")
        if self.window < MIN_WINDOW:
            raise A2AError(f"window must be at least {MIN_WINDOW} frames, got {self.window}")
        if self.stride < 1:
            raise A2AError(f"stride must be ≥ 1 frame, got {self.stride}")
        validate_fps(self.fps)
        if self.root is not None and not 0 <= self.root < self.num_joints:
            raise A2AError(f"root joint {self.root} is out of range for {self.num_joints} joints")

    def describe(self) -> str:
        """``"75 joints, 34-frame windows at 60 fps"``: what a trained network expects."""
        return f"{self.num_joints} joints, {self.window}-frame windows at {self.fps:g} fps"

    def check(
        self,
        *,
        num_joints: int | None = None,
        window: int | None = None,
        fps: float | None = None,
        verb: str = "expects",
    ) -> None:
        """Raise unless the given data properties equal this spec's.

        Raises:
            A2AError: one line, ``"{verb} 75 joints, 34-frame windows at 60 fps, got 24 joints"``.
        """
        problems = []
        if num_joints is not None and num_joints != self.num_joints:
            problems.append(f"{num_joints} joints")
        if window is not None and window != self.window:
            problems.append(f"{window}-frame windows")
        if fps is not None and not np.isclose(float(fps), self.fps):
            problems.append(f"{float(fps):g} fps")
        if problems:
            raise A2AError(f"{verb} {self.describe()}, got {', '.join(problems)}")

    def count(self, num_frames: int) -> int:
        """Windows :meth:`cut` makes of a clip of ``num_frames`` frames."""
        return len(window_starts(num_frames, self.window, self.stride))

    def cut(self, joints: np.ndarray) -> np.ndarray:
        """Windows of one clip.

        Args:
            joints: ``[N, J, 3]`` positions at :attr:`fps`, ``J`` = :attr:`num_joints`.

        Returns:
            ``[K, window, J, 3]`` float32 root-relative windows, ``K = ⌊(N − window)/stride⌋ + 1``
            (0 when ``N < window``).
        """
        positions = validate_joints(joints, min_frames=1)
        self.check(num_joints=positions.shape[1])
        if self.root is not None:
            positions = positions - positions[:, self.root : self.root + 1]
        starts = window_starts(len(positions), self.window, self.stride)
        if not starts:
            return np.zeros((0, self.window, self.num_joints, 3), dtype=np.float32)
        return np.stack([positions[s : s + self.window] for s in starts]).astype(np.float32)

    def cut_all(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        """:meth:`cut` of every clip, concatenated: ``[ΣK_i, window, J, 3]``."""
        parts = []
        for index, clip in enumerate(clips):
            try:
                parts.append(self.cut(clip))
            except A2AError as exc:
                raise type(exc)(f"clips[{index}]: {exc}") from None
        if not parts:
            return np.zeros((0, self.window, self.num_joints, 3), dtype=np.float32)
        return np.concatenate(parts)


def window_statistics(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-coordinate mean and floored std of training windows (the networks' input normalisation).

    Args:
        windows: ``[K, W, J, 3]``.

    Returns:
        ``(mean [J·3], std [J·3])`` float32, over all windows and frames; the std floored at
        :data:`STD_FLOOR_FRACTION` × its maximum (1 if every coordinate is constant).
    """
    array = np.asarray(windows, dtype=np.float64)
    flat = array.reshape(-1, array.shape[2] * 3)
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    peak = std.max()
    std = np.maximum(std, STD_FLOOR_FRACTION * peak) if peak > 0 else np.ones_like(std)
    return mean.astype(np.float32), std.astype(np.float32)


@dataclass
class JointClips:
    """Clips read by :func:`read_joint_clips`.

    Attributes:
        clips: ``[N_i, J, 3]`` float64 positions, one per file.
        fps: the common frame rate.
        styles: one style name per clip, or ``None`` when not asked for.
        files: the file of each clip.
    """

    clips: list[np.ndarray]
    fps: float
    styles: list[str] | None
    files: list[Path]


def _read_one(path: Path, need_style: bool) -> tuple[np.ndarray, float, str | None]:
    """``(joints [N, J, 3] float64, fps, style or None)`` of one ``.npz`` clip."""
    keys = ("joints", "fps", "style") if need_style else ("joints", "fps")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"{path}: not a readable .npz ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DatasetError(f"{path}: a single array, not an .npz archive with joints and fps")
    try:
        with loaded as data:
            present = list(data.files)
            arrays = {key: data[key] for key in keys if key in present}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:  # e.g. a pickled object array
        raise DatasetError(f"{path}: unreadable entry ({type(exc).__name__}: {exc})") from None
    missing = [key for key in keys if key not in arrays]
    if missing:
        raise DatasetError(f"{path}: missing {', '.join(missing)} (has {', '.join(present) or 'nothing'})")
    try:
        positions = validate_joints(arrays["joints"], min_frames=1)
        if arrays["fps"].size != 1 or arrays["fps"].dtype.kind not in "iuf":
            raise DatasetError(
                f"fps must be one number, got {arrays['fps'].dtype} of shape {arrays['fps'].shape}"
            )
        rate = validate_fps(arrays["fps"].item())
    except A2AError as exc:
        raise DatasetError(f"{path}: {exc}") from None
    style = arrays.get("style")
    if style is None:
        return positions, rate, None
    if style.dtype.kind != "U" or style.size != 1:
        raise DatasetError(f"{path}: style must be one string, got {style.dtype} of shape {style.shape}")
    return positions, rate, str(style.item())


def read_joint_clips(path: str | Path, need_style: bool = False) -> JointClips:
    """Read a folder of ``.npz`` clips (or one ``.npz``) with ``joints [N, J, 3]``, ``fps`` [, ``style``],
    or the training takes of a gesture dataset in the ZEGGS layout (at DiffuseStyleGesture's 20 fps, the
    style from each file name), as ``evaluate.py`` trains its networks on.

    Args:
        path: folder (its ``*.npz`` files, sorted by name; else a ZEGGS-layout folder of ``.bvh`` + ``.wav``
            takes) or a single ``.npz`` file.
        need_style: require a ``style`` string in every file.

    Returns:
        The clips, their common fps and styles.

    Raises:
        DatasetError: no such path, no ``.npz`` files, a file that cannot be read or lacks a key, or
            joint counts / frame rates that differ between files (naming the file).
    """
    root = Path(path)
    if root.is_dir():
        files = sorted(root.glob("*.npz"))
        if not files and any(root.rglob("*.bvh")):
            return _gesture_training_takes(root, need_style)
        if not files:
            raise DatasetError(f"{root}: no .npz files (nor .bvh takes of a gesture dataset) in this folder")
    elif root.is_file():
        files = [root]
    else:
        raise DatasetError(f"{root}: no such file or folder")
    clips, styles = [], []
    fps = num_joints = None
    for file in files:
        positions, rate, style = _read_one(file, need_style)
        if fps is None:
            fps, num_joints = rate, positions.shape[1]
        elif positions.shape[1] != num_joints:
            raise DatasetError(f"{file}: {positions.shape[1]} joints, but {files[0].name} has {num_joints}")
        elif not np.isclose(rate, fps):
            raise DatasetError(f"{file}: {rate:g} fps, but {files[0].name} has {fps:g} fps")
        clips.append(positions)
        styles.append(style)
    return JointClips(clips=clips, fps=float(fps), styles=styles if need_style else None, files=files)


def _gesture_training_takes(root: Path, need_style: bool) -> JointClips:
    """The ``train`` takes of a ZEGGS-layout folder as joint clips (with their styles if asked)."""
    from a2a.data.zeggs import GESTURE_FPS, ZeggsFolder  # the BVH reader, only for a dataset folder

    source = ZeggsFolder(root, fps=GESTURE_FPS, styles=None)
    if "train" not in source.split_names():
        raise DatasetError(f"{root}: the gesture dataset has no train split")
    takes = source.sequences("train", progress=True)
    if not takes:
        raise DatasetError(f"{root}: the gesture dataset's train split has no takes")
    return JointClips(
        clips=[take.motion.joints() for take in takes],
        fps=GESTURE_FPS,
        styles=[take.genre for take in takes] if need_style else None,
        files=[Path(take.name) for take in takes],
    )
