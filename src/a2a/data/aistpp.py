"""Reader for the AIST++ layout (as EDGE downloads it, and as ``a2a.data.synthetic`` writes it).

::

    ROOT/motions/<seq>.pkl                  smpl_poses [N, 72], smpl_trans [N, 3], smpl_scaling [1]; 60 fps
    ROOT/wavs/<seq>.wav  (or <music>.wav)   one song per sequence (EDGE) or per music id (AIST Dance DB)
    ROOT/splits/crossmodal_{train,val,test}.txt
    ROOT/ignore_list.txt                    sequences with poor 3D reconstruction (optional)

List files are parsed with ``strip()`` and blank lines dropped: EDGE's ignore list has a trailing space
and a blank last line, its train list no final newline. Motions are brought to 30 fps by keeping every
second frame and the translation is divided by ``smpl_scaling``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import soundfile as sf
from tqdm.auto import tqdm

from a2a.data.naming import parse_sequence_name
from a2a.data.windows import SPLITS, BadItem, BadItemPolicy, DanceSequence
from a2a.errors import A2AError, DatasetError
from a2a.motion.motion import Motion

log = logging.getLogger(__name__)

AISTPP_FPS = 60.0


def read_name_list(path: Path) -> list[str]:
    """Names in a split / ignore list: one per line, whitespace stripped, blank lines dropped,
    duplicates dropped (first occurrence kept)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such list file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read list file ({exc})") from None
    names = [line.strip() for line in text.splitlines()]
    return list(dict.fromkeys(n for n in names if n))


def is_aistpp_layout(root: str | os.PathLike) -> bool:
    """True when ``root`` has ``motions/`` and ``splits/crossmodal_*.txt``."""
    root = Path(root)
    return (root / "motions").is_dir() and any((root / "splits").glob("crossmodal_*.txt"))


class AISTPPDataset:
    """The sequences of an AIST++-layout folder, split by the cross-modal lists.

    Args:
        root: dataset folder.
        fps: frame rate of the returned motions (30 as EDGE; 60 keeps the original frames).
        skip_bad: record unusable sequences in :attr:`bad` and continue instead of raising
            :class:`DatasetError`.
        use_ignore_list: drop the sequences in ``ignore_list.txt`` (counted in :attr:`ignored`).
        split_prefix: file name prefix of the split lists.

    Attributes:
        bad: sequences left out as unusable (only with ``skip_bad``).
        ignored: sequences dropped by the ignore list, over every split read so far.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        fps: float = 30.0,
        skip_bad: bool = False,
        use_ignore_list: bool = True,
        split_prefix: str = "crossmodal_",
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: AIST++ dataset folder does not exist")
        for sub in ("motions", "splits"):
            if not (self.root / sub).is_dir():
                raise DatasetError(f"{self.root}: not an AIST++ layout (no {sub}/ folder)")
        self.fps = float(fps)
        self.skip_bad = skip_bad
        self.split_prefix = split_prefix
        self.bad: list[BadItem] = []
        self.ignored: list[str] = []
        ignore_path = self.root / "ignore_list.txt"
        self.ignore_list: set[str] = (
            set(read_name_list(ignore_path)) if use_ignore_list and ignore_path.exists() else set()
        )

    def split_path(self, split: str) -> Path:
        return self.root / "splits" / f"{self.split_prefix}{split}.txt"

    def split_names(self) -> list[str]:
        """Splits with a list file, in ``train, val, test`` order."""
        return [s for s in SPLITS if self.split_path(s).exists()]

    def names(self, split: str) -> list[str]:
        """Sequence names listed for ``split``, before the ignore list."""
        path = self.split_path(split)
        if not path.exists():
            known = ", ".join(self.split_names()) or "none"
            raise DatasetError(f"{path}: split {split!r} has no list file (splits here: {known})")
        return read_name_list(path)

    def audio_path(self, name: str) -> Path | None:
        """``wavs/<seq>.wav``, else the song of its music id ``wavs/<music>.wav``; ``None`` if neither."""
        wav = self.root / "wavs" / f"{name}.wav"
        if wav.exists():
            return wav
        try:
            music = parse_sequence_name(name).music
        except DatasetError:
            return None
        wav = self.root / "wavs" / f"{music}.wav"
        return wav if wav.exists() else None

    def sequences(self, split: str, progress: bool = False) -> list[DanceSequence]:
        """Load the usable sequences of ``split`` in list order (ignore list applied)."""
        policy = BadItemPolicy(self.skip_bad, self.bad)
        listed = self.names(split)
        ignored = [n for n in listed if n in self.ignore_list]
        self.ignored.extend(n for n in ignored if n not in self.ignored)
        if ignored:
            log.info("%s: ignore list drops %d of %d sequences", split, len(ignored), len(listed))
        out: list[DanceSequence] = []
        names = [n for n in listed if n not in self.ignore_list]
        for name in tqdm(names, desc=f"AIST++ {split}", disable=not progress, unit="seq"):
            try:
                out.append(self._load(name, split))
            except A2AError as exc:
                policy.handle(name, self.split_path(split), exc)
        bad_here = [b for b in self.bad if b.name in set(names)]
        if bad_here:
            log.warning(
                "%s: skipped %d bad sequence(s): %s", split, len(bad_here), "; ".join(map(str, bad_here))
            )
        return out

    def _load(self, name: str, split: str) -> DanceSequence:
        pkl = self.root / "motions" / f"{name}.pkl"
        if not pkl.exists():
            raise DatasetError(f"{self.split_path(split)}: lists sequence {name!r} but {pkl} does not exist")
        wav = self.audio_path(name)
        if wav is None:
            raise DatasetError(f"{pkl}: no audio for sequence {name!r} (looked for wavs/{name}.wav)")
        _check_wav_header(wav)
        motion = Motion.from_aistpp_pkl(pkl, fps=AISTPP_FPS)
        if motion.fps != self.fps:
            motion = motion.resample(self.fps)
        genre, tempo, meta = "", None, {}
        try:
            parsed = parse_sequence_name(name)
        except DatasetError:
            log.debug("%s is not an AIST++ name; no genre or tempo", name)
        else:
            genre, tempo = parsed.genre, parsed.tempo
            meta = {
                "dancer": parsed.dancer,
                "music": parsed.music,
                "situation": parsed.situation,
                "choreography": parsed.choreography,
            }
        return DanceSequence(name, motion, wav, split=split, genre=genre, tempo=tempo, meta=meta)


def _check_wav_header(path: Path) -> None:
    """Cheap checks before the (expensive) feature extraction: readable header, at least one sample."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DatasetError(f"{path}: unreadable audio ({exc})") from None
    if info.frames == 0:
        raise DatasetError(f"{path}: audio has 0 samples")
