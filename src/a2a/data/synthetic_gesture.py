"""A synthetic gesture dataset in the ZEGGS layout: speech-like audio and styled beat gestures.

``synthesize_gestures(out)`` writes::

    out/train/NNN_<Style>_<take>_x_1_0.{bvh,wav}    60 fps BVH on the 75-joint ZEGGS rig (cm) + 16 kHz WAV
    out/valid/...                                    the last take of each style that has two or more
    out/meta.json, out/README.md                     generator, seed, and every syllable and stroke

so the ZEGGS reader, the gesture datamodule, DSG training and the gesture metrics run without ZEGGS.
Styles cycle over DSG's six (Happy, Sad, Neutral, Old, Angry, Relaxed); takes of a style are numbered.

**Speech.** Utterances of syllables separated by pauses. A syllable is an optional noise burst (the
consonant) and a voiced nucleus: a harmonic source on a pitch contour (declination over the utterance,
an accent on stressed syllables) through two formant resonators of a random vowel, with a ``sin²``
energy envelope whose peak — the syllable's energy peak, recorded in ``meta.json`` — is the nucleus
centre. Stressed syllables are louder and higher.

**Gestures.** Every stressed syllable carries a beat gesture of one or both hands: a slow preparation
lifts the hand from its hold position, and the stroke drops it back with a logistic step centred on the
syllable's energy peak, so hand speed peaks there (the stroke is 3× faster than the preparation). The
hold position rises into gesture space while the character speaks and relaxes in pauses; the spine
breathes, the head nods on strokes and drifts slowly, the hips sway.

**Style** changes the speech (syllable rate, pauses, pitch, loudness) and the motion: stroke size
(amplitude), stroke sharpness and stress rate (tempo) and posture (lean, head pitch, hold height):
Happy large, fast, arms raised; Sad small, slow, slumped; Neutral medium; Old slow and stooped; Angry
sharp and large; Relaxed small and smooth. Every file is a function of ``(seed, sequence index)``: the
same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter
from tqdm.auto import tqdm

from a2a.data.synthetic import check_target, move_into_place
from a2a.data.zeggs import DSG_STYLES, format_zeggs_name
from a2a.errors import DatasetError
from a2a.motion.bvh import write_rig_bvh
from a2a.motion.motion import Motion
from a2a.motion.rigs import ZEGGS75
from a2a.motion.rotations import euler_to_axis_angle
from a2a.threads import single_threaded_torch

GENERATOR = "a2a.data.synthetic_gesture"
GENERATOR_VERSION = 1
FPS = 60
SR = 16000
MAX_SEQUENCES = 600
_OWNED_ENTRIES = ("train", "valid", "meta.json", "README.md")
_STANDING_HEIGHT = 0.94  # hips above the floor (m) that puts the stand-in rig's toes on it
_HARMONICS_UP_TO = 4000.0  # Hz
# The preparation's time constant is this many times the stroke's, so hand speed peaks at the stroke.
_PREP_SLOWER = 3.0
# The hold pose rises into gesture space over this many seconds before an utterance.
_ACTIVITY_LEAD = 0.6
_VOWELS = ((730.0, 1090.0), (270.0, 2290.0), (530.0, 1840.0), (300.0, 870.0), (570.0, 840.0))  # F1, F2


@dataclass(frozen=True)
class GestureStyle:
    """How a style speaks and moves. Times in seconds, angles in radians.

    Attributes:
        syllable_rate: syllables per second.
        stress: probability that a syllable is stressed (and carries a stroke).
        pause: range of pause lengths between utterances.
        f0: mean pitch (Hz); ``accent`` the pitch rise of a stressed syllable (semitones).
        loudness: peak level of the waveform.
        amplitude: size of a stroke (hand lift).
        sharpness: time constant of the stroke step (smaller = sharper).
        lean: forward lean of the spine; ``head`` the head pitch (+ = down).
        raise_arms: how far the gesture hold lifts the upper arms; ``elbow`` its elbow flexion.
        fingers: finger curl; ``both_hands`` probability that a stroke uses both hands.
        knees: knee bend.
    """

    syllable_rate: float
    stress: float
    pause: tuple[float, float]
    f0: float
    accent: float
    loudness: float
    amplitude: float
    sharpness: float
    lean: float
    head: float
    raise_arms: float
    elbow: float
    fingers: float
    both_hands: float
    knees: float


STYLES: dict[str, GestureStyle] = {
    "Happy": GestureStyle(
        syllable_rate=5.2, stress=0.45, pause=(0.25, 0.6), f0=235.0, accent=5.0,
        loudness=0.85, amplitude=0.75, sharpness=0.05, lean=-0.06, head=-0.12,
        raise_arms=0.55, elbow=1.55, fingers=0.2, both_hands=0.45, knees=0.0,
    ),
    "Sad": GestureStyle(
        syllable_rate=3.0, stress=0.30, pause=(0.6, 1.2), f0=175.0, accent=1.5,
        loudness=0.35, amplitude=0.22, sharpness=0.13, lean=0.32, head=0.38,
        raise_arms=0.05, elbow=0.55, fingers=0.35, both_hands=0.1, knees=0.03,
    ),
    "Neutral": GestureStyle(
        syllable_rate=4.2, stress=0.38, pause=(0.35, 0.8), f0=200.0, accent=3.0,
        loudness=0.6, amplitude=0.45, sharpness=0.08, lean=0.04, head=0.02,
        raise_arms=0.25, elbow=1.15, fingers=0.3, both_hands=0.25, knees=0.0,
    ),
    "Old": GestureStyle(
        syllable_rate=2.9, stress=0.32, pause=(0.6, 1.1), f0=180.0, accent=2.0,
        loudness=0.5, amplitude=0.3, sharpness=0.12, lean=0.45, head=0.18,
        raise_arms=0.1, elbow=0.8, fingers=0.5, both_hands=0.15, knees=0.15,
    ),
    "Angry": GestureStyle(
        syllable_rate=5.0, stress=0.50, pause=(0.3, 0.6), f0=225.0, accent=4.0,
        loudness=0.95, amplitude=0.8, sharpness=0.03, lean=0.12, head=0.05,
        raise_arms=0.35, elbow=1.45, fingers=0.9, both_hands=0.55, knees=0.02,
    ),
    "Relaxed": GestureStyle(
        syllable_rate=3.6, stress=0.30, pause=(0.5, 1.0), f0=190.0, accent=2.0,
        loudness=0.5, amplitude=0.25, sharpness=0.12, lean=-0.02, head=0.0,
        raise_arms=0.08, elbow=0.85, fingers=0.15, both_hands=0.15, knees=0.0,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Syllable:
    """One planned syllable (seconds); ``level`` scales its energy, ``vowel`` indexes the formant table."""

    start: float
    peak: float  # energy peak: the nucleus centre
    end: float
    stressed: bool
    vowel: int
    consonant: bool
    level: float


@dataclass(frozen=True)
class Stroke:
    """One beat gesture; ``size`` is the hand lift in radians of joint rotation."""

    time: float  # hand speed peak = the stressed syllable's energy peak
    hands: str  # "left", "right" or "both"
    size: float


# --------------------------------------------------------------------------------------------------
# public entry
# --------------------------------------------------------------------------------------------------


def synthesize_gestures(
    out: str | os.PathLike,
    sequences: int = 24,
    seconds: float = 10.0,
    seed: int = 0,
    *,
    progress: bool = True,
) -> Path:
    """Write a synthetic ZEGGS-layout gesture dataset to ``out`` and return its path.

    Args:
        out: target folder; created with its parents. It must be absent, empty, or a dataset this
            function wrote before (then its entries are replaced; other files in it are kept).
        sequences: number of takes (1..600); styles cycle in DSG's order.
        seconds: length of every take (≥ 2 s); motions have ``round(seconds · 60)`` frames.
        seed: any integer ≥ 0; the same arguments give byte-identical files.
        progress: show a progress bar.
    """
    sequences, seconds, seed = _checked_args(sequences, seconds, seed)
    out = Path(out).resolve()
    replacing = check_target(out, GENERATOR)
    plans = _plan(sequences)
    num_frames = round(seconds * FPS)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        for folder in ("train", "valid"):
            (staging / folder).mkdir()
        infos = {}
        with single_threaded_torch():
            for plan in tqdm(plans, desc="synthetic gestures", unit="take", disable=not progress):
                rng = np.random.default_rng([seed, plan.index])
                infos[plan.name] = _write_take(staging / plan.folder, plan, rng, num_frames)
        _write_index(staging, infos, sequences=sequences, seconds=seconds, seed=seed)
        move_into_place(staging, out, replacing, _OWNED_ENTRIES)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def _checked_args(sequences, seconds, seed) -> tuple[int, float, int]:
    def is_int(x) -> bool:
        return isinstance(x, int | np.integer) and not isinstance(x, bool)

    if not is_int(sequences) or not 1 <= sequences <= MAX_SEQUENCES:
        raise DatasetError(f"sequences must be an integer in 1..{MAX_SEQUENCES}, got {sequences!r}")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | np.integer | np.floating):
        raise DatasetError(f"seconds must be a number ≥ 2, got {seconds!r}")
    if not (math.isfinite(seconds) and seconds >= 2.0):
        raise DatasetError(f"seconds must be a finite number ≥ 2, got {seconds!r}")
    if not is_int(seed) or seed < 0:
        raise DatasetError(f"seed must be an integer ≥ 0, got {seed!r}")
    return int(sequences), float(seconds), int(seed)


@dataclass(frozen=True)
class _Plan:
    index: int
    name: str
    style: str
    take: int
    folder: str  # "train" or "valid"


def _plan(n: int) -> list[_Plan]:
    """Names, styles, takes and folders (deterministic, independent of the seed): the last take of a
    style with at least two takes is held out in ``valid/``."""
    styles = [DSG_STYLES[i % len(DSG_STYLES)] for i in range(n)]
    takes_of = {s: styles.count(s) for s in DSG_STYLES}
    plans, seen = [], dict.fromkeys(DSG_STYLES, 0)
    for i, style in enumerate(styles):
        take = seen[style]
        seen[style] += 1
        folder = "valid" if takes_of[style] >= 2 and take == takes_of[style] - 1 else "train"
        plans.append(_Plan(i, format_zeggs_name(i + 1, style, take), style, take, folder))
    return plans


# --------------------------------------------------------------------------------------------------
# speech plan and audio
# --------------------------------------------------------------------------------------------------


def _speech_plan(style: GestureStyle, seconds: float, rng: np.random.Generator) -> list[Syllable]:
    """Utterances of syllables separated by pauses, inside ``[0.2, seconds − 0.3]`` s; a stressed
    syllable follows the previous one, and the start of its utterance (when the hands rise into gesture
    space), by at least the time its gesture needs (preparation + stroke)."""
    stroke_room = _prep_lead(style) + 3.0 * style.sharpness
    syllables: list[Syllable] = []
    t = float(rng.uniform(0.2, 0.5))
    last_stress = -np.inf
    while t < seconds - 0.6:
        utterance_end = min(t + float(rng.uniform(1.2, 3.5)), seconds - 0.3)
        last_stress = max(last_stress, t - _ACTIVITY_LEAD)
        while t < utterance_end - 0.1:
            duration = float(rng.uniform(0.75, 1.25)) / style.syllable_rate
            end = min(t + duration, utterance_end)
            consonant = bool(rng.random() < 0.5)
            nucleus_start = t + (0.25 * (end - t) if consonant else 0.0)
            peak = 0.5 * (nucleus_start + end)
            stressed = bool(rng.random() < style.stress) and peak - last_stress >= stroke_room
            if stressed:
                last_stress = peak
            level = (1.0 if stressed else 0.45) * float(rng.uniform(0.85, 1.1))
            syllables.append(
                Syllable(t, peak, end, stressed, int(rng.integers(len(_VOWELS))), consonant, level)
            )
            t = end
        t = utterance_end + float(rng.uniform(*style.pause))
    return syllables


def _resonator(x: np.ndarray, freq: float, bandwidth: float) -> np.ndarray:
    """Two-pole resonance at ``freq`` Hz (unit gain at the peak, roughly)."""
    r = math.exp(-math.pi * bandwidth / SR)
    theta = 2.0 * math.pi * freq / SR
    return lfilter([1.0 - r], [1.0, -2.0 * r * math.cos(theta), r * r], x)


def _speech(
    syllables: list[Syllable], style: GestureStyle, num_samples: int, rng: np.random.Generator
) -> np.ndarray:
    """The waveform ``[num_samples]`` (peak ``style.loudness``) of the planned syllables."""
    t = np.arange(num_samples) / SR
    semitones = np.zeros(num_samples)
    for s in syllables:  # declination inside each syllable run plus an accent on stressed nuclei
        if s.stressed:
            semitones += style.accent * np.exp(-0.5 * ((t - s.peak) / (0.4 * (s.end - s.start))) ** 2)
    f0 = style.f0 * 2.0 ** ((semitones - 2.0 * np.sin(0.35 * t)) / 12.0)
    phase = 2.0 * np.pi * np.cumsum(f0) / SR
    source = np.zeros(num_samples)
    for k in range(1, int(_HARMONICS_UP_TO // (0.8 * style.f0)) + 1):
        source += np.where(k * f0 < _HARMONICS_UP_TO, np.sin(k * phase) / k, 0.0)
    y = 1e-3 * rng.standard_normal(num_samples)  # room noise: never digital silence
    for s in syllables:
        a, b = int(s.start * SR), min(num_samples, math.ceil(s.end * SR))
        nucleus = (s.start + 0.25 * (s.end - s.start)) if s.consonant else s.start
        u = np.clip((t[a:b] - nucleus) / (s.end - nucleus), 0.0, 1.0)
        envelope = s.level * np.sin(np.pi * u) ** 2
        f1, f2 = _VOWELS[s.vowel]
        voiced = source[a:b] * envelope
        y[a:b] += _resonator(voiced, f1, 90.0) + 0.7 * _resonator(voiced, f2, 120.0)
        if s.consonant:
            burst = np.diff(rng.standard_normal(b - a + 1)) * np.exp(-(t[a:b] - s.start) / 0.02)
            y[a:b] += 0.08 * s.level * burst * (t[a:b] < nucleus)
    return y * (style.loudness / np.abs(y).max())


# --------------------------------------------------------------------------------------------------
# gestures
# --------------------------------------------------------------------------------------------------


def _prep_lead(style: GestureStyle) -> float:
    """Seconds from the preparation's midpoint to the stroke's."""
    return (2.0 + 2.0 * _PREP_SLOWER) * style.sharpness + 0.12


def _step(x: np.ndarray) -> np.ndarray:
    """Logistic step 0 → 1 (speed peaks at x = 0)."""
    return 0.5 * (1.0 + np.tanh(x))


def _strokes(
    syllables: list[Syllable], style: GestureStyle, right_handed: bool, rng: np.random.Generator
) -> list[Stroke]:
    """A stroke on every stressed syllable: both hands, or one (mostly the dominant one)."""
    out = []
    for s in syllables:
        if not s.stressed:
            continue
        if rng.random() < style.both_hands:
            hands = "both"
        else:
            hands = "right" if (rng.random() < 0.7) == right_handed else "left"
        out.append(Stroke(s.peak, hands, style.amplitude * float(rng.uniform(0.8, 1.2))))
    return out


def _lift(strokes: list[Stroke], style: GestureStyle, t: np.ndarray, side: str) -> np.ndarray:
    """Hand lift ``[N]`` of one side: per stroke a slow preparation up, then the stroke down."""
    lift = np.zeros_like(t)
    prep_tau = _PREP_SLOWER * style.sharpness
    for k in strokes:
        if k.hands in (side, "both"):
            lift += k.size * (
                _step((t - k.time + _prep_lead(style)) / prep_tau) - _step((t - k.time) / style.sharpness)
            )
    return lift


def _drift(t: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Slow smooth wandering ``[N]``: three sinusoids of random phase below 0.5 Hz."""
    freqs = rng.uniform(0.07, 0.45, 3)
    phases = rng.uniform(0.0, 2.0 * np.pi, 3)
    return amplitude * np.sin(2.0 * np.pi * freqs[:, None] * t + phases[:, None]).sum(0) / 3.0


