"""The Lightning datamodule: sequences → audio features (once per song, cached) → encoded motions →
normalised windows.

Preprocessing, per split:

1. the source yields :class:`~a2a.data.windows.DanceSequence` objects (motions at ``fps``);
2. audio features are computed once per song (``a2a.audio.extract_many`` through the
   :class:`~a2a.audio.FeatureCache` when ``cache_dir`` is set, ``feature_workers`` processes) and cut to
   the motion's frames;
3. motions are encoded by the representation (EDGE: 151 channels);
4. windows of ``window_seconds`` start every ``train_stride`` (train) / ``test_stride`` (val, test)
   seconds; a tail shorter than a window is dropped, as EDGE does;
5. the normaliser is fitted on the frames of the **training** windows only and applied to every split.

Batches are dicts: ``motion [B, T, D]`` (normalised float32), ``cond`` — the named conditions the data
config declares (``data.conditions``): ``audio [B, T, F]`` float32 and/or ``genre [B, G]`` (float one-hot
over :attr:`MotionDataModule.genres`) — ``name (list of sequence names), ``start`` ``[B]`` (first frame of
the window), ``genre`` (list of labels) and ``genre_id`` ``[B]`` (−1 for a label unseen in training).

Unlike EDGE, contacts are computed on the whole sequence before slicing, so a window's last frame has
its true contact instead of always "in contact".
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler
from tqdm.auto import tqdm

from a2a.audio import FeatureCache, extract_many
from a2a.audio.decode import load_audio
from a2a.audio.features import AudioFeatureExtractor, check_windowing, extract_slices, file_params
from a2a.config import config_source
from a2a.data.curated import open_source
from a2a.data.describe import summarize_source
from a2a.data.naming import tempo_from_name
from a2a.data.sanity import SanityBounds, implausible, report_overlap, split_overlap
from a2a.data.windows import BadItem, BadItemPolicy, DanceSequence, DanceSource, WindowSpec, window_starts
from a2a.errors import A2AError, DatasetError
from a2a.motion.normalizer import Normalizer, normalizer_from_state_dict
from a2a.motion.representation import EdgeRepresentation, MotionRepresentation
from a2a.threads import single_threaded_torch

log = logging.getLogger(__name__)

# Audio and motion of one sequence may differ by a few frames (rounding); more than this is worth a warning.
_LENGTH_MISMATCH_WARN_S = 1.0
# The named conditions a dance dataset can put in a batch.
CONDITIONS = ("audio", "genre", "seed")


class _Waveform:
    """A decoded song for per-slice extraction; ``len()`` is its length in motion frames."""

    def __init__(self, wave: np.ndarray, sr: int, fps: float) -> None:
        self.wave, self.sr = wave, sr
        self.frames = int(len(wave) / sr * fps)

    def __len__(self) -> int:
        return self.frames


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn``: seed numpy and ``random`` in each DataLoader worker from torch's per-worker
    seed (itself derived from the loader's generator), so augmentations are reproducible."""
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


class EpochShuffleSampler(RandomSampler):
    """A shuffle that is a pure function of ``(seed, epoch)``, so a resumed run draws the same batches as an
    uninterrupted one.

    Lightning calls :meth:`set_epoch` at every epoch start (and, under DDP, replaces this sampler with a
    ``DistributedSampler``, itself seeded per epoch). ``start`` skips the first indices of ``epoch`` once:
    a run resumed part-way through an epoch continues with the windows it had not yet seen.
    """

    def __init__(self, data_source: Sized, seed: int, epoch: int = 0, start: int = 0) -> None:
        super().__init__(data_source)
        self.seed = int(seed)
        self.epoch = int(epoch)
        self.start = int(start)

    def set_epoch(self, epoch: int) -> None:
        if epoch != self.epoch:
            self.start = 0  # a resume position belongs to its own epoch only
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        seed = int(np.random.SeedSequence([self.seed, self.epoch]).generate_state(1)[0])
        order = torch.randperm(len(self.data_source), generator=torch.Generator().manual_seed(seed))
        start, self.start = self.start, 0
        return iter(order[start:].tolist())


