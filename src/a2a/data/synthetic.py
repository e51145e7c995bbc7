"""A synthetic dataset in the official AIST++ layout: beat-driven dances on synthesized music.

``synthesize(out)`` writes::

    out/motions/<seq>.pkl     60 fps SMPL: smpl_poses [N, 72], smpl_trans [N, 3] × smpl_scaling [1]
    out/wavs/<seq>.wav        mono 16-bit PCM, same duration as the motion
    out/splits/crossmodal_{train,val,test}.txt
    out/ignore_list.txt
    out/meta.json, out/README.md generator, version, seed, and each sequence's tempo and beat times

so the AIST++ reader, the datamodule, training and the metrics can run end to end without the real data.

The music is a drum machine with bass and chords: kick on every beat, snare or clap on the backbeats
(beats 2 and 4 of each bar), hi-hats on the eighths, at the tempo AIST++ names imply
(``music_tempo``). Beat ``k`` sounds at exactly ``offset + k · 60 / BPM`` seconds (events are rendered
from continuous time, so onsets are sub-sample exact); ``offset`` is recorded in ``meta.json``.

The dance is a keyframe per beat: a genre-specific 4-beat cycle of poses (knee bends and weight shifts,
arm swings / pumps / punches / waves, torso lean and twist, head nods), jittered per beat and varied per
dancer (amplitude, arm-pattern phase, mirroring, facing). Between beats the pose moves along a straight
line in the pose parameters with the easing ``e(s) = s − sin(2πs)/(2π)``, whose speed ``1 − cos(2πs)``
vanishes only at ``s = 0`` and ``s = 1``: every joint stops exactly on the beat and nowhere else, so the
kinematic beats (speed minima) are the musical beats. The pelvis height keeps the lowest foot joint on
the floor (≈ 0.9–1.0 m, Y-up, metres after dividing by the scaling, as AIST++).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from a2a.data.naming import GENRES, format_sequence_name, music_tempo, parse_sequence_name
from a2a.errors import DatasetError
from a2a.motion import SMPL24, Motion, fk_axis_angle
from a2a.motion.rotations import euler_to_axis_angle

GENERATOR = "a2a.data.synthetic"
GENERATOR_VERSION = 1
FPS = 60
MAX_SEQUENCES = 990  # 10 genres × choreography numbers ch01..ch99 keep names unique and parseable

# AIST++ holds these music ids out of crossmodal_train (val/test music, one per genre).
HELD_OUT_TEMPO_DIGIT: dict[str, int] = {
    "BR": 0, "PO": 1, "LO": 2, "MH": 3, "LH": 4, "HO": 5, "WA": 0, "KR": 2, "JS": 3, "JB": 5,
}  # fmt: skip

# The entries a synthetic dataset consists of; only these are replaced when one is regenerated.
_OWNED_ENTRIES = ("motions", "wavs", "splits", "ignore_list.txt", "meta.json", "README.md")
_SPLITS = ("train", "val", "test")
_BEATS_PER_BAR = 4


# --------------------------------------------------------------------------------------------------
# public helpers
# --------------------------------------------------------------------------------------------------


def beat_times(name_or_tempo: str | float, seconds: float, offset: float = 0.0) -> np.ndarray:
    """Beat times ``[K]`` in seconds: ``offset + k · 60 / BPM`` for every beat before ``seconds``.

    Args:
        name_or_tempo: an AIST++ sequence name (``gBR_sBM_cAll_d04_mBR0_ch01``), a music id (``mBR0``)
            or a tempo in BPM.
        seconds: length of the clip; beats at or after it are left out.
        offset: time of the first beat (seconds, ≥ 0).
    """
    if isinstance(name_or_tempo, str):
        bpm = music_tempo(name_or_tempo)
        if bpm is None:
            bpm = parse_sequence_name(name_or_tempo).tempo
    else:
        bpm = float(name_or_tempo)
        if not (math.isfinite(bpm) and bpm > 0):
            raise DatasetError(f"beat_times: tempo must be a positive number of BPM, got {name_or_tempo!r}")
    if not (math.isfinite(seconds) and seconds >= 0):
        raise DatasetError(f"beat_times: seconds must be a finite number ≥ 0, got {seconds!r}")
    if not (math.isfinite(offset) and offset >= 0):
        raise DatasetError(f"beat_times: offset must be a finite number ≥ 0, got {offset!r}")
    period = 60.0 / bpm
    count = max(0, math.ceil((seconds - offset) / period) + 1)
    times = offset + np.arange(count) * period
    return times[times < seconds]


def read_meta(root: str | os.PathLike, generator: str = GENERATOR) -> dict:
    """The ``meta.json`` of a synthetic dataset (tempo, offset, beat times, split of each sequence).

    Raises DatasetError when ``root`` is not a dataset written by ``generator`` (default: :func:`synthesize`).
    """
    path = Path(root) / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file ({root} is not a synthetic dataset)") from None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("generator") != generator:
        raise DatasetError(f"{path}: not written by {generator} (field 'generator' missing or different)")
    return meta


def synthesize(
    out: str | os.PathLike,
    sequences: int = 12,
    seconds: float = 8.0,
    seed: int = 0,
    *,
    sr: int = 22050,
    progress: bool = True,
) -> Path:
    """Write a synthetic dataset in the AIST++ layout to ``out`` and return its path.

    Args:
        out: target folder; created with its parents. It must be absent, empty, or a dataset this
            function wrote before (then its entries are replaced; other files in it are kept).
        sequences: number of sequences (1..990); genres cycle over the 10 AIST++ genres.
        seconds: length of every sequence (≥ 1 s); motions have ``round(seconds · 60)`` frames.
        seed: any integer ≥ 0; the same arguments give byte-identical files.
        sr: audio sample rate in Hz (≥ 8000).
        progress: show a progress bar.

    Splits: ``test`` and ``val`` take ``max(1, sequences // 6)`` sequences each from the end of the list
    (``test`` only one when ``sequences == 2``); they use the AIST++ held-out music of their genre
    (:data:`HELD_OUT_TEMPO_DIGIT`), train never does. With ≥ 6 sequences one train sequence is listed in
    ``ignore_list.txt`` (its motion is still written).
    """
    sequences, seconds, seed, sr = _checked_args(sequences, seconds, seed, sr)
    out = Path(out).resolve()  # a real name and parent even for "." (the staging folder is a sibling)
    replacing = check_target(out)
    plans = _plan_sequences(sequences)
    num_frames = round(seconds * FPS)
    duration = num_frames / FPS
    num_samples = round(duration * sr)

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        infos: dict[str, dict] = {}
        for plan in tqdm(plans, desc="synthetic AIST++", unit="seq", disable=not progress):
            rng = np.random.default_rng([seed, plan.index])
            infos[plan.name] = _write_sequence(staging, plan, rng, num_frames, num_samples, sr)
        _write_index(staging, plans, infos, sequences=sequences, seconds=seconds, seed=seed, sr=sr)
        move_into_place(staging, out, replacing)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


# --------------------------------------------------------------------------------------------------
# arguments, target folder, plan
# --------------------------------------------------------------------------------------------------


def _checked_args(sequences, seconds, seed, sr) -> tuple[int, float, int, int]:
    def is_int(x) -> bool:
        return isinstance(x, int | np.integer) and not isinstance(x, bool)

    if not is_int(sequences) or not 1 <= sequences <= MAX_SEQUENCES:
        raise DatasetError(f"sequences must be an integer in 1..{MAX_SEQUENCES}, got {sequences!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | np.integer | np.floating):
        raise DatasetError(f"seconds must be a number ≥ 1, got {seconds!r}")
    if not (math.isfinite(seconds) and seconds >= 1.0):
        raise DatasetError(f"seconds must be a finite number ≥ 1, got {seconds!r}")
    if not is_int(seed) or seed < 0:
        raise DatasetError(f"seed must be an integer ≥ 0, got {seed!r}")
    if not is_int(sr) or sr < 8000:
        raise DatasetError(f"sr (sample rate) must be an integer ≥ 8000 Hz, got {sr!r}")
    return int(sequences), float(seconds), int(seed), int(sr)


def check_target(out: Path, generator: str = GENERATOR) -> bool:
    """True when ``out`` holds a previous dataset of ``generator`` to replace; raise if it holds anything
    else (a synthetic dataset never mixes its files with foreign ones)."""
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return False
    try:
        read_meta(out, generator)
    except DatasetError:
        raise DatasetError(
            f"{out}: folder is not empty and is not a synthetic dataset (no meta.json from {generator}); "
            "refusing to mix files — choose a new or empty folder"
        ) from None
    return True


def move_into_place(
    staging: Path, out: Path, replacing: bool, owned: tuple[str, ...] = _OWNED_ENTRIES
) -> None:
    """Move a dataset staged next to ``out`` into it: a rename, or, when ``replacing`` a previous one, a
    swap of the ``owned`` entries only (other files in ``out`` are kept)."""
    if not replacing:
        if out.is_dir():
            out.rmdir()  # empty (checked before)
        os.replace(staging, out)
        return
    old = staging / ".replaced"
    old.mkdir()
    for entry in owned:
        if (out / entry).exists():
            os.replace(out / entry, old / entry)
        os.replace(staging / entry, out / entry)


@dataclass(frozen=True)
class _SequencePlan:
    index: int
    name: str
    genre: str
    music: str
    split: str


def _plan_sequences(n: int) -> list[_SequencePlan]:
    """Names, genres, music and split of each sequence (deterministic, independent of the seed)."""
    n_eval = max(1, n // 6) if n >= 2 else 0
    test = {n - 1 - 2 * i for i in range(n_eval)}
    val = {n - 2 - 2 * i for i in range(n_eval)} if n >= 3 else set()
    genres = list(GENRES)
    plans = []
    for i in range(n):
        genre_index, repeat = i % len(genres), i // len(genres)
        genre = genres[genre_index]
        split = "test" if i in test else "val" if i in val else "train"
        held_out = HELD_OUT_TEMPO_DIGIT[genre]
        if split == "train":
            train_digits = [d for d in range(6) if d != held_out]
            digit = train_digits[(repeat + genre_index) % len(train_digits)]
        else:
            digit = held_out
        dancer = 3 * genre_index + repeat % 3 + 1  # AIST++ has 30 dancers, a few per genre
        name = format_sequence_name(genre, dancer, digit, choreography=repeat + 1)
        plans.append(_SequencePlan(i, name, genre, f"m{genre}{digit}", split))
    return plans


# --------------------------------------------------------------------------------------------------
# genre styles
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    """How a genre dances and sounds. Angles in radians, distances in metres."""

    legs: str  # "bounce" (both knees), "step" (weight shift each beat), "rock" (4-beat weight shift)
    bend: float  # knee-bend depth on down beats
    sway: float  # side shift of the pelvis
    arms: str  # "swing", "pump", "punch", "wave", "lock", "open"
    arm_amp: float
    elbow: float
    lean: float  # forward torso lean
    twist: float
    nod: float
    mode: str  # "minor" or "major"
    bass_wave: str  # "sine", "saw", "square"
    bass_slots: tuple[int, ...]  # eighth-note slots of a bar (0..7) where the bass plays
    backbeat: str  # "snare" or "clap"
    open_hat: bool  # open hi-hat on the off-beats
    stabs: bool  # short chord stabs on the off-beats instead of a pad
    kick_decay: float  # seconds


_STYLES: dict[str, _Style] = {
    "BR": _Style("step", 0.40, 0.10, "swing", 0.70, 0.90, 0.25, 0.15, 0.10,
                 "minor", "saw", (0, 3, 6), "snare", False, False, 0.22),
    "PO": _Style("bounce", 0.22, 0.03, "pump", 0.60, 1.20, 0.05, 0.10, 0.20,
                 "minor", "square", (0, 1, 2, 3, 4, 5, 6, 7), "clap", False, True, 0.16),
    "LO": _Style("rock", 0.30, 0.06, "lock", 0.90, 1.00, 0.10, 0.25, 0.10,
                 "major", "square", (0, 2, 4, 6), "clap", False, True, 0.18),
    "MH": _Style("bounce", 0.35, 0.05, "swing", 0.50, 0.70, 0.15, 0.10, 0.30,
                 "minor", "saw", (0, 3, 6), "snare", False, False, 0.25),
    "LH": _Style("step", 0.30, 0.08, "punch", 0.80, 1.30, 0.10, 0.20, 0.15,
                 "minor", "sine", (0, 3, 4, 6), "snare", False, False, 0.28),
    "HO": _Style("step", 0.20, 0.12, "open", 0.35, 0.50, 0.05, 0.10, 0.10,
                 "minor", "sine", (1, 3, 5, 7), "clap", True, True, 0.15),
    "WA": _Style("bounce", 0.15, 0.03, "wave", 1.90, 0.60, 0.00, 0.15, 0.05,
                 "major", "square", (0, 1, 2, 3, 4, 5, 6, 7), "clap", False, True, 0.16),
    "KR": _Style("bounce", 0.42, 0.05, "pump", 0.90, 1.50, 0.30, 0.20, 0.20,
                 "minor", "saw", (0, 2, 4, 6), "snare", False, False, 0.30),
    "JS": _Style("rock", 0.25, 0.07, "open", 0.80, 0.40, 0.05, 0.35, 0.05,
                 "major", "saw", (0, 3, 6), "snare", False, False, 0.20),
    "JB": _Style("rock", 0.15, 0.04, "open", 1.10, 0.30, -0.05, 0.15, 0.00,
                 "major", "sine", (0, 2, 4, 6), "snare", False, False, 0.18),
}  # fmt: skip


# --------------------------------------------------------------------------------------------------
# dance
# --------------------------------------------------------------------------------------------------

# Pose parameters interpolated between beat keyframes (angles in radians, x/z in metres).
_DOFS = (
    "x", "z", "yaw", "roll", "l_bend", "r_bend", "l_abd", "r_abd", "spine_pitch", "spine_yaw",
    "spine_roll", "nod", "l_raise", "r_raise", "l_swing", "r_swing", "l_elbow", "r_elbow",
)  # fmt: skip
_D = {name: i for i, name in enumerate(_DOFS)}
_ARM_DOWN = 1.25  # shoulder roll that brings the T-pose arms ~70° down to the sides
_LEG_LENGTH = 0.9  # hip to ankle of the SMPL male skeleton (m), for the sway compensation
_FLOOR_JOINTS = (7, 8, 10, 11)  # ankles and feet

_LEG_PATTERNS: dict[str, dict[str, list[float]]] = {
    # weight shift: x is the pelvis side shift (+ = the dancer's left), bends in units of the style's bend
    "bounce": {"x": [1, 0, -1, 0], "l_bend": [1, 0.35, 1, 0.35], "r_bend": [1, 0.35, 1, 0.35]},
    "step": {
        "x": [1, -1, 1, -1],
        "l_bend": [0.3, 1, 0.3, 1],
        "r_bend": [1, 0.3, 1, 0.3],
        "l_abd": [0, 0.12, 0, 0.12],
        "r_abd": [0.12, 0, 0.12, 0],
    },  # the free leg steps out (rad)
    "rock": {"x": [1, 0, -1, 0], "l_bend": [0.3, 0.8, 1, 0.8], "r_bend": [1, 0.8, 0.3, 0.8]},
}
_ARM_DOFS = ("l_swing", "r_swing", "l_raise", "r_raise", "l_elbow", "r_elbow")
_ARM_PATTERNS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    # one row per _ARM_DOFS entry: swing/raise in units of the style's arm amplitude, elbow of its elbow bend
    "swing": ((1, -1, 1, -1), (-1, 1, -1, 1), (0.1,) * 4, (0.1,) * 4, (1, 0.4, 1, 0.4), (0.4, 1, 0.4, 1)),
    "pump": ((0.3, 0.6) * 2, (0.3, 0.6) * 2, (1, 0) * 2, (1, 0) * 2, (0.3, 1) * 2, (0.3, 1) * 2),
    "punch": ((1.2, 0.2) * 2, (0.2, 1.2) * 2, (0.3, 0) * 2, (0, 0.3) * 2, (0.1, 1) * 2, (1, 0.1) * 2),
    "wave": (
        (0.2, -0.1) * 2,
        (-0.1, 0.2) * 2,
        (1, 0.4, 0.7, 0.2),
        (0.2, 0.7, 0.4, 1),
        (0.5, 1, 0.2, 0.8),
        (0.8, 0.2, 1, 0.5),
    ),
    "lock": ((1.2, 0.3, 0, 0.3),) * 2 + ((0.3, 0, 1, 0),) * 2 + ((0.1, 1.3) * 2,) * 2,
    "open": ((0.2, 0.4) * 2,) * 2 + ((1, 0.3, 0.7, 0.3),) * 2 + ((0.2, 0.5) * 2,) * 2,
}


@dataclass(frozen=True)
class _Dancer:
    """Per-sequence variation of a genre's style."""

    amplitude: float  # scales every movement
    arm_shift: int  # arm pattern starts this many beats into its cycle
    mirror: bool  # left and right swapped
    facing: float  # yaw (rad)
    center_x: float
    center_z: float
    floor: float  # floor height (m) under the lowest foot joint


def _cycle(style: _Style, dancer: _Dancer) -> np.ndarray:
    """The 4-beat keyframe cycle ``[4, D]`` of a dancer."""
    a = dancer.amplitude
    cycle = np.zeros((_BEATS_PER_BAR, len(_DOFS)))
    legs = _LEG_PATTERNS[style.legs]
    cycle[:, _D["x"]] = np.array(legs["x"]) * style.sway * a
    for side in ("l", "r"):
        cycle[:, _D[f"{side}_bend"]] = np.array(legs[f"{side}_bend"]) * style.bend * a
        cycle[:, _D[f"{side}_abd"]] = np.array(legs.get(f"{side}_abd", [0.0] * _BEATS_PER_BAR)) * a
    for dof, values in zip(_ARM_DOFS, _ARM_PATTERNS[style.arms], strict=True):
        scale = style.elbow if dof.endswith("elbow") else style.arm_amp
        cycle[:, _D[dof]] = np.roll(np.array(values, dtype=float), -dancer.arm_shift) * scale * a
    alternate = np.array([1.0, -1.0, 1.0, -1.0])
    cycle[:, _D["spine_pitch"]] = style.lean * (1.0 + 0.25 * alternate) * a
    cycle[:, _D["spine_yaw"]] = style.twist * alternate * a
    cycle[:, _D["spine_roll"]] = -0.4 * cycle[:, _D["x"]]  # lean the chest against the hip shift
    cycle[:, _D["nod"]] = style.nod * np.array([1.0, 0.0, 1.0, 0.0]) * a
    cycle[:, _D["yaw"]] = 0.2 * style.twist * alternate * a
    cycle[:, _D["roll"]] = 0.3 * cycle[:, _D["x"]]
    if dancer.mirror:
        for dof in ("bend", "abd", "raise", "swing", "elbow"):
            left, right = _D[f"l_{dof}"], _D[f"r_{dof}"]
            cycle[:, [left, right]] = cycle[:, [right, left]]
        for dof in ("x", "yaw", "roll", "spine_yaw", "spine_roll"):
            cycle[:, _D[dof]] *= -1.0
    return cycle


def _poses_from_dofs(q: np.ndarray, facing: float = 0.0) -> np.ndarray:
    """Pose parameters ``[..., D]`` → SMPL axis-angle poses ``[..., 24, 3]``; ``facing`` adds yaw."""
    euler = np.zeros((*q.shape[:-1], 24, 3))  # "XYZ": R = Rx @ Ry @ Rz; the pelvis uses "YXZ"

    def dof(name: str) -> np.ndarray:
        return q[..., _D[name]]

    euler[..., 0, :] = np.stack([dof("yaw") + facing, np.zeros_like(dof("yaw")), dof("roll")], -1)
    # Sway without sliding the feet: tilt both legs back under the shifted pelvis.
    tilt = -np.arcsin(np.clip(dof("x") / _LEG_LENGTH, -0.5, 0.5))
    for hip, knee, ankle, side, outward in ((1, 4, 7, "l", 1.0), (2, 5, 8, "r", -1.0)):
        bend = dof(f"{side}_bend")
        abduction = tilt + outward * dof(f"{side}_abd")
        # Hip flexes forward by `bend`, the knee by twice that, the ankle back: shin and foot stay level.
        euler[..., hip, 0], euler[..., hip, 2] = -bend, abduction
        euler[..., knee, 0] = 2.0 * bend
        euler[..., ankle, 0], euler[..., ankle, 2] = -bend, -abduction
    for spine in (3, 6, 9):
        euler[..., spine, :] = np.stack([dof("spine_pitch"), dof("spine_yaw"), dof("spine_roll")], -1) / 3.0
    euler[..., 15, 0] = dof("nod")
    for shoulder, elbow, side, sign in ((16, 18, "l", -1.0), (17, 19, "r", 1.0)):
        # T-pose arms point along ±x: rolling about z lowers them, about x swings them forward.
        euler[..., shoulder, 0] = -dof(f"{side}_swing")
        euler[..., shoulder, 2] = sign * (_ARM_DOWN - dof(f"{side}_raise"))
        euler[..., elbow, 1] = sign * dof(f"{side}_elbow")
    poses = euler_to_axis_angle(euler, "XYZ")
    poses[..., 0, :] = euler_to_axis_angle(euler[..., 0, :], "YXZ")  # yaw first: turn about the vertical
    return poses


def _ease(s: np.ndarray) -> np.ndarray:
    """0 → 1 on [0, 1] with speed ``1 − cos 2πs``: still (zero speed and acceleration) only at its ends."""
    return s - np.sin(2.0 * np.pi * s) / (2.0 * np.pi)


def _dance(
    style: _Style, dancer: _Dancer, bpm: float, offset: float, num_frames: int, rng: np.random.Generator
) -> Motion:
    """A 60 fps motion whose keyframes sit on the beats ``offset + k · 60 / bpm``."""
    period = 60.0 / bpm
    duration = num_frames / FPS
    first = math.floor(-offset / period) - 1  # one keyframe before the clip so frame 0 is in a segment
    last = math.ceil((duration - offset) / period) + 1
    beats = np.arange(first, last + 1)
    keys = _cycle(style, dancer)[beats % _BEATS_PER_BAR]
    # Jitter per beat keeps repetitions apart without moving the stops off the beats.
    unit = np.abs(keys).max(axis=0) + 0.02
    keys = keys + rng.normal(0.0, 0.08, keys.shape) * unit * dancer.amplitude
    keys[:, [_D["l_bend"], _D["r_bend"]]] = np.clip(keys[:, [_D["l_bend"], _D["r_bend"]]], 0.02, None)

    key_poses = _poses_from_dofs(keys)
    rest_joints = fk_axis_angle(key_poses, np.zeros((len(keys), 3)), SMPL24)
    lowest = rest_joints[:, _FLOOR_JOINTS, 1].min(axis=1)
    key_height = dancer.floor - lowest  # pelvis height that puts the lowest foot joint on the floor

    phase = (np.arange(num_frames) / FPS - offset) / period - first
    segment = np.floor(phase).astype(int)
    weight = _ease(phase - segment)[:, None]
    q = keys[segment] + (keys[segment + 1] - keys[segment]) * weight
    height = key_height[segment] + (key_height[segment + 1] - key_height[segment]) * weight[:, 0]

    poses = _poses_from_dofs(q, dancer.facing)
    cos_f, sin_f = math.cos(dancer.facing), math.sin(dancer.facing)
    side, front = q[:, _D["x"]], q[:, _D["z"]]
    trans = np.stack(
        [
            dancer.center_x + side * cos_f + front * sin_f,
            height,
            dancer.center_z - side * sin_f + front * cos_f,
        ],
        -1,
    )
    return Motion(poses, trans, FPS)


# --------------------------------------------------------------------------------------------------
# music
# --------------------------------------------------------------------------------------------------

_SCALES = {"minor": (0, 2, 3, 5, 7, 8, 10), "major": (0, 2, 4, 5, 7, 9, 11)}
_PROGRESSIONS = {"minor": (0, 5, 2, 6), "major": (0, 4, 5, 3)}  # i–VI–III–VII, I–V–vi–IV
# Mix levels before peak normalisation. The kick (with a broadband click) dominates the onsets so beat
# trackers lock to the beat rather than to the backbeat (half tempo) or the hi-hats (double tempo).
_LEVELS = {"kick": 1.0, "click": 0.5, "backbeat": 0.3, "hat": 0.05, "open_hat": 0.04, "bass": 0.3,
           "pad": 0.06, "stab": 0.03}  # fmt: skip


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


class _Track:
    """A mono buffer that sound events are mixed into at exact (sub-sample) onset times."""

    def __init__(self, num_samples: int, sr: int, rng: np.random.Generator) -> None:
        self.sr = sr
        self.rng = rng
        self.y = np.zeros(num_samples)

    def add(self, onset: float, span: float, render: Callable[..., np.ndarray], **kwargs) -> None:
        """Mix ``render(tau, noise, **kwargs)`` for ``tau = t − onset`` in ``[0, span)`` seconds."""
        start = max(0, math.ceil(onset * self.sr))
        stop = min(len(self.y), math.ceil((onset + span) * self.sr))
        if stop > start:
            tau = np.arange(start, stop) / self.sr - onset
            self.y[start:stop] += render(tau, self.rng.standard_normal(stop - start), **kwargs)


def _kick(tau: np.ndarray, noise: np.ndarray, top: float, bottom: float, decay: float) -> np.ndarray:
    glide = 0.03  # pitch glide time constant (s)
    phase = 2 * np.pi * (bottom * tau + (top - bottom) * glide * (1 - np.exp(-tau / glide)))
    body = np.sin(phase) * np.exp(-tau / decay) * np.minimum(1.0, tau / 0.001)
    return _LEVELS["kick"] * body + _LEVELS["click"] * noise * np.exp(-tau / 0.004)


def _snare(tau: np.ndarray, noise: np.ndarray) -> np.ndarray:
    body = 0.5 * np.sin(2 * np.pi * 190.0 * tau) * np.exp(-tau / 0.05)
    return _LEVELS["backbeat"] * (noise * np.exp(-tau / 0.08) + body)


def _clap(tau: np.ndarray, noise: np.ndarray) -> np.ndarray:
    bursts = sum((tau >= d) * np.exp(-np.clip(tau - d, 0, None) / 0.008) for d in (0.0, 0.011, 0.022))
    return _LEVELS["backbeat"] * noise * (0.6 * bursts + 0.4 * np.exp(-tau / 0.1))


def _hat(tau: np.ndarray, noise: np.ndarray, decay: float, level: float) -> np.ndarray:
    bright = np.diff(noise, n=2, prepend=0.0, append=0.0)[: len(tau)]  # second difference: a high-pass
    return level * bright * np.exp(-tau / decay)


def _oscillator(kind: str, freq: float, tau: np.ndarray) -> np.ndarray:
    phase = 2.0 * np.pi * freq * tau
    if kind == "sine":
        return np.sin(phase)
    # Band-limited saw (all harmonics) or square (odd harmonics) from a few partials.
    harmonics = range(1, 9) if kind == "saw" else range(1, 9, 2)
    return sum(np.sin(h * phase) / h for h in harmonics) * (0.6 if kind == "saw" else 0.8)


def _note(
    tau: np.ndarray,
    noise: np.ndarray,
    kind: str,
    freq: float,
    length: float,
    attack: float,
    decay: float,
    level: float,
) -> np.ndarray:
    """A pitched note: ``kind`` oscillator, linear attack, exponential decay, 20 ms release at ``length``."""
    envelope = np.minimum(1.0, tau / attack) * np.clip((length - tau) / 0.02, 0.0, 1.0) * np.exp(-tau / decay)
    return level * _oscillator(kind, freq, tau) * envelope


def _music(
    style: _Style, bpm: float, offset: float, num_samples: int, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Drums, bass and chords ``[num_samples]``, peak 0.8, with beat ``k`` at ``offset + k·60/bpm``."""
    track = _Track(num_samples, sr, rng)
    duration = num_samples / sr
    key = int(rng.integers(0, 12))
    kick = {"top": rng.uniform(120.0, 170.0), "bottom": rng.uniform(45.0, 60.0), "decay": style.kick_decay}

    for k, t in enumerate(beat_times(bpm, duration, offset)):
        track.add(t, 6 * style.kick_decay, _kick, **kick)
        if k % 2 == 1:  # beats 2 and 4 of the bar
            track.add(t, 0.5, _snare if style.backbeat == "snare" else _clap)
    for j, t in enumerate(beat_times(2 * bpm, duration, offset)):
        if j % 2 == 1 and style.open_hat:
            track.add(t, 0.4, _hat, decay=0.12, level=_LEVELS["open_hat"])
        else:
            track.add(t, 0.2, _hat, decay=0.03, level=_LEVELS["hat"])

    scale, progression = _SCALES[style.mode], _PROGRESSIONS[style.mode]
    eighth = 30.0 / bpm
    bar_length = 8 * eighth
    for bar, bar_start in enumerate(beat_times(bpm / _BEATS_PER_BAR, duration, offset)):
        degree = progression[bar % len(progression)]
        chord = [key + 12 * ((degree + 2 * i) // 7) + scale[(degree + 2 * i) % 7] for i in range(3)]
        slots = style.bass_slots
        for n, slot in enumerate(slots):
            length = ((slots[n + 1] if n + 1 < len(slots) else 8) - slot) * eighth * 0.9
            off_beat = slot % 2 == 1
            octave = 12 if len(slots) == 8 and off_beat else 0  # running eighths alternate octaves
            freq = _hz(33 + chord[0] + octave)  # bass register: A1 = 55 Hz for key A
            level = _LEVELS["bass"] * (0.6 if off_beat else 1.0)  # accents on the beat, not between
            note = {"kind": style.bass_wave, "freq": freq, "length": length, "attack": 0.005, "decay": 0.6}
            track.add(bar_start + slot * eighth, length, _note, level=level, **note)
        for note in chord:
            freq = _hz(57 + note)
            if style.stabs:
                for slot in (1, 3, 5, 7):
                    stab = {"kind": "saw", "freq": freq, "length": 0.3, "attack": 0.003, "decay": 0.08}
                    track.add(bar_start + slot * eighth, 0.3, _note, level=_LEVELS["stab"], **stab)
            else:
                pad = {"kind": "sine", "freq": freq, "length": bar_length, "attack": 0.08, "decay": 4.0}
                track.add(bar_start, bar_length, _note, level=_LEVELS["pad"], **pad)

    peak = np.abs(track.y).max()
    return track.y * (0.8 / peak) if peak > 0 else track.y


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


def _write_sequence(
    root: Path, plan: _SequencePlan, rng: np.random.Generator, num_frames: int, num_samples: int, sr: int
) -> dict:
    style = _STYLES[plan.genre]
    bpm = music_tempo(plan.music)
    assert bpm is not None  # _plan_sequences only makes AIST++ music ids
    offset = round(float(rng.uniform(0.0, min(0.25, 30.0 / bpm))), 4)
    dancer = _Dancer(
        amplitude=round(float(rng.uniform(0.8, 1.2)), 3),
        arm_shift=int(rng.integers(0, _BEATS_PER_BAR)),
        mirror=bool(rng.integers(0, 2)),
        facing=round(float(rng.uniform(-0.35, 0.35)), 3),
        center_x=round(float(rng.uniform(-0.3, 0.3)), 3),
        center_z=round(float(rng.uniform(-0.3, 0.3)), 3),
        floor=round(float(rng.uniform(0.0, 0.03)), 3),
    )
    scaling = round(float(rng.uniform(80.0, 100.0)), 3)
    motion = _dance(style, dancer, bpm, offset, num_frames, rng)
    motion.to_aistpp_pkl(root / "motions" / f"{plan.name}.pkl", scaling=scaling)

    audio = _music(style, bpm, offset, num_samples, sr, rng)
    (root / "wavs").mkdir(exist_ok=True)
    sf.write(root / "wavs" / f"{plan.name}.wav", audio, sr, subtype="PCM_16", format="WAV")
    duration = num_frames / FPS
    return {
        "split": plan.split,
        "genre": plan.genre,
        "music": plan.music,
        "bpm": bpm,
        "beat_offset": offset,
        "beat_times": beat_times(bpm, duration, offset).tolist(),
        "frames": num_frames,
        "samples": num_samples,
        "smpl_scaling": scaling,
        "dancer": asdict(dancer),
        "style": {"legs": style.legs, "arms": style.arms, "backbeat": style.backbeat, "mode": style.mode},
    }


def _write_lines(path: Path, names: Sequence[str]) -> None:
    path.write_text("".join(f"{name}\n" for name in names), encoding="utf-8")


def _write_index(
    root: Path,
    plans: list[_SequencePlan],
    infos: dict[str, dict],
    *,
    sequences: int,
    seconds: float,
    seed: int,
    sr: int,
) -> None:
    (root / "splits").mkdir()
    for split in _SPLITS:
        _write_lines(root / "splits" / f"crossmodal_{split}.txt", [p.name for p in plans if p.split == split])
    train = [p.name for p in plans if p.split == "train"]
    # One train sequence on the ignore list (as AIST++ lists poorly reconstructed ones) exercises that path.
    ignored = [train[1 % len(train)]] if sequences >= 6 else []
    _write_lines(root / "ignore_list.txt", ignored)
    for name in ignored:
        infos[name]["ignored"] = True

    meta = {
        "synthetic": True,
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "sequences": sequences,
        "seconds": seconds,
        "fps": FPS,
        "sr": sr,
        "ignore_list": ignored,
        "sequence_info": infos,
    }
    (root / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    counts = ", ".join(f"{split} {sum(p.split == split for p in plans)}" for split in _SPLITS)
    readme = (
        "# Synthetic AIST++-layout dataset\n\n"
        f"Made by `{GENERATOR}` version {GENERATOR_VERSION} with seed {seed}: {sequences} sequences of "
        f"{_duration_text(seconds)} ({counts}). **Not real data**: synthesized drum-machine music and "
        "beat-locked keyframe dances, for tests and demos only.\n\n"
        "- `motions/<seq>.pkl`: 60 fps SMPL (`smpl_poses` [N, 72], `smpl_trans` [N, 3] × `smpl_scaling`).\n"
        f"- `wavs/<seq>.wav`: mono 16-bit PCM at {sr} Hz, as long as the motion.\n"
        "- `splits/crossmodal_{train,val,test}.txt`, `ignore_list.txt`: as in AIST++.\n"
        "- `meta.json`: tempo, first-beat offset and beat times of each sequence "
        "(beat k at offset + k·60/BPM).\n"
    )
    (root / "README.md").write_text(readme, encoding="utf-8")


def _duration_text(seconds: float) -> str:
    frames = round(seconds * FPS)
    return f"{frames / FPS:g} s ({frames} frames at {FPS} fps)"
