"""Reader for the ZEGGS gesture layout (ZeroEGGS, the data of DiffuseStyleGesture), and its names.

ZeroEGGS names its takes ``NNN_<Style>_<take>`` (``001_Neutral_0``), mirrored takes ``…_mirror``, and its
data pipeline writes time-stretched copies ``<take>_x_<ratio>`` (``015_Happy_4_x_1_0``,
``001_Neutral_0_mirror_x_0_9``) into ``processed_v1/trimmed/{train,valid}/`` as ``.bvh`` + ``.wav`` pairs,
which DSG reads. This reader takes either

- a folder with ``train/`` and ``valid/`` (or ``val/``, ``test/``) sub-folders: the folder is the split;
- a flat folder of pairs: the split follows ZeroEGGS' ``validation`` column (``data/info.csv``), i.e.
  the takes in :data:`ZEGGS_VALIDATION_TAKES` (for the six DSG styles: the ``_4`` takes of Neutral,
  Sad, Happy, Relaxed and Old, and ``Angry_3``) are ``val``, the rest ``train``.

The style is the second field of the name. Only the configured styles are kept (default DSG's six, in
DSG's one-hot order :data:`DSG_STYLES`); the others are skipped and listed in :attr:`ZeggsFolder.skipped`.
Motions are the BVH's own rig (checked against the 75-joint ZEGGS rig, a clear error naming the file and
the joints otherwise), centimetres → metres, brought from 60 to 20 fps by keeping every 3rd frame (as
DSG does).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf
from tqdm.auto import tqdm

from a2a.data.windows import BadItem, BadItemPolicy, DanceSequence
from a2a.errors import A2AError, DatasetError
from a2a.motion.bvh import RIG_UNITS_PER_METRE, bvh_to_motion, read_bvh
from a2a.motion.rigs import check_rig, rig_by_name
from a2a.motion.skeleton import Skeleton
from a2a.threads import single_threaded_torch

log = logging.getLogger(__name__)

# DSG's style one-hot order (zeggs_data_to_lmdb.py / sample.py: style2onehot).
DSG_STYLES: tuple[str, ...] = ("Happy", "Sad", "Neutral", "Old", "Angry", "Relaxed")
GESTURE_FPS = 20.0

# (style, take) of the rows of ZeroEGGS' data/info.csv whose validation column is TRUE.
ZEGGS_VALIDATION_TAKES: frozenset[tuple[str, int]] = frozenset(
    {
        ("Neutral", 4), ("Sad", 4), ("Happy", 4), ("Relaxed", 4), ("Old", 4), ("Angry", 3),
        ("Agreement", 2), ("Disagreement", 2), ("Flirty", 2), ("Pensive", 2), ("Scared", 2),
        ("Distracted", 2), ("Sarcastic", 2), ("Threatening", 2), ("Still", 2), ("Laughing", 1),
        ("Sneaky", 2), ("Tired", 2), ("Speech", 0), ("Speech", 1), ("Speech", 2),
    }
)  # fmt: skip

_NAME = re.compile(
    r"^(?P<index>\d+)_(?P<style>[A-Za-z]+)_(?P<take>\d+)(?P<mirror>_mirror)?(?:_x_(?P<ratio>\d+(?:_\d+)?))?$"
)
# Sub-folder → split; ZeroEGGS writes train/ and valid/.
_SPLIT_FOLDERS = {"train": "train", "valid": "val", "val": "val", "test": "test"}
_SPLIT_ORDER = ("train", "val", "test")
# A frame rate within this relative distance of an integer is that integer (BVH prints 1/60 s as 0.016667).
_FPS_SNAP = 1e-4


@dataclass(frozen=True)
class ZeggsName:
    """The fields of a ZEGGS take name such as ``001_Neutral_0_mirror_x_0_9``."""

    name: str
    index: int
    style: str
    take: int
    mirror: bool
    speed: float  # the time-stretch ratio (1.0 when the name has none)


def parse_zeggs_name(name: str) -> ZeggsName:
    """Split a ZEGGS name (a file stem) into its fields; clear error for anything else."""
    m = _NAME.match(name)
    if m is None:
        raise DatasetError(
            f"{name!r} is not a ZEGGS take name (expected NNN_<Style>_<take>[_mirror][_x_<ratio>], "
            "e.g. '015_Happy_4_x_1_0')"
        )
    ratio = m["ratio"]
    return ZeggsName(
        name=name,
        index=int(m["index"]),
        style=m["style"],
        take=int(m["take"]),
        mirror=m["mirror"] is not None,
        speed=float(ratio.replace("_", ".")) if ratio else 1.0,
    )


def format_zeggs_name(index: int, style: str, take: int, mirror: bool = False, speed: float = 1.0) -> str:
    """``NNN_<Style>_<take>[_mirror]_x_<ratio>`` as ZeroEGGS' pipeline writes it (ratio 1.0 → ``1_0``)."""
    if not re.fullmatch(r"[A-Za-z]+", style):
        raise DatasetError(f"ZEGGS style names are letters only, got {style!r}")
    return f"{index:03d}_{style}_{take}{'_mirror' if mirror else ''}_x_{str(float(speed)).replace('.', '_')}"