@dataclass
class PreparedSplit:
    """One split after preprocessing: per-sequence arrays and the window index.

    Attributes:
        names: sequence names ``[S]``.
        genres: genre labels ``[S]``.
        motion: encoded (not yet normalised) motions, ``[N_s, D]`` float32 each, cut to the frames the
            windows cover.
        cond: audio features ``[N_s, F]`` float32 each, same frames as ``motion`` (per-song windowing).
        windows: ``(sequence index, first frame)`` per window, in sequence then time order.
        window_cond: per-slice windowing: each window's audio features ``[window, F]``, extracted from
            that window's audio alone, in the order of ``windows`` (``cond`` is then empty).
    """

    names: list[str]
    genres: list[str]
    motion: list[np.ndarray]
    cond: list[np.ndarray]
    windows: list[tuple[int, int]]
    window_cond: list[np.ndarray] = field(default_factory=list)


class WindowDataset(Dataset):
    """Fixed-length windows of normalised motion and audio features (see the module docstring for items)."""

    def __init__(
        self,
        split: PreparedSplit,
        normalizer: Normalizer,
        length: int,
        genre_ids: dict[str, int],
        conditions: tuple[str, ...] = ("audio",),
        n_seed: int = 0,
    ) -> None:
        self.length = length
        self.conditions = conditions
        self.n_seed = n_seed
        self.names = split.names
        self.genres = split.genres
        self.genre_ids = [genre_ids.get(g, -1) for g in split.genres]
        self.one_hot = torch.eye(len(genre_ids))
        self.none = torch.zeros(len(genre_ids))
        self.windows = split.windows
        self.motion = [normalizer.normalize(torch.from_numpy(m)).float().contiguous() for m in split.motion]
        self.cond = [torch.from_numpy(c).float().contiguous() for c in split.cond]
        self.window_cond = [torch.from_numpy(c).float().contiguous() for c in split.window_cond]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        seq, start = self.windows[index]
        end = start + self.length
        available = {
            "audio": lambda: self.window_cond[index] if self.window_cond else self.cond[seq][start:end],
            # one-hot over the training genres (all zeros for a genre unseen in training)
            "genre": lambda: self.one_hot[self.genre_ids[seq]] if self.genre_ids[seq] >= 0 else self.none,
            # the window's own first frames, as DiffuseStyleGesture trains its seed
            "seed": lambda: self.motion[seq][start : start + self.n_seed],
        }
        return {
            "motion": self.motion[seq][start:end],
            "cond": {key: available[key]() for key in self.conditions},
            "name": self.names[seq],
            "start": start,
            "genre": self.genres[seq],
            "genre_id": self.genre_ids[seq],
        }


