"""The gesture datamodule: DiffuseStyleGesture's training windows from ZEGGS-layout data.

The same preprocessing as the dance datamodule (:class:`~a2a.data.datamodule.MotionDataModule`: audio
features once per file, motions encoded by the representation, fixed windows, a normaliser), with DSG's
defaults and conditions. Batches are dicts:

- ``motion [B, T, D]``: normalised features (DSG: ``T = 88`` frames at 20 fps, ``D = 1141``);
- ``cond``: the conditions ``data.conditions`` names, among
  ``audio [B, T, F]`` (the configured extractor's features at the motion frames),
  ``style [B, S]`` (float one-hot in the order of ``styles``; DSG: Happy, Sad, Neutral, Old, Angry,
  Relaxed) and ``seed [B, n_seed, D]`` (the first ``n_seed`` frames of the same normalised window, as DSG
  trains; generation seeds with the previous window's last frames instead);
- ``name`` (take names), ``start [B]`` (first frame), ``style`` (labels) and ``style_id [B]``.

Windows: DSG cuts 88 frames every 10 (``n_poses``, ``subdivision_stride``); its count
``floor((N − 88) / 10)`` leaves out the last window that fits, which a2a keeps. **Normalisation**: DSG
fits its mean and std on train *and* valid (``zeggs_data_to_lmdb.py``); a2a fits on the training split by
default (``fit_normalizer_on: [train]``), so validation numbers do not see validation statistics;
``[train, val]`` reproduces DSG. Audio: DSG runs WavLM on each 4.4 s window; a2a extracts once per take
and cuts the frames, so a window's first frames see the audio before it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from a2a.audio.features import AudioFeatureExtractor
from a2a.data.datamodule import MotionDataModule, PreparedSplit
from a2a.data.windows import DanceSource
from a2a.data.zeggs import DSG_STYLES, GESTURE_FPS
from a2a.errors import DatasetError
from a2a.motion.dsg import DSGRepresentation
from a2a.motion.normalizer import Normalizer
from a2a.motion.representation import MotionRepresentation

GESTURE_CONDITIONS = ("audio", "style", "seed")
DSG_WINDOW_SECONDS = 4.4  # 88 frames at 20 fps
DSG_STRIDE_SECONDS = 0.5  # 10 frames
DSG_SEED_FRAMES = 8


class GestureWindowDataset(Dataset):
    """Fixed-length windows of normalised motion, audio features, style one-hots and seeds.

    Args:
        split: the prepared split (``genres`` hold the style labels).
        normalizer: fitted normaliser applied to the motion.
        length: window length in frames.
        styles: the style vocabulary, in one-hot order.
        n_seed: seed frames taken from the start of each window.
        conditions: the keys of ``cond``.
    """

    def __init__(
        self,
        split: PreparedSplit,
        normalizer: Normalizer,
        length: int,
        styles: list[str],
        n_seed: int,
        conditions: tuple[str, ...] = GESTURE_CONDITIONS,
    ) -> None:
        self.length = length
        self.n_seed = n_seed
        self.conditions = conditions
        self.names = split.names
        self.styles = split.genres
        index = {s: i for i, s in enumerate(styles)}
        unknown = sorted({s for s in split.genres if s not in index})
        if unknown:
            raise DatasetError(
                f"takes with style(s) {', '.join(unknown)} are not in the style list ({', '.join(styles)})"
            )
        self.style_ids = [index[s] for s in split.genres]
        self.one_hot = torch.eye(len(styles))
        self.windows = split.windows
        self.motion = [normalizer.normalize(torch.from_numpy(m)).float().contiguous() for m in split.motion]
        self.audio = [torch.from_numpy(c).float().contiguous() for c in split.cond]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        seq, start = self.windows[index]
        motion = self.motion[seq][start : start + self.length]
        available = {
            "audio": lambda: self.audio[seq][start : start + self.length],
            "style": lambda: self.one_hot[self.style_ids[seq]],
            "seed": lambda: motion[: self.n_seed],
        }
        return {
            "motion": motion,
            "cond": {key: available[key]() for key in self.conditions},
            "name": self.names[seq],
            "start": start,
            "style": self.styles[seq],
            "style_id": self.style_ids[seq],
        }


class GestureDataModule(MotionDataModule):
    """DSG's windows of gesture data (ZEGGS layout or the synthetic gesture set).

    Args:
        source: a dataset path (ZEGGS layout by default, see :class:`a2a.data.zeggs.ZeggsFolder`) or an open
            source whose sequences carry the style in ``genre``.
        features: audio feature extractor; its ``fps`` must equal ``fps`` (DSG: WavLM at 20 fps).
        representation: motion features (default DSG's 1141-d on the ZEGGS rig); its normaliser is fitted
            on the splits in ``fit_normalizer_on``.
        styles: the styles in one-hot order (DSG's six by default); a take of another style is skipped by
            the ZEGGS reader. ``None``: every style of the data, sorted.
        n_seed: seed frames per window (DSG: 8).
        fit_normalizer_on: splits (roles ``train``, ``val``) whose frames fit the normaliser.
        window_seconds, train_stride, test_stride, fps: DSG's 4.4 s (88 frames), 0.5 s (10 frames), 20 fps.
        **options: the :class:`~a2a.data.datamodule.MotionDataModule` options (``conditions``,
            ``batch_size``, ``cache_dir``, ``source_kind``, ``source_options`` …).
    """

    CONDITIONS = GESTURE_CONDITIONS
    KIND = "gesture"

    def __init__(
        self,
        source: str | os.PathLike | DanceSource,
        features: AudioFeatureExtractor,
        representation: MotionRepresentation | None = None,
        *,
        styles: list[str] | tuple[str, ...] | None = DSG_STYLES,
        n_seed: int = DSG_SEED_FRAMES,
        fit_normalizer_on: list[str] | tuple[str, ...] = ("train",),
        conditions: list[str] | tuple[str, ...] = GESTURE_CONDITIONS,
        window_seconds: float = DSG_WINDOW_SECONDS,
        train_stride: float = DSG_STRIDE_SECONDS,
        test_stride: float = DSG_STRIDE_SECONDS,
        fps: float = GESTURE_FPS,
        source_kind: str = "zeggs",
        source_options: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        source_options = dict(source_options or {})
        source_options.setdefault("styles", None if styles is None else list(styles))
        super().__init__(
            source,
            features,
            representation or DSGRepresentation(),
            conditions=conditions,
            window_seconds=window_seconds,
            train_stride=train_stride,
            test_stride=test_stride,
            fps=fps,
            source_kind=source_kind,
            source_options=source_options,
            **options,
        )
        if not isinstance(n_seed, int) or not 1 <= n_seed <= self.window.frames:
            raise DatasetError(
                f"n_seed must be a whole number of frames in 1..{self.window.frames} (the window), "
                f"got {n_seed!r}"
            )
        roles = tuple(fit_normalizer_on)
        if "train" not in roles or not set(roles) <= {"train", "val"}:
            raise DatasetError(
                f"fit_normalizer_on must be [train] or [train, val] (DSG's choice), got {list(roles)}"
            )
        self.n_seed = n_seed
        self.fit_normalizer_on = roles
        self.style_list = None if styles is None else list(styles)
        if self.style_list is not None:
            if not self.style_list or len(set(self.style_list)) != len(self.style_list):
                raise DatasetError(f"styles must be a non-empty list without repeats, got {self.style_list}")
            self.genres = list(self.style_list)

    @property
    def styles(self) -> list[str]:
        """The style vocabulary in one-hot order (after :meth:`setup` when ``styles`` is ``None``)."""
        return list(self.genres)

    def _labels(self, train: PreparedSplit) -> list[str]:
        if self.style_list is not None:
            return list(self.style_list)
        styles = sorted(set(train.genres) - {""})
        if not styles:
            raise DatasetError(f"{self.source.root}: the training split has no style labels")
        return styles

    def _fit_normalizer(self, train: PreparedSplit) -> Normalizer:
        normalizer = super()._fit_normalizer(train)
        val = self.split_map["val"]
        # Only a real validation split: the dance fallback to the test split must not leak test statistics.
        if "val" in self.fit_normalizer_on and val in self.source.split_names():
            for motion in self._prepare_split(val).motion:
                normalizer.partial_fit(motion)
        return normalizer

    def _window_dataset(self, prepared: PreparedSplit) -> Dataset:
        return GestureWindowDataset(
            prepared, self._fitted_normalizer(), self.window.frames, self.genres, self.n_seed, self.conditions
        )

    def vocabularies(self) -> dict[str, list[str]]:
        """``{"style": styles}`` (one-hot order) when the batches carry the style."""
        return {"style": self.styles} if "style" in self.conditions else {}

    def style_one_hot(self, style: str) -> np.ndarray:
        """The one-hot ``[S]`` of ``style`` (clear error listing the known styles)."""
        if style not in self.genres:
            raise DatasetError(f"unknown style {style!r} (known: {', '.join(self.genres) or 'none yet'})")
        return np.eye(len(self.genres), dtype=np.float32)[self.genres.index(style)]
