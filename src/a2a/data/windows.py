"""Dance sequences (motion + song) and the fixed-length training windows cut from them.

Every dataset reader (AIST++, curated folders, Hugging Face datasets) yields :class:`DanceSequence`
objects through the :class:`DanceSource` protocol; the datamodule cuts them into windows with
:func:`window_starts` (EDGE: 5 s windows, 0.5 s stride for training, 2.5 s for the test protocol).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from a2a.errors import A2AError, DatasetError
from a2a.motion.motion import Motion

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass
class DanceSequence:
    """One dance with its song.

    Attributes:
        name: unique sequence name (AIST++ ``gBR_sBM_cAll_d04_mBR0_ch01``, or a curated file stem).
        motion: Y-up motion at the dataset frame rate: SMPL-24 for dance, the rig of the files for gesture
            data (ZEGGS).
        audio: the song: a file path or encoded file bytes.
        split: ``train``, ``val`` or ``test``.
        genre: genre / style label (``BR`` for AIST++ Break, free text for curated data, the style of a
            ZEGGS take, ``""`` unknown).
        tempo: BPM when known (the AIST++ music-id rule), a hint for beat tracking.
        joints: ``[N, 24, 3]`` SMPL-24 joint positions (metres, Y-up) when the source gave positions
            (curated BVH on another rig); ``None`` when they follow from ``motion`` by FK.
        meta: other labels (dancer, music id, situation, ...).
    """

    name: str
    motion: Motion
    audio: Path | bytes
    split: str = "train"
    genre: str = ""
    tempo: float | None = None
    joints: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.motion.duration

    @property
    def audio_name(self) -> str:
        """How messages name the song: its path, or ``<name> (audio bytes)``."""
        return str(self.audio) if isinstance(self.audio, Path) else f"{self.name} (audio bytes)"


@dataclass(frozen=True)
class BadItem:
    """A sequence left out because its files are unusable."""

    name: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.path}): {self.reason}"


class DanceSource(Protocol):
    """What the datamodule and ``describe`` need from a dataset reader."""

    root: Path
    bad: list[BadItem]
    ignored: list[str]

    def split_names(self) -> list[str]:
        """Splits this source has, in ``train, val, test`` order."""
        ...

    def sequences(self, split: str, progress: bool = False) -> list[DanceSequence]:
        """The usable sequences of ``split``, in a deterministic order."""
        ...


class BadItemPolicy:
    """Raise on the first bad item (default), or record it, log it and go on (``skip_bad=True``)."""

    def __init__(self, skip_bad: bool, bad: list[BadItem]) -> None:
        self.skip_bad = skip_bad
        self.bad = bad

    def handle(self, name: str, path: Path | str, error: A2AError | str) -> None:
        reason = str(error)
        if not self.skip_bad:
            if isinstance(error, DatasetError):
                raise error
            raise DatasetError(f"{path}: sequence {name!r} is unusable: {reason}")
        item = BadItem(name, str(path), reason)
        if item not in self.bad:
            self.bad.append(item)
        log.warning("skipping bad item %s", item)


@dataclass(frozen=True)
class WindowSpec:
    """Window length and strides, in seconds, at ``fps`` frames per second.

    EDGE: 5 s windows with a 0.5 s stride for training and 2.5 s for the test protocol (186 windows over
    the AIST++ test split).
    """

    seconds: float = 5.0
    train_stride: float = 0.5
    test_stride: float = 2.5
    fps: float = 30.0

    def __post_init__(self) -> None:
        for key in ("seconds", "train_stride", "test_stride", "fps"):
            if not getattr(self, key) > 0:
                raise DatasetError(f"window option {key} must be positive, got {getattr(self, key)}")
        if self.frames < 1:
            raise DatasetError(f"window of {self.seconds} s at {self.fps} fps has no frames")

    @property
    def frames(self) -> int:
        """Window length in frames (150 for 5 s at 30 fps)."""
        return round(self.seconds * self.fps)

    def stride_frames(self, split: str) -> int:
        """Stride in frames: ``train_stride`` for the training split, ``test_stride`` otherwise."""
        stride = self.train_stride if split == "train" else self.test_stride
        return max(1, round(stride * self.fps))


def window_starts(num_frames: int, length: int, stride: int) -> list[int]:
    """First frames of the windows ``[s, s + length)`` that fit in ``num_frames`` (EDGE's slicing: a
    tail shorter than a window is dropped, a sequence shorter than one window gives none)."""
    if length < 1 or stride < 1:
        raise DatasetError(f"window length and stride must be positive, got {length} and {stride}")
    return list(range(0, num_frames - length + 1, stride))