class MotionDataModule(pl.LightningDataModule):
    """Windows of (motion, audio features) from AIST++, a curated folder or a Hugging Face dataset.

    Subclasses for other kinds of data (:class:`a2a.data.gesture.GestureDataModule`) change
    :attr:`CONDITIONS`, :meth:`_labels`, :meth:`_fit_normalizer` and :meth:`_window_dataset`.

    Args:
        source: a dataset path (AIST++ layout, curated folder or saved HF dataset; see
            :func:`a2a.data.curated.open_source`) or an open source object.
        features: audio feature extractor (``a2a.audio.BaselineFeatures()`` …); its ``fps`` must equal
            ``fps``.
        feature_windowing: ``per_song`` (extract each song once, cut the windows' frames out: fast) or
            ``per_slice`` (extract each window's audio on its own, as EDGE trains; the model then generates
            the same way).
        representation: motion encoder (:class:`~a2a.motion.representation.MotionRepresentation`, EDGE's
            151-d by default); its ``make_normalizer()`` is fitted on the training split.
        conditions: the named conditions in each batch's ``cond`` (``audio``, ``genre``, ``seed``).
        provides: the conditions this dataset declares it can provide (the data config's ``provides``;
            default: every condition of :attr:`CONDITIONS`); ``conditions`` must be among them.
        genres: the genre vocabulary in one-hot order (AIST++'s ten by default); ``None`` takes the training
            split's labels, sorted. A sequence of another genre gets an all-zero genre.
        n_seed: with the ``seed`` condition, how many first frames of each window it holds.
        window_seconds, train_stride, test_stride, fps: windowing (EDGE: 5 s, 0.5 s, 2.5 s, 30 fps).
        batch_size, num_workers: DataLoader settings (the same for every split).
        seed: seeds the training shuffle and the DataLoader workers.
        cache_dir: feature cache folder (``None``: features are computed on every run).
        feature_workers: processes for feature extraction.
        skip_bad: leave out unusable sequences (listed in :attr:`bad`, logged) instead of raising.
        source_kind, source_options: how a path ``source`` is opened (``kind`` and reader options such as
            ``joint_map``, ``val_fraction``, ``use_ignore_list``).
        train_split, val_split, test_split: split names; a missing ``val_split`` falls back to the test
            split (EDGE's AIST++ copy has no val list).
        normalizer: a fitted normaliser or its ``state_dict()`` (e.g. from a checkpoint); ``None`` fits one
            on the training split.
        drop_last: drop the last incomplete training batch.
        progress: show progress bars.
        sanity: bounds of :class:`a2a.data.sanity.SanityBounds` (a dict): a physically implausible
            sequence is an error (left out with ``skip_bad``); a sequence in two splits is a warning by
            default.
    """

    # The named conditions this kind of data can put in a batch, and how messages call it.
    CONDITIONS: tuple[str, ...] = CONDITIONS
    KIND = "dance"

    def __init__(
        self,
        source: str | os.PathLike | DanceSource,
        features: AudioFeatureExtractor,
        representation: MotionRepresentation | None = None,
        *,
        conditions: list[str] | tuple[str, ...] = ("audio",),
        provides: list[str] | tuple[str, ...] | None = None,
        genres: list[str] | tuple[str, ...] | None = None,
        n_seed: int = 30,
        feature_windowing: str = "per_song",
        window_seconds: float = 5.0,
        train_stride: float = 0.5,
        test_stride: float = 2.5,
        fps: float = 30.0,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        cache_dir: str | os.PathLike | None = None,
        feature_workers: int = 1,
        skip_bad: bool = False,
        source_kind: str = "auto",
        source_options: dict[str, Any] | None = None,
        train_split: str = "train",
        val_split: str = "val",
        test_split: str = "test",
        normalizer: Normalizer | dict[str, torch.Tensor] | None = None,
        drop_last: bool = False,
        progress: bool = True,
        sanity: SanityBounds | dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.window = WindowSpec(window_seconds, train_stride, test_stride, fps)
        if int(getattr(features, "fps", fps)) != fps:
            raise DatasetError(
                f"audio features run at {features.fps} fps but the data is {fps} fps; "
                f"set features.fps={fps:g}"
            )
        if batch_size < 1 or num_workers < 0 or feature_workers < 1:
            raise DatasetError(
                f"batch_size ({batch_size}) and feature_workers ({feature_workers}) must be ≥ 1, "
                f"num_workers ({num_workers}) ≥ 0"
            )
        provides = tuple(self.CONDITIONS if provides is None else provides)
        unknown = [key for key in provides if key not in self.CONDITIONS]
        if unknown:
            raise DatasetError(
                f"{config_source('data')}: data.provides names {', '.join(unknown)}; a {self.KIND} dataset "
                f"can provide {', '.join(self.CONDITIONS)}"
            )
        unknown = [key for key in conditions if key not in provides]
        if unknown or not conditions:
            raise DatasetError(
                f"{config_source('data')}: data.conditions names {', '.join(unknown) or 'nothing'}; this "
                f"{self.KIND} dataset provides {', '.join(provides)}"
            )
        self.conditions = tuple(conditions)
        self.genre_list = None if genres is None else [str(g) for g in genres]
        self.n_seed = int(n_seed)
        self.feature_windowing = check_windowing(feature_windowing)
        self._source_arg = source
        self.source_kind = source_kind
        self.source_options = dict(source_options or {})
        self.features = features
        self.representation = representation or EdgeRepresentation()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.cache = FeatureCache(cache_dir) if cache_dir is not None else None
        self.feature_workers = feature_workers
        self.skip_bad = skip_bad
        self.split_map = {"train": train_split, "val": val_split, "test": test_split}
        self.drop_last = drop_last
        self.progress = progress
        self.sanity = sanity if isinstance(sanity, SanityBounds) else SanityBounds(**(sanity or {}))
        self._overlap_checked = False
        # Where the first training epoch starts (set by a resumed run, see ``resume_at``).
        self._train_position = (0, 0)
        if isinstance(normalizer, dict):
            normalizer = normalizer_from_state_dict(normalizer)
        self.normalizer: Normalizer | None = normalizer
        self.bad: list[BadItem] = []
        self.genres: list[str] = []
        self._source: DanceSource | None = None
        self._sequences: dict[str, list[DanceSequence]] = {}
        self._prepared: dict[str, PreparedSplit] = {}
        self._song_features: dict[Path | bytes, np.ndarray] = {}
        self._song_errors: dict[Path | bytes, str] = {}
        self._datasets: dict[str, Dataset] = {}

    # --- sizes and description ----------------------------------------------------------------------

    @property
    def feature_dim(self) -> int:
        return int(self.features.dim)

    @property
    def window_frames(self) -> int:
        return self.window.frames

    @property
    def source(self) -> DanceSource:
        """The dataset reader (opened on first use)."""
        if self._source is None:
            if isinstance(self._source_arg, str | os.PathLike):
                self._source = open_source(
                    self._source_arg,
                    kind=self.source_kind,
                    fps=self.window.fps,
                    skip_bad=self.skip_bad,
                    **self.source_options,
                )
            else:
                self._source = self._source_arg
        return self._source

    def describe(self, print_it: bool = False) -> dict[str, Any]:
        """Counts, hours and genres per split (:func:`a2a.data.describe.describe_dataset`); after
        :meth:`setup` also the window counts actually built (``windows_built``)."""
        from a2a.data.describe import print_description

        description = summarize_source(self.source, self.window, bounds=self.sanity)
        for split, prepared in self._prepared.items():
            if split in description["splits"]:
                description["splits"][split]["windows_built"] = len(prepared.windows)
        description["bad"] = [{"name": b.name, "path": b.path, "reason": b.reason} for b in self._all_bad()]
        if print_it:
            print_description(description)
        return description

    def _all_bad(self) -> list[BadItem]:
        return list(dict.fromkeys([*self.source.bad, *self.bad]))

    # --- preprocessing ------------------------------------------------------------------------------

    def _split_name(self, role: str) -> str | None:
        """The source split for ``role`` (train / val / test); val falls back to test."""
        available = self.source.split_names()
        name = self.split_map[role]
        if name in available:
            return name
        if role == "val" and self.split_map["test"] in available:
            log.info("no %r split in %s: validating on %r", name, self.source.root, self.split_map["test"])
            return self.split_map["test"]
        if role == "train":
            raise DatasetError(
                f"{self.source.root}: no training split {name!r} (splits: {', '.join(available)})"
            )
        return None

    def _load_sequences(self, split: str) -> list[DanceSequence]:
        if split not in self._sequences:
            policy = BadItemPolicy(self.skip_bad, self.bad)
            sequences = []
            for seq in self.source.sequences(split, progress=self.progress):
                if abs(seq.motion.fps - self.window.fps) > 1e-6:
                    raise DatasetError(
                        f"{seq.name}: motion is {seq.motion.fps} fps, expected {self.window.fps}"
                    )
                reason = implausible(seq.motion, self.sanity)
                if reason is None:
                    sequences.append(seq)
                    continue
                policy.handle(
                    seq.name,
                    self.source.root,
                    DatasetError(
                        f"{self.source.root}: sequence {seq.name!r} ({split}) is implausible: {reason}; "
                        "fix or remove it, or leave it out with data.skip_bad=true"
                    ),
                )
            self._sequences[split] = sequences
        return self._sequences[split]

    def _check_split_overlap(self) -> None:
        """Warn about (or refuse) sequence names listed in more than one split, once."""
        if self._overlap_checked or self.sanity.split_overlap == "ignore":
            return
        names = {split: [s.name for s in self._load_sequences(split)] for split in self.source.split_names()}
        report_overlap(split_overlap(names), self.sanity, str(self.source.root))
        self._overlap_checked = True

    def _extract(self, sequences: list[DanceSequence]) -> dict[int, np.ndarray]:
        """Features per sequence index, computed once per distinct song (remembered across splits and
        calls); unusable audio is handled by the bad-item policy."""
        policy = BadItemPolicy(self.skip_bad, self.bad)
        songs = [
            s.audio
            for s in sequences
            if s.audio not in self._song_features and s.audio not in self._song_errors
        ]
        paths = list(dict.fromkeys(a for a in songs if isinstance(a, Path)))
        # Music named like AIST++ carries its tempo (EDGE's beat-tracking prior); others are estimated.
        params = {p: file_params(self.features, start_bpm=tempo_from_name(p.name)) for p in paths}
        if self.cache is not None:
            # Hits are read here: spawning extraction workers only to read the cache costs seconds.
            for path in paths:
                try:
                    hit = self.cache.load(self.cache.key(path, self.features, params[path]))
                except A2AError:
                    continue  # unreadable file: extract_many reports it
                if hit is not None:
                    self._song_features[path] = hit
            paths = [p for p in paths if p not in self._song_features]
        if paths:
            try:
                extracted = extract_many(
                    paths,
                    self.features,
                    self.cache,
                    workers=self.feature_workers,
                    progress=self.progress,
                    skip_bad=self.skip_bad,
                    params=params,
                )
            except A2AError as exc:
                owner = next((s.name for s in sequences if str(s.audio) in str(exc)), "")
                raise DatasetError(f"{owner + ': ' if owner else ''}unusable audio: {exc}") from exc
            self._song_features.update(extracted)
            self._song_errors.update(extracted.failed)
        for audio in dict.fromkeys(a for a in songs if isinstance(a, bytes)):
            try:
                if self.cache is not None:
                    self._song_features[audio] = self.cache.get_or_compute(audio, self.features)
                else:
                    self._song_features[audio] = self.features.for_file(audio)
            except A2AError as exc:
                self._song_errors[audio] = str(exc)
        out: dict[int, np.ndarray] = {}
        for i, seq in enumerate(sequences):
            if seq.audio in self._song_errors:
                policy.handle(seq.name, seq.audio_name, DatasetError(self._song_errors[seq.audio]))
            else:
                out[i] = self._song_features[seq.audio]
        return out

    def _prepare_split(self, split: str) -> PreparedSplit:
        if split in self._prepared:
            return self._prepared[split]
        sequences = self._load_sequences(split)
        per_slice = self.feature_windowing == "per_slice"
        features = self._audio_frames(sequences) if per_slice else self._extract(sequences)
        length, stride = self.window.frames, self.window.stride_frames(self._role(split))
        prepared = PreparedSplit([], [], [], [], [])
        too_short = 0
        for i, seq in enumerate(
            tqdm(sequences, desc=f"encode {split}", disable=not self.progress, unit="seq")
        ):
            if i not in features:
                continue
            cond = features[i]
            frames = min(len(cond), seq.motion.num_frames)
            if abs(len(cond) - seq.motion.num_frames) > _LENGTH_MISMATCH_WARN_S * self.window.fps:
                log.warning(
                    "%s: audio gives %d feature frames, motion has %d; using the first %d",
                    seq.name,
                    len(cond),
                    seq.motion.num_frames,
                    frames,
                )
            starts = window_starts(frames, length, stride)
            if not starts:
                too_short += 1
                continue

            # Contacts look one frame ahead, so encode every frame before dropping the uncovered tail.
            motion = np.asarray(self.representation.encode(seq.motion[:frames]), dtype=np.float32)
            covered = starts[-1] + length
            index = len(prepared.names)
            prepared.names.append(seq.name)
            prepared.genres.append(seq.genre)
            prepared.motion.append(motion[:covered])
            if per_slice:
                prepared.window_cond.extend(self._slice_features(seq, cond, starts, stride))
                prepared.cond.append(np.zeros((0, self.feature_dim), dtype=np.float32))
            else:
                prepared.cond.append(np.asarray(cond[:covered], dtype=np.float32))
            prepared.windows.extend((index, s) for s in starts)
        if too_short:
            log.info(
                "%s: %d sequence(s) shorter than one %g s window give no windows",
                split,
                too_short,
                self.window.seconds,
            )
        log.info("%s: %d windows from %d sequences", split, len(prepared.windows), len(prepared.names))
        self._prepared[split] = prepared
        return prepared

    def _audio_frames(self, sequences: list[DanceSequence]) -> dict[int, np.ndarray]:
        """Per-slice windowing: per sequence, the decoded waveform (its length gives the audio's frames;
        its slices are extracted window by window); unusable audio goes through the bad-item policy."""
        policy = BadItemPolicy(self.skip_bad, self.bad)
        out: dict[int, np.ndarray] = {}
        for i, seq in enumerate(sequences):
            try:
                wave, sr = load_audio(seq.audio)
            except A2AError as exc:
                policy.handle(seq.name, seq.audio_name, DatasetError(f"unusable audio: {exc}"))
                continue
            out[i] = _Waveform(wave, sr, self.window.fps)
        return out

    def _slice_features(
        self, seq: DanceSequence, audio: _Waveform, starts: list[int], stride: int
    ) -> np.ndarray:
        """``[len(starts), window, F]``: each window's audio extracted on its own (cached per song)."""
        tempo = tempo_from_name(seq.audio.name) if isinstance(seq.audio, Path) else None
        params = file_params(self.features, start_bpm=tempo)

        def compute() -> np.ndarray:
            return extract_slices(self.features, audio.wave, audio.sr, starts, self.window.frames, **params)

        if self.cache is None:
            return compute()
        key_params = {**params, "windowing": "per_slice", "starts": [starts[0], stride, len(starts)]}
        key_params["window"] = self.window.frames
        return self.cache.get_or_compute(seq.audio, self.features, compute, params=key_params)

    def _role(self, split: str) -> str:
        return "train" if split == self.split_map["train"] else "test"

    def prepare_data(self) -> None:
        """Fill the feature cache for every split (rank 0 only under DDP); without a cache, do nothing
        here and compute everything in :meth:`setup`."""
        if self.cache is None or self.feature_windowing == "per_slice":
            return  # per-slice features are computed (and cached) window by window in setup
        splits = dict.fromkeys(self._split_name(role) for role in ("train", "val", "test"))
        # One extraction over every split: one worker pool, one progress bar.
        self._extract([seq for split in splits if split is not None for seq in self._load_sequences(split)])

    def setup(self, stage: str | None = None) -> None:
        """Build the window datasets for ``stage`` (``fit``, ``validate``, ``test``, ``predict`` or
        ``None`` for all); fits the normaliser on the training split unless one was given."""
        roles = {
            "fit": ("train", "val"),
            "validate": ("val",),
            "test": ("test",),
            "predict": ("test",),
            None: ("train", "val", "test"),
        }.get(stage)
        if roles is None:
            raise DatasetError(f"unknown stage {stage!r}")
        with single_threaded_torch():
            self._build(roles)

    def _build(self, roles: tuple[str, ...]) -> None:
        self._check_split_overlap()
        train = (
            self._prepare_split(self._split_name("train"))
            if "train" in roles or self.normalizer is None
            else None
        )
        if train is not None and not train.windows:
            raise DatasetError(
                f"{self.source.root}: the training split has no {self.window.seconds:g} s windows "
                "(every sequence is shorter, or all were left out as bad)"
            )
        if self.normalizer is None:
            assert train is not None
            self.normalizer = self._fit_normalizer(train)
        if train is not None and not self.genres:
            self.genres = self._labels(train)
        for role in roles:
            split = self._split_name(role)
            if split is None or role in self._datasets:
                continue
            self._datasets[role] = self._window_dataset(self._prepare_split(split))

    def _fit_normalizer(self, train: PreparedSplit) -> Normalizer:
        """The representation's normaliser fitted on the training split.

        Statistics over the frames the windows cover equal EDGE's fit over all (overlapping) windows."""
        normalizer = self.representation.make_normalizer()
        for motion in train.motion:
            normalizer.partial_fit(motion)
        return normalizer

    def _labels(self, train: PreparedSplit) -> list[str]:
        """The genre vocabulary (index = ``genre_id``): ``data.genres``, else the training split's labels,
        sorted."""
        labels = sorted(set(train.genres) - {""})
        if "genre" in self.conditions and not labels:
            raise DatasetError(
                f"{self.source.root}: the model is conditioned on genre (data.conditions includes genre), "
                "but the training split has no genre labels: AIST++ names carry them; for a curated folder "
                "set data.source_options.genre_column to the metadata.csv column that holds them"
            )
        if self.genre_list is None:
            return labels
        unknown = [g for g in labels if g not in self.genre_list]
        if unknown and "genre" in self.conditions:
            log.warning(
                "training genres %s are not in data.genres (%s): their windows get no genre",
                ", ".join(unknown),
                ", ".join(self.genre_list),
            )
        return list(self.genre_list)

    def vocabularies(self) -> dict[str, list[str]]:
        """The values of the categorical conditions in the batches, in one-hot order (after setup); they
        travel in checkpoints so generation can name them (``style="gHO"``)."""
        return {"genre": list(self.genres)} if "genre" in self.conditions else {}

    def _window_dataset(self, prepared: PreparedSplit) -> Dataset:
        """The window dataset of one prepared split (an empty split gives an empty dataset)."""
        return WindowDataset(
            prepared,
            self._fitted_normalizer(),
            self.window.frames,
            {g: i for i, g in enumerate(self.genres)},
            self.conditions,
            self.n_seed,
        )

    # --- loaders ------------------------------------------------------------------------------------

    def dataset(self, role: str) -> Dataset:
        """The window dataset of ``role`` (``train``, ``val`` or ``test``) after :meth:`setup`."""
        if role not in self._datasets:
            raise DatasetError(f"no {role!r} windows: call setup() for a stage that builds them first")
        return self._datasets[role]

    def resume_at(self, epoch: int, batches_done: int) -> None:
        """Start the next training loader at ``epoch`` after its first ``batches_done`` batches (a run
        resumed from a checkpoint; see :class:`a2a.lightning.callbacks.ResumeState`)."""
        self._train_position = (int(epoch), int(batches_done))

    def _loader(self, role: str, shuffle: bool) -> DataLoader:
        dataset = self._datasets.get(role)
        if dataset is None:
            dataset = self._window_dataset(PreparedSplit([], [], [], [], []))
        sampler = None
        if shuffle:
            epoch, batches_done = self._train_position
            sampler = EpochShuffleSampler(dataset, self.seed, epoch, batches_done * self.batch_size)
            self._train_position = (0, 0)
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            worker_init_fn=seed_worker,
            generator=generator,
            drop_last=self.drop_last and shuffle,
            persistent_workers=self.num_workers > 0,
        )

    def _fitted_normalizer(self) -> Normalizer:
        if self.normalizer is None:
            raise DatasetError("call setup() before asking for data loaders")
        return self.normalizer

    def train_dataloader(self) -> DataLoader:
        if "train" not in self._datasets:
            raise DatasetError("call setup('fit') before train_dataloader()")
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    # --- checkpoints --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Normaliser statistics and genre list (plain tensors and strings)."""
        state: dict[str, Any] = {"genres": list(self.genres)}
        if self.normalizer is not None:
            state["normalizer"] = self.normalizer.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "normalizer" in state_dict:
            self.normalizer = normalizer_from_state_dict(state_dict["normalizer"])
        self.genres = list(state_dict.get("genres", self.genres))
