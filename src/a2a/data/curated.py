"""Curated dance datasets: a folder of song/motion pairs, or a Hugging Face ``datasets`` dataset on disk.

**Folder.** ``ROOT/<name>.{wav,flac,ogg,mp3}`` next to ``ROOT/<name>.{bvh,pkl,npz}`` (or the same files in
``ROOT/wavs/`` and ``ROOT/motions/``), plus an optional ``ROOT/metadata.csv`` with a ``name`` column and
any of ``genre`` (or ``style``), ``split`` and free-form columns (kept in ``DanceSequence.meta``).

**Hugging Face.** A dataset saved with ``save_to_disk`` (or any local folder ``load_dataset`` reads) with
an audio column (an ``Audio`` feature, file bytes, a path, or ``{"array", "sampling_rate"}``) and a
motion column (BVH text, a path to a ``.bvh/.pkl/.npz`` file, or ``{"poses", "trans", "fps"}``).

Splits come from a ``split`` column / the ``DatasetDict`` keys; without them every name is assigned by a
hash of the name (deterministic, independent of file order), ``val_fraction`` and ``test_fraction`` each.

**BVH on another rig.** The named joints of the file are mapped to SMPL-24 through ``joint_map``
(library joint name → SMPL joint name; :data:`SUBNET_LIBRARY_TO_SMPL`, the 22 pairs the subnet-25
validator scores, is built in, and a file with the SMPL names maps by name). The mapped positions are
the SMPL-24 joint targets (``DanceSequence.joints``); SMPL rotations for the 151-d representation come
from :func:`positions_to_smpl`, a per-frame inverse kinematics that turns each joint to point its rest
bones at the mapped children (Kabsch with two or more children, the shortest rotation with one).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from a2a.data.aistpp import AISTPPDataset, is_aistpp_layout
from a2a.data.windows import SPLITS, BadItem, BadItemPolicy, DanceSequence, DanceSource
from a2a.data.zeggs import ZeggsFolder, is_zeggs_layout
from a2a.errors import A2AError, BVHError, DatasetError, MotionFormatError
from a2a.motion.bvh import BVHData, read_bvh
from a2a.motion.library_rig import SMPL_TO_LIBRARY
from a2a.motion.motion import Motion
from a2a.motion.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from a2a.motion.skeleton import SMPL24, Skeleton

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
MOTION_SUFFIXES = (".bvh", ".pkl", ".npz")

# The subnet-25 validator's edge_library_joint_map, reversed: library rig joint → SMPL joint (22 pairs;
# the SMPL collars are not in the library rig).
SUBNET_LIBRARY_TO_SMPL: dict[str, str] = {library: smpl for smpl, library in SMPL_TO_LIBRARY}

# File units → metres: the candidate that makes the mapped bones closest to SMPL's lengths wins.
_UNIT_CANDIDATES = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254}
# Relative frame-rate error accepted as exact (a BVH Frame Time of 0.033333 is 30 fps).
_FPS_TOLERANCE = 1e-4
# Z-up → Y-up: −90° about X, (x, y, z) → (x, z, −y).
_Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


# --- BVH on any rig → SMPL-24 ------------------------------------------------------------------------


def default_joint_map(bvh: BVHData, skeleton: Skeleton = SMPL24) -> dict[str, str]:
    """SMPL names map to themselves when the file has them all; else the subnet-25 library map."""
    names = set(bvh.names)
    if set(skeleton.names) <= names:
        return {n: n for n in skeleton.names}
    if set(SUBNET_LIBRARY_TO_SMPL) <= names:
        return dict(SUBNET_LIBRARY_TO_SMPL)
    raise BVHError(
        f"{bvh.source}: joints are neither SMPL's nor the subnet-25 library rig's; give a joint_map "
        f"(file joint → SMPL joint). File joints: {', '.join(bvh.names)}"
    )


def mapped_positions(
    bvh: BVHData,
    joint_map: Mapping[str, str],
    skeleton: Skeleton = SMPL24,
    units: str | float = "auto",
    up_axis: str = "y",
) -> np.ndarray:
    """SMPL-24 joint positions ``[F, 24, 3]`` (metres, Y-up) from a BVH; unmapped joints are NaN.

    Args:
        joint_map: file joint name → SMPL joint name. The SMPL root (``Pelvis``) must be mapped.
        units: file length unit (``m``, ``cm``, ``mm``, ``inch``), metres per file unit, or ``auto``
            (the unit that makes the mapped bone lengths closest to SMPL's).
        up_axis: ``y`` (BVH convention) or ``z``.
    """
    smpl_index = {n: i for i, n in enumerate(skeleton.names)}
    unknown = sorted(s for s in joint_map.values() if s not in smpl_index)
    if unknown:
        raise BVHError(
            f"joint_map targets {', '.join(unknown)} are not SMPL joints ({', '.join(skeleton.names)})"
        )
    missing = sorted(n for n in joint_map if n not in set(bvh.names))
    if missing:
        raise BVHError(f"{bvh.source}: joint_map names joints the file lacks: {', '.join(missing)}")
    if skeleton.names[0] not in joint_map.values():
        raise BVHError(f"joint_map must map a file joint to the SMPL root {skeleton.names[0]!r}")
    world = bvh.world_positions()
    out = np.full((world.shape[0], skeleton.num_joints, 3), np.nan)
    lookup = bvh.name_to_index()
    for file_name, smpl_name in joint_map.items():
        out[:, smpl_index[smpl_name]] = world[:, lookup[file_name]]
    if up_axis.lower() == "z":
        out = out @ _Z_UP_TO_Y_UP.T
    elif up_axis.lower() != "y":
        raise BVHError(f"up_axis must be 'y' or 'z', got {up_axis!r}")
    return out * _metres_per_unit(out, skeleton, units, bvh.source)


def _metres_per_unit(positions: np.ndarray, skeleton: Skeleton, units: str | float, source: str) -> float:
    if isinstance(units, int | float):
        if not units > 0:
            raise BVHError(f"units must be positive metres per file unit, got {units}")
        return float(units)
    if units in _UNIT_CANDIDATES:
        return _UNIT_CANDIDATES[units]
    if units != "auto":
        raise BVHError(f"units must be one of auto, {', '.join(_UNIT_CANDIDATES)} or a number, got {units!r}")
    ratios = []
    for j, p in enumerate(skeleton.parents):
        if p >= 0 and not np.isnan(positions[0, j, 0]) and not np.isnan(positions[0, p, 0]):
            rest = np.linalg.norm(skeleton.offsets[j])
            length = np.median(np.linalg.norm(positions[:, j] - positions[:, p], axis=-1))
            if rest > 0.05 and length > 0:
                ratios.append(length / rest)
    if not ratios:
        raise BVHError(f"{source}: cannot infer the length unit (no mapped parent–child bones); pass units=")
    ratio = float(np.median(ratios))
    unit = min(_UNIT_CANDIDATES, key=lambda u: abs(np.log(ratio * _UNIT_CANDIDATES[u])))
    log.debug("%s: bone lengths are %.3g × SMPL's: units=%s", source, ratio, unit)
    return _UNIT_CANDIDATES[unit]


def _shortest_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations ``[F, 3, 3]`` turning directions ``a [F, 3]`` onto ``b [F, 3]`` by the smallest angle."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    cross = np.cross(a, b)
    sin = np.linalg.norm(cross, axis=-1)
    cos = np.sum(a * b, axis=-1)
    axis = cross / np.maximum(sin, 1e-12)[:, None]
    # Opposite directions: any axis perpendicular to a.
    flip = sin < 1e-9
    if flip.any():
        helper = np.where(np.abs(a[flip, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        perp = np.cross(a[flip], helper)
        axis[flip] = perp / np.linalg.norm(perp, axis=-1, keepdims=True)
    return axis_angle_to_matrix(axis * np.arctan2(sin, cos)[:, None])


def _kabsch(rest: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotations ``[F, 3, 3]`` best turning unit vectors ``rest [K, 3]`` onto ``target [F, K, 3]``."""
    target = target / np.linalg.norm(target, axis=-1, keepdims=True)
    rest = rest / np.linalg.norm(rest, axis=-1, keepdims=True)
    h = np.einsum("ki,fkj->fij", rest, target)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    fix = np.ones((len(h), 3))
    fix[:, 2] = d
    return np.swapaxes(vt, -1, -2) @ (fix[:, :, None] * np.swapaxes(u, -1, -2))


def positions_to_smpl(positions: np.ndarray, skeleton: Skeleton = SMPL24) -> tuple[np.ndarray, np.ndarray]:
    """Inverse kinematics: joint positions ``[F, 24, 3]`` (NaN = unmapped) → SMPL axis-angle poses
    ``[F, 24, 3]`` and root translation ``[F, 3]``.

    Each joint's world rotation turns its rest child offsets onto the directions to the mapped children
    (an unmapped child is looked through to its mapped children): Kabsch with two or more, the shortest
    rotation from the parent's orientation with one, the parent's orientation with none. Bone lengths
    stay SMPL's; twist about a single bone is not observable and stays the parent's.
    """
    frames = positions.shape[0]
    mapped = ~np.isnan(positions[0, :, 0])
    if not mapped[0]:
        raise MotionFormatError("inverse kinematics needs the root joint's positions")
    children = [skeleton.children(j) for j in range(skeleton.num_joints)]
    world_rot = np.zeros((frames, skeleton.num_joints, 3, 3))
    world_pos = np.zeros((frames, skeleton.num_joints, 3))
    local = np.zeros_like(world_rot)
    for j, p in enumerate(skeleton.parents):
        parent_rot = np.broadcast_to(np.eye(3), (frames, 3, 3)) if p < 0 else world_rot[:, p]
        if p < 0:
            world_pos[:, j] = positions[:, j]
        else:
            world_pos[:, j] = world_pos[:, p] + parent_rot @ skeleton.offsets[j]
        origin = positions[:, j] if mapped[j] else world_pos[:, j]
        rests, targets = [], []
        for c in children[j]:
            if mapped[c]:
                rests.append(skeleton.offsets[c])
                targets.append(positions[:, c] - origin)
            else:
                for g in children[c]:
                    if mapped[g]:
                        rests.append(skeleton.offsets[c] + skeleton.offsets[g])
                        targets.append(positions[:, g] - origin)
        usable = [k for k, r in enumerate(rests) if np.linalg.norm(r) > 1e-6]
        if len(usable) >= 2:
            world_rot[:, j] = _kabsch(
                np.stack([rests[k] for k in usable]), np.stack([targets[k] for k in usable], 1)
            )
        elif len(usable) == 1:
            k = usable[0]
            swing = _shortest_rotation(parent_rot @ rests[k], targets[k])
            world_rot[:, j] = swing @ parent_rot
        else:
            world_rot[:, j] = parent_rot
        local[:, j] = np.swapaxes(parent_rot, -1, -2) @ world_rot[:, j]
    # Forward kinematics puts the root at translation + offsets[0].
    return matrix_to_axis_angle(local), positions[:, 0] - skeleton.offsets[0]


def _resample_positions(positions: np.ndarray, fps: float, target_fps: float) -> np.ndarray:
    """Positions ``[F, J, 3]`` at ``target_fps``: every k-th frame for an integer ratio, else linear
    interpolation over the same time span (as :meth:`Motion.resample`).

    BVH frame times are printed with few digits (``0.033333`` is 30.0003 fps), so a ratio within
    ``_FPS_TOLERANCE`` of an integer counts as that integer.
    """
    ratio = fps / target_fps
    if abs(ratio - round(ratio)) < _FPS_TOLERANCE * ratio and round(ratio) >= 1:
        return positions[:: round(ratio)]
    n_out = max(1, int(np.floor((len(positions) - 1) * target_fps / fps + 1e-9)) + 1)
    src = np.arange(n_out) * fps / target_fps
    lo = np.clip(np.floor(src).astype(int), 0, len(positions) - 1)
    hi = np.clip(lo + 1, 0, len(positions) - 1)
    frac = (src - lo)[:, None, None]
    return positions[lo] * (1 - frac) + positions[hi] * frac


def bvh_to_smpl(
    bvh: BVHData,
    fps: float = 30.0,
    joint_map: Mapping[str, str] | None = None,
    units: str | float = "auto",
    up_axis: str = "y",
    skeleton: Skeleton = SMPL24,
) -> tuple[Motion, np.ndarray]:
    """A BVH on any rig → SMPL-24 :class:`Motion` at ``fps`` and mapped joint targets ``[N, 24, 3]``
    (metres, Y-up; joints the map leaves out are filled by forward kinematics of the motion)."""
    joint_map = dict(joint_map) if joint_map else default_joint_map(bvh, skeleton)
    positions = mapped_positions(bvh, joint_map, skeleton, units=units, up_axis=up_axis)
    positions = _resample_positions(positions, bvh.fps, fps)
    poses, trans = positions_to_smpl(positions, skeleton)
    motion = Motion(poses, trans, fps)
    joints = np.where(np.isnan(positions), motion.joints(skeleton), positions)
    return motion, joints


# --- split assignment --------------------------------------------------------------------------------


def hash_splits(names: list[str], val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Deterministic split per name: names ranked by SHA-1, the first ``round(n·test_fraction)`` go to
    test, the next ``round(n·val_fraction)`` to val (each at least one when its fraction is positive and
    at least three names exist), the rest to train."""
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DatasetError(
            f"val_fraction ({val_fraction}) and test_fraction ({test_fraction}) must be in [0, 1), "
            "with a sum below 1"
        )
    ranked = sorted(names, key=lambda n: hashlib.sha1(n.encode("utf-8")).hexdigest())
    n = len(ranked)

    def count(fraction: float) -> int:
        k = round(n * fraction)
        return max(k, 1) if fraction > 0 and n >= 3 else k

    n_test, n_val = count(test_fraction), count(val_fraction)
    out = {name: "train" for name in ranked}
    out.update({name: "test" for name in ranked[:n_test]})
    out.update({name: "val" for name in ranked[n_test : n_test + n_val]})
    return out


def _normalise_split(value: str, source: str) -> str:
    value = value.strip().lower()
    aliases = {"validation": "val", "valid": "val", "dev": "val", "eval": "test"}
    value = aliases.get(value, value)
    if value not in SPLITS:
        raise DatasetError(f"{source}: unknown split {value!r} (use train, val or test)")
    return value


# --- shared motion loading ---------------------------------------------------------------------------


class _MotionReader:
    """Motion files or values → (Motion at ``fps``, joint targets or None)."""

    def __init__(self, fps: float, pkl_fps: float, joint_map, units, up_axis) -> None:
        self.fps = float(fps)
        self.pkl_fps = float(pkl_fps)
        self.joint_map = dict(joint_map) if joint_map else None
        self.units = units
        self.up_axis = up_axis

    def _at_fps(self, motion: Motion) -> Motion:
        return motion if motion.fps == self.fps else motion.resample(self.fps)

    def from_path(self, path: Path) -> tuple[Motion, np.ndarray | None]:
        if path.suffix.lower() == ".bvh":
            return bvh_to_smpl(read_bvh(path), self.fps, self.joint_map, self.units, self.up_axis)
        return self._at_fps(Motion.load(path, fps=self.pkl_fps if path.suffix == ".pkl" else None)), None

    def from_value(self, value: Any, source: str, base: Path) -> tuple[Motion, np.ndarray | None]:
        if isinstance(value, str):
            if value.lstrip().startswith("HIERARCHY"):
                return bvh_to_smpl(read_bvh(value), self.fps, self.joint_map, self.units, self.up_axis)
            path = Path(value) if Path(value).is_absolute() else base / value
            return self.from_path(path)
        if isinstance(value, Mapping):
            missing = [k for k in ("poses", "trans") if k not in value]
            if missing:
                raise MotionFormatError(f"{source}: motion value lacks {', '.join(missing)}")
            fps = float(value.get("fps") or self.fps)
            motion = Motion(np.asarray(value["poses"]), np.asarray(value["trans"]), fps)
            return self._at_fps(motion), None
        raise MotionFormatError(
            f"{source}: motion must be BVH text, a file path or {{poses, trans, fps}}, "
            f"got {type(value).__name__}"
        )


class _SplitCache:
    """Loads every sequence once and serves them per split (both sources need all names to split)."""

    def __init__(self) -> None:
        self._loaded: dict[str, list[DanceSequence]] | None = None

    def get(self, load, split: str, progress: bool) -> list[DanceSequence]:
        if self._loaded is None:
            self._loaded = {s: [] for s in SPLITS}
            for seq in load(progress):
                self._loaded[seq.split].append(seq)
        if split not in self._loaded:
            raise DatasetError(f"unknown split {split!r} (use train, val or test)")
        return list(self._loaded[split])


# --- folder ------------------------------------------------------------------------------------------


class CuratedFolder:
    """Song/motion pairs in a folder (see the module docstring for the layout).

    Args:
        root: the folder.
        fps: frame rate of the returned motions.
        pkl_fps: frame rate of ``.pkl`` motions (AIST++ pickles: 60).
        joint_map: BVH joint → SMPL joint; ``None`` picks :func:`default_joint_map` per file.
        units, up_axis: BVH length unit and up axis (see :func:`mapped_positions`).
        val_fraction, test_fraction: hash split sizes when ``metadata.csv`` has no ``split`` column.
        skip_bad: record unusable pairs in :attr:`bad` and go on instead of raising.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        fps: float = 30.0,
        pkl_fps: float = 60.0,
        joint_map: Mapping[str, str] | None = None,
        units: str | float = "auto",
        up_axis: str = "y",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        skip_bad: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f"{self.root}: curated dataset folder does not exist")
        self.reader = _MotionReader(fps, pkl_fps, joint_map, units, up_axis)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.skip_bad = skip_bad
        self.bad: list[BadItem] = []
        self.ignored: list[str] = []
        self.metadata = self._read_metadata()
        self._cache = _SplitCache()

    def _files(self, suffixes: tuple[str, ...], sub: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for folder in (self.root, self.root / sub):
            if folder.is_dir():
                for path in sorted(folder.iterdir()):
                    if path.is_file() and path.suffix.lower() in suffixes:
                        found.setdefault(path.stem, path)
        return found

    def _read_metadata(self) -> dict[str, dict[str, str]]:
        path = self.root / "metadata.csv"
        if not path.exists():
            return {}
        try:
            with open(path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DatasetError(f"{path}: cannot read ({exc})") from None
        if rows and "name" not in rows[0]:
            raise DatasetError(f"{path}: needs a 'name' column (columns: {', '.join(rows[0])})")
        out: dict[str, dict[str, str]] = {}
        for line, row in enumerate(rows, start=2):
            name = (row.get("name") or "").strip()
            if not name:
                raise DatasetError(f"{path}: line {line} has an empty name")
            name = Path(name).stem if Path(name).suffix.lower() in AUDIO_SUFFIXES + MOTION_SUFFIXES else name
            out[name] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        return out

    def split_names(self) -> list[str]:
        return list(SPLITS)

    def sequences(self, split: str, progress: bool = False) -> list[DanceSequence]:
        """The usable pairs of ``split``, sorted by name."""
        return self._cache.get(self._load_all, split, progress)

    def _load_all(self, progress: bool) -> list[DanceSequence]:
        policy = BadItemPolicy(self.skip_bad, self.bad)
        audio, motions = self._files(AUDIO_SUFFIXES, "wavs"), self._files(MOTION_SUFFIXES, "motions")
        if not motions:
            raise DatasetError(f"{self.root}: no motion files ({', '.join(MOTION_SUFFIXES)})")
        for name in sorted(set(audio) - set(motions)):
            log.warning("%s: audio without a motion file, left out", audio[name])
        for name in sorted(set(self.metadata) - set(motions)):
            policy.handle(
                name,
                self.root / "metadata.csv",
                DatasetError(
                    f"{self.root / 'metadata.csv'}: lists {name!r} but there is no motion file "
                    f"{name}.(bvh|pkl|npz)"
                ),
            )
        names = sorted(motions)
        if any("split" in row for row in self.metadata.values()):
            splits = {}
            for n in names:
                value = self.metadata.get(n, {}).get("split", "")
                splits[n] = (
                    _normalise_split(value, f"{self.root / 'metadata.csv'} ({n})") if value else "train"
                )
        else:
            splits = hash_splits(names, self.val_fraction, self.test_fraction)
        out = []
        for name in tqdm(names, desc="curated", disable=not progress, unit="seq"):
            path = motions[name]
            try:
                if name not in audio:
                    raise DatasetError(f"{path}: no audio file {name}.(wav|flac|ogg|mp3) next to it")
                _check_audio_header(audio[name])
                motion, joints = self.reader.from_path(path)
            except A2AError as exc:
                policy.handle(name, path, exc)
                continue
            row = self.metadata.get(name, {})
            genre = row.get("genre") or row.get("style") or ""
            meta = {k: v for k, v in row.items() if k not in ("name", "genre", "style", "split")}
            out.append(
                DanceSequence(
                    name, motion, audio[name], split=splits[name], genre=genre, joints=joints, meta=meta
                )
            )
        return out


def _check_audio_header(path: Path) -> None:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError):
        return  # not a libsndfile format (e.g. MP3 on old builds): the decoder decides later
    if info.frames == 0:
        raise DatasetError(f"{path}: audio has 0 samples")


# --- Hugging Face ------------------------------------------------------------------------------------


def is_hf_dataset(root: str | os.PathLike) -> bool:
    """True for a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``."""
    root = Path(root)
    return (root / "dataset_dict.json").exists() or (root / "state.json").exists()


class HFDanceDataset:
    """A Hugging Face dataset on disk with an audio and a motion column.

    Args:
        root: ``save_to_disk`` folder (read with ``load_from_disk``) or a folder ``load_dataset`` reads.
        audio_column, motion_column: column names.
        name_column: unique sequence names (default: ``<split>_<row>``).
        genre_column: genre / style label (optional; ``style`` is tried too).
        other arguments: as :class:`CuratedFolder`.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        *,
        audio_column: str = "audio",
        motion_column: str = "motion",
        name_column: str = "name",
        genre_column: str = "genre",
        fps: float = 30.0,
        pkl_fps: float = 60.0,
        joint_map: Mapping[str, str] | None = None,
        units: str | float = "auto",
        up_axis: str = "y",
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        skip_bad: bool = False,
    ) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise DatasetError(f"{self.root}: Hugging Face dataset path does not exist")
        self.columns = {
            "audio": audio_column,
            "motion": motion_column,
            "name": name_column,
            "genre": genre_column,
        }
        self.reader = _MotionReader(fps, pkl_fps, joint_map, units, up_axis)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.skip_bad = skip_bad
        self.bad: list[BadItem] = []
        self.ignored: list[str] = []
        self._cache = _SplitCache()

    def split_names(self) -> list[str]:
        return list(SPLITS)

    def sequences(self, split: str, progress: bool = False) -> list[DanceSequence]:
        """The usable rows of ``split``, in dataset order."""
        return self._cache.get(self._load_all, split, progress)

    def _open(self) -> dict[str | None, Any]:
        import datasets  # heavy import, only for this source

        try:
            if is_hf_dataset(self.root):
                loaded = datasets.load_from_disk(str(self.root))
            else:
                loaded = datasets.load_dataset(str(self.root))
        except Exception as exc:  # datasets raises many types for a bad folder
            raise DatasetError(
                f"{self.root}: cannot open as a Hugging Face dataset ({type(exc).__name__}: {exc})"
            ) from None
        parts = dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {None: loaded}
        for key, part in parts.items():
            for role in ("audio", "motion"):
                if self.columns[role] not in part.column_names:
                    where = f"{self.root} split {key!r}" if key else str(self.root)
                    raise DatasetError(
                        f"{where}: no {role} column {self.columns[role]!r} "
                        f"(columns: {', '.join(part.column_names)})"
                    )
            audio_feature = part.features[self.columns["audio"]]
            if isinstance(audio_feature, datasets.Audio) and audio_feature.decode:
                # Decode ourselves (no torchcodec needed): the Audio feature then yields {bytes, path}.
                parts[key] = part.cast_column(self.columns["audio"], datasets.Audio(decode=False))
        return parts

    def _load_all(self, progress: bool) -> list[DanceSequence]:
        policy = BadItemPolicy(self.skip_bad, self.bad)
        parts = self._open()
        rows: list[tuple[str, str | None, dict]] = []
        for key, part in parts.items():
            split = _normalise_split(key, f"{self.root} split {key!r}") if key else None
            for i, row in enumerate(part):
                name = str(row.get(self.columns["name"]) or f"{split or 'row'}_{i:05d}")
                rows.append((name, split, row))
        names = [name for name, _, _ in rows]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise DatasetError(
                f"{self.root}: column {self.columns['name']!r} repeats names: {', '.join(dup[:5])}"
            )
        hashed = hash_splits([n for n, s, _ in rows if s is None], self.val_fraction, self.test_fraction)
        out = []
        for name, split, row in tqdm(rows, desc="dataset", disable=not progress, unit="seq"):
            where = f"{self.root} row {name!r}"
            try:
                audio = self._audio(row[self.columns["audio"]], where)
                motion, joints = self.reader.from_value(row[self.columns["motion"]], where, self.root)
            except (A2AError, OSError) as exc:
                policy.handle(
                    name, self.root, exc if isinstance(exc, A2AError) else DatasetError(f"{where}: {exc}")
                )
                continue
            genre = str(row.get(self.columns["genre"]) or row.get("style") or "")
            meta = {k: v for k, v in row.items() if k not in self.columns.values() and _is_label(v)}
            out.append(
                DanceSequence(
                    name, motion, audio, split=split or hashed[name], genre=genre, joints=joints, meta=meta
                )
            )
        return out

    def _audio(self, value: Any, where: str) -> Path | bytes:
        if isinstance(value, Mapping):
            if value.get("bytes"):
                return bytes(value["bytes"])
            if value.get("array") is not None:
                return _wav_bytes(
                    np.asarray(value["array"], dtype=np.float32), value.get("sampling_rate"), where
                )
            value = value.get("path")
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        if isinstance(value, str) and value:
            path = Path(value) if Path(value).is_absolute() else self.root / value
            if not path.exists():
                raise DatasetError(f"{where}: audio file {path} does not exist")
            return path
        raise DatasetError(
            f"{where}: audio column holds no bytes, array or path (got {type(value).__name__})"
        )


def _is_label(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _wav_bytes(wave: np.ndarray, sr: Any, where: str) -> bytes:
    if not sr or int(sr) <= 0:
        raise DatasetError(f"{where}: audio array without a positive sampling_rate")
    if wave.ndim != 1 or wave.size == 0:
        raise DatasetError(f"{where}: audio array must be mono and non-empty, got shape {wave.shape}")
    buf = io.BytesIO()
    sf.write(buf, wave, int(sr), format="WAV", subtype="FLOAT")
    return buf.getvalue()


# --- any path ----------------------------------------------------------------------------------------


_AISTPP_OPTIONS = {"fps", "skip_bad", "use_ignore_list", "split_prefix"}
_HF_ONLY_OPTIONS = {"audio_column", "motion_column", "name_column", "genre_column"}
_ZEGGS_OPTIONS = {"fps", "skip_bad", "styles", "rig"}
KINDS = ("auto", "aistpp", "hf", "zeggs", "folder")


def detect_kind(path: str | os.PathLike) -> str:
    """The layout of the dataset at ``path``: ``aistpp``, ``hf``, ``zeggs`` or ``folder``."""
    path = Path(path)
    if is_aistpp_layout(path):
        return "aistpp"
    if is_hf_dataset(path):
        return "hf"
    return "zeggs" if is_zeggs_layout(path) else "folder"


def open_source(path: str | os.PathLike, kind: str = "auto", **options: Any) -> DanceSource:
    """Open a dataset by its layout: ``aistpp`` (``motions/`` + ``splits/``), ``hf`` (a saved Hugging Face
    dataset), ``zeggs`` (gesture takes named like ZEGGS, :class:`a2a.data.zeggs.ZeggsFolder`) or
    ``folder`` (curated pairs); ``auto`` detects which.

    ``options`` go to the reader; options that only concern another kind (e.g. ``joint_map`` for an
    AIST++ folder) are dropped, so one data config can point at either kind.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: dataset path does not exist")
    if kind == "auto":
        kind = detect_kind(path)
    others = {"use_ignore_list", "split_prefix", "styles", "rig"}
    if kind == "aistpp":
        reader, keys = AISTPPDataset, _AISTPP_OPTIONS
    elif kind == "hf":
        reader, keys = HFDanceDataset, set(options) - others
    elif kind == "zeggs":
        reader, keys = ZeggsFolder, _ZEGGS_OPTIONS
    elif kind == "folder":
        reader, keys = CuratedFolder, set(options) - _HF_ONLY_OPTIONS - others
    else:
        raise DatasetError(f"unknown dataset kind {kind!r} (use {', '.join(KINDS)})")
    try:
        return reader(path, **{k: v for k, v in options.items() if k in keys})
    except TypeError as exc:
        raise DatasetError(f"{path}: bad dataset option for a {kind} dataset ({exc})") from None