def _bvh_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.bvh") if p.is_file()) if folder.is_dir() else []


def _is_zeggs_folder(folder: Path) -> bool:
    files = _bvh_files(folder)
    if not files:
        return False
    try:
        for path in files:
            parse_zeggs_name(path.stem)
    except DatasetError:
        return False
    return True


def is_zeggs_layout(root: str | os.PathLike) -> bool:
    """True when ``root`` (or its split sub-folders) holds ``.bvh`` files all named like ZEGGS takes."""
    root = Path(root)
    folders = [root / sub for sub in _SPLIT_FOLDERS if (root / sub).is_dir()] or [root]
    return any(_is_zeggs_folder(f) for f in folders)


def snap_fps(fps: float) -> float:
    """``fps`` rounded to an integer when it is within 1e-4 (relative) of one (59.9988 → 60)."""
    nearest = round(fps)
    return float(nearest) if nearest > 0 and abs(fps - nearest) <= _FPS_SNAP * fps else float(fps)


class ZeggsFolder:
    """The takes of a ZEGGS-layout folder (see the module docstring), as :class:`DanceSequence` objects
    whose ``genre`` is the style and ``motion`` is on the rig at ``fps``.

    Args:
        root: the folder.
        fps: frame rate of the returned motions (DSG: 20; 60 keeps the file's frames).
        styles: styles to keep, in one-hot order; ``None`` keeps every style.
        rig: the rig the files must have (``zeggs75``, or a :class:`~a2a.motion.skeleton.Skeleton`).
        skip_bad: record unusable takes in :attr:`bad` and go on instead of raising.

    Attributes:
        bad: takes left out as unusable (only with ``skip_bad``).
        skipped: takes left out because their style is not in ``styles``.
        ignored: always empty (the layout has no ignore list; kept for the dataset-source protocol).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        fps: float = GESTURE_FPS,
        styles: list[str] | tuple[str, ...] | None = DSG_STYLES,
        rig: str | Skeleton = "zeggs75",
        skip_bad: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: ZEGGS dataset folder does not exist")
        if not fps > 0:
            raise DatasetError(f"{self.root}: fps must be positive, got {fps}")
        self.fps = float(fps)
        self.styles = tuple(styles) if styles is not None else None
        if self.styles is not None and (not self.styles or len(set(self.styles)) != len(self.styles)):
            raise DatasetError(f"{self.root}: styles must be a non-empty list without repeats, got {styles}")
        self.rig = rig_by_name(rig)
        self.skip_bad = skip_bad
        self.bad: list[BadItem] = []
        self.skipped: list[str] = []
        self.ignored: list[str] = []
        self._files = self._index()
        self._loaded: dict[str, list[DanceSequence]] = {}

    # --- layout -------------------------------------------------------------------------------------

    def _index(self) -> dict[str, list[tuple[Path, ZeggsName]]]:
        """BVH files per split, names parsed; styles outside ``styles`` recorded in :attr:`skipped`."""
        folders = [
            (split, self.root / sub) for sub, split in _SPLIT_FOLDERS.items() if (self.root / sub).is_dir()
        ]
        # None: a flat folder, split by ZeroEGGS' validation takes.
        files = (
            [(split, path) for split, folder in folders for path in _bvh_files(folder)]
            if folders
            else [(None, path) for path in _bvh_files(self.root)]
        )
        if not files:
            raise DatasetError(
                f"{self.root}: no .bvh files (expected ZEGGS takes such as 015_Happy_4_x_1_0.bvh)"
            )
        policy = BadItemPolicy(self.skip_bad, self.bad)
        splits: dict[str, list[tuple[Path, ZeggsName]]] = {s: [] for s in _SPLIT_ORDER}
        for split, path in files:
            try:
                name = parse_zeggs_name(path.stem)
            except DatasetError as exc:
                policy.handle(path.stem, path, DatasetError(f"{path}: {exc}"))
                continue
            if self.styles is not None and name.style not in self.styles:
                self.skipped.append(name.name)
                continue
            if split is None:
                split = "val" if (name.style, name.take) in ZEGGS_VALIDATION_TAKES else "train"
            splits[split].append((path, name))
        if self.skipped:
            log.info(
                "%s: %d take(s) of other styles skipped (keeping %s)",
                self.root,
                len(self.skipped),
                ", ".join(self.styles or ()),
            )
        return splits

    def split_names(self) -> list[str]:
        """Splits with takes, in ``train, val, test`` order."""
        return [s for s in _SPLIT_ORDER if self._files.get(s)]

    def style_names(self) -> list[str]:
        """The styles in one-hot order: the configured list, else every style found, sorted."""
        if self.styles is not None:
            return list(self.styles)
        return sorted({name.style for entries in self._files.values() for _, name in entries})

    # --- loading ------------------------------------------------------------------------------------

    def sequences(self, split: str, progress: bool = False) -> list[DanceSequence]:
        """The usable takes of ``split``, sorted by file name."""
        if split not in _SPLIT_ORDER:
            raise DatasetError(f"unknown split {split!r} (use train, val or test)")
        if split not in self._loaded:
            policy = BadItemPolicy(self.skip_bad, self.bad)
            out = []
            entries = self._files.get(split, [])
            with single_threaded_torch():
                for path, name in tqdm(entries, desc=f"ZEGGS {split}", disable=not progress, unit="take"):
                    try:
                        out.append(self._load(path, name, split))
                    except DatasetError as exc:
                        policy.handle(name.name, path, exc)
                    except A2AError as exc:  # its message already names the file
                        policy.handle(name.name, path, DatasetError(str(exc)))
            self._loaded[split] = out
        return list(self._loaded[split])

    def _load(self, path: Path, name: ZeggsName, split: str) -> DanceSequence:
        wav = path.with_suffix(".wav")
        if not wav.is_file():
            raise DatasetError(f"{path}: no audio {wav.name} next to it")
        _check_wav(wav)
        bvh = read_bvh(path)
        check_rig(bvh.names, bvh.parents, self.rig, str(path))
        motion = bvh_to_motion(bvh, units_per_metre=RIG_UNITS_PER_METRE, fps=snap_fps(bvh.fps))
        if motion.fps != self.fps:
            motion = motion.resample(self.fps)
        meta = {"index": name.index, "take": name.take, "mirror": name.mirror, "speed": name.speed}
        return DanceSequence(name.name, motion, wav, split=split, genre=name.style, meta=meta)


def _check_wav(path: Path) -> None:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DatasetError(f"{path}: unreadable audio ({exc})") from None
    if info.frames == 0:
        raise DatasetError(f"{path}: audio has 0 samples")