def _speaking(syllables: list[Syllable], t: np.ndarray) -> np.ndarray:
    """Gesture activity ``[N]``: 1 while an utterance runs, 0 in pauses, with smooth edges that start
    :data:`_ACTIVITY_LEAD` s before the first syllable and end as long after the last."""
    runs: list[list[float]] = []
    for s in syllables:
        if runs and s.start - runs[-1][1] < 0.05:
            runs[-1][1] = s.end
        else:
            runs.append([s.start, s.end])
    active = np.zeros_like(t)
    for start, end in runs:
        edge = _ACTIVITY_LEAD / 2.0
        active += _step((t - start + edge) / (edge / 2.5)) - _step((t - end - edge) / (edge / 2.5))
    return np.clip(active, 0.0, 1.0)


def _gesture_motion(
    syllables: list[Syllable],
    strokes: list[Stroke],
    style: GestureStyle,
    num_frames: int,
    rng: np.random.Generator,
) -> Motion:
    """The 60 fps motion on the stand-in ZEGGS rig."""
    names = {n: j for j, n in enumerate(ZEGGS75.names)}
    t = np.arange(num_frames) / FPS
    active = _speaking(syllables, t)
    euler = np.zeros((num_frames, ZEGGS75.num_joints, 3))  # "XYZ": R = Rx·Ry·Rz

    breathing = 0.02 * np.sin(2.0 * np.pi * 0.23 * t + rng.uniform(0, 2 * np.pi))
    both = _lift(strokes, style, t, "right") + _lift(strokes, style, t, "left")
    for joint in ("Spine", "Spine1", "Spine2", "Spine3"):
        euler[:, names[joint], 0] = (style.lean + breathing) / 4.0
        euler[:, names[joint], 1] = _drift(t, rng, 0.06) / 4.0
    nod = -0.12 * np.gradient(both, t) * style.sharpness  # a down-nod while the hands strike
    euler[:, names["Neck"], 0] = 0.4 * style.head
    euler[:, names["Head"], 0] = 0.6 * style.head + nod + _drift(t, rng, 0.05)
    euler[:, names["Head"], 1] = _drift(t, rng, 0.25)

    for side, sign in (("Left", 1.0), ("Right", -1.0)):
        lift = _lift(strokes, style, t, side.lower())
        down = 1.45 - active * style.raise_arms - 0.35 * lift  # arms hang at 1.45 rad below the T-pose
        forward = 0.1 + active * 0.3 + 0.6 * lift + _drift(t, rng, 0.08)
        elbow = 0.35 + active * (style.elbow - 0.35) + 1.0 * lift
        euler[:, names[f"{side}Shoulder"], 2] = sign * 0.08 * lift
        euler[:, names[f"{side}Arm"], 0] = -forward
        euler[:, names[f"{side}Arm"], 2] = -sign * down
        euler[:, names[f"{side}ForeArm"], 1] = -sign * elbow
        euler[:, names[f"{side}Hand"], 2] = -sign * 0.25 * lift
        for finger in ("Index", "Middle", "Ring", "Pinky"):
            for k in (1, 2, 3):
                euler[:, names[f"{side}Hand{finger}{k}"], 2] = -sign * (style.fingers + 0.1 * active)
        euler[:, names[f"{side}HandThumb2"], 1] = -sign * 0.5 * style.fingers
        euler[:, names[f"{side}UpLeg"], 0] = -style.knees
        euler[:, names[f"{side}Leg"], 0] = 2.0 * style.knees
        euler[:, names[f"{side}Foot"], 0] = -style.knees

    facing = float(rng.uniform(-0.3, 0.3))
    sway = _drift(t, rng, 0.05)
    root = np.stack([facing + sway, np.zeros_like(t), np.zeros_like(t)], axis=-1)  # yaw first ("YXZ")
    poses = euler_to_axis_angle(euler, "XYZ")
    poses[:, 0] = euler_to_axis_angle(root, "YXZ")
    height = _STANDING_HEIGHT - 0.84 * (1.0 - math.cos(style.knees))  # bent knees lower the hips
    trans = np.stack([0.01 * _drift(t, rng, 1.0), np.full_like(t, height), np.zeros_like(t)], axis=-1)
    return Motion(poses, trans, FPS, ZEGGS75)


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------


def _write_take(folder: Path, plan: _Plan, rng: np.random.Generator, num_frames: int) -> dict:
    style = STYLES[plan.style]
    seconds = num_frames / FPS
    syllables = _speech_plan(style, seconds, rng)
    strokes = _strokes(syllables, style, right_handed=bool(rng.random() < 0.8), rng=rng)
    audio = _speech(syllables, style, round(seconds * SR), rng)
    motion = _gesture_motion(syllables, strokes, style, num_frames, rng)
    write_rig_bvh(motion, folder / f"{plan.name}.bvh")
    sf.write(folder / f"{plan.name}.wav", audio, SR, subtype="PCM_16", format="WAV")
    return {
        "split": "val" if plan.folder == "valid" else "train",
        "style": plan.style,
        "take": plan.take,
        "frames": num_frames,
        "samples": len(audio),
        "syllables": [
            {
                "start": round(s.start, 5),
                "peak": round(s.peak, 5),
                "end": round(s.end, 5),
                "stressed": s.stressed,
            }
            for s in syllables
        ],
        "strokes": [{"time": round(k.time, 5), "hands": k.hands, "size": round(k.size, 4)} for k in strokes],
    }


def _write_index(root: Path, infos: dict[str, dict], *, sequences: int, seconds: float, seed: int) -> None:
    meta = {
        "synthetic": True,
        "generator": GENERATOR,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "sequences": sequences,
        "seconds": seconds,
        "fps": FPS,
        "sr": SR,
        "styles": list(DSG_STYLES),
        "sequence_info": infos,
    }
    (root / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    counts = {
        f: sum(i["split"] == s for i in infos.values()) for f, s in (("train", "train"), ("valid", "val"))
    }
    readme = (
        "# Synthetic ZEGGS-layout gesture dataset\n\n"
        f"Made by `{GENERATOR}` version {GENERATOR_VERSION} with seed {seed}: {sequences} takes of "
        f"{_duration_text(seconds)} (train {counts['train']}, valid {counts['valid']}). **Not real data**: "
        "synthesized speech-like audio and styled beat gestures, for tests and demos only.\n\n"
        "- `{train,valid}/NNN_<Style>_<take>_x_1_0.bvh`: 60 fps, the 75-joint ZEGGS rig "
        "(stand-in offsets), cm.\n"
        f"- `{{train,valid}}/NNN_<Style>_<take>_x_1_0.wav`: mono 16-bit PCM at {SR} Hz, as long as the "
        "motion.\n"
        "- `meta.json`: every syllable (start, energy peak, end, stressed) and stroke (time, hands, size).\n"
    )
    (root / "README.md").write_text(readme, encoding="utf-8")


def _duration_text(seconds: float) -> str:
    frames = round(seconds * FPS)
    return f"{frames / FPS:g} s ({frames} frames at {FPS} fps)"
