"""The synthetic gesture dataset: ZEGGS layout, determinism, speech-like audio whose energy peaks are the
recorded syllable peaks, strokes on those peaks, and styles that move amplitude, tempo and posture."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from a2a.cli import main
from a2a.data.synthetic_gesture import GENERATOR, synthesize_gestures
from a2a.data.zeggs import DSG_STYLES, ZeggsFolder
from a2a.errors import DatasetError
from a2a.motion.rigs import ZEGGS75
from a2a.motion.rotations import axis_angle_to_matrix

HANDS = [ZEGGS75.index("LeftHand"), ZEGGS75.index("RightHand")]


def _meta(root: Path) -> dict:
    return json.loads((root / "meta.json").read_text())


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def takes(gesture_root):
    source = ZeggsFolder(gesture_root)  # 20 fps, as DSG trains
    return source.sequences("train") + source.sequences("val")


def test_layout_names_and_meta(gesture_root):
    train = sorted(p.name for p in (gesture_root / "train").iterdir())
    valid = sorted(p.name for p in (gesture_root / "valid").iterdir())
    assert train[:2] == ["001_Happy_0_x_1_0.bvh", "001_Happy_0_x_1_0.wav"]
    # The last take of each style is held out: 6 valid takes, 6 train.
    held_out = [f"{i:03d}_{s}_1_x_1_0" for i, s in zip(range(7, 13), DSG_STYLES, strict=True)]
    assert valid == sorted(f"{name}.{ext}" for name in held_out for ext in ("bvh", "wav"))
    assert len(train) == 12
    meta = _meta(gesture_root)
    assert meta["generator"] == GENERATOR and meta["fps"] == 60 and meta["sr"] == 16000
    info = meta["sequence_info"]["003_Neutral_0_x_1_0"]
    assert info["style"] == "Neutral" and info["split"] == "train" and info["frames"] == 360
    assert info["samples"] == 96000 and all(s["start"] < s["peak"] < s["end"] for s in info["syllables"])
    wave, sr = sf.read(gesture_root / "train" / "003_Neutral_0_x_1_0.wav")
    assert (
        sr == 16000
        and wave.shape == (96000,)
        and sf.info(gesture_root / "train" / "003_Neutral_0_x_1_0.wav").subtype == "PCM_16"
    )


def test_same_arguments_give_identical_files_and_another_seed_does_not(tmp_path):
    a = synthesize_gestures(tmp_path / "a", sequences=3, seconds=2.0, seed=5, progress=False)
    b = synthesize_gestures(tmp_path / "b", sequences=3, seconds=2.0, seed=5, progress=False)
    c = synthesize_gestures(tmp_path / "c", sequences=3, seconds=2.0, seed=6, progress=False)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)
    assert not (a / "valid").exists() or not any((a / "valid").iterdir())  # one take per style: all train


def test_replaces_its_own_dataset_and_refuses_foreign_folders(tmp_path):
    root = synthesize_gestures(tmp_path / "g", sequences=2, seconds=2.0, seed=0, progress=False)
    (root / "notes.txt").write_text("mine")
    synthesize_gestures(root, sequences=1, seconds=2.0, seed=1, progress=False)
    assert _meta(root)["sequences"] == 1 and (root / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (root / "train").iterdir()) == [
        "001_Happy_0_x_1_0.bvh",
        "001_Happy_0_x_1_0.wav",
    ]
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "x.txt").write_text("x")
    with pytest.raises(DatasetError, match="not a synthetic dataset .*a2a.data.synthetic_gesture"):
        synthesize_gestures(foreign, sequences=1, seconds=2.0, progress=False)
    with pytest.raises(DatasetError, match="seconds must be a finite number ≥ 2"):
        synthesize_gestures(tmp_path / "short", sequences=1, seconds=1.0, progress=False)
    with pytest.raises(DatasetError, match=r"sequences must be an integer in 1\.\.600"):
        synthesize_gestures(tmp_path / "none", sequences=0, progress=False)


def test_audio_energy_peaks_at_the_recorded_syllable_peaks(gesture_root):
    worst = 0.0
    for name, info in _meta(gesture_root)["sequence_info"].items():
        folder = "valid" if info["split"] == "val" else "train"
        wave, sr = sf.read(gesture_root / folder / f"{name}.wav")
        hop = sr // 100
        energy = np.sqrt(uniform_filter1d(wave**2, 2 * hop))[::hop]  # 100 Hz RMS envelope
        for s in info["syllables"]:
            if s["stressed"]:
                a, b = int(s["start"] * 100), int(s["end"] * 100)
                worst = max(worst, abs((a + np.argmax(energy[a:b])) / 100 - s["peak"]))
    assert worst <= 0.03  # seconds


def test_hand_speed_peaks_on_the_stressed_syllables(gesture_root, takes):
    info = _meta(gesture_root)["sequence_info"]
    strokes = near = 0
    for take in takes:
        hands = take.motion.joints()[:, HANDS]
        speed = np.linalg.norm(np.gradient(hands, axis=0), axis=-1) * 20.0  # [N, 2] at 20 fps
        for stroke in info[take.name]["strokes"]:
            frame = stroke["time"] * 20.0
            sides = [0, 1] if stroke["hands"] == "both" else [0 if stroke["hands"] == "left" else 1]
            for side in sides:
                maxima = find_peaks(speed[:, side])[0]
                strokes += 1
                near += np.min(np.abs(maxima - frame)) <= 1.0  # a local speed maximum within a frame
        assert info[take.name]["strokes"], take.name
    assert near == strokes and strokes >= 20


def _style_statistics(takes) -> dict[str, dict[str, float]]:
    stats: dict[str, list[list[float]]] = {}
    for take in takes:
        joints = take.motion.joints()
        hands = joints[:, HANDS]
        gesture = hands - uniform_filter1d(hands, 20, axis=0, mode="nearest")  # strokes without the posture
        speed = np.linalg.norm(np.diff(hands, axis=0), axis=-1).sum(-1) * 20.0
        beats = find_peaks(speed, height=0.25 * speed.max())[0]
        trunk = joints[:, ZEGGS75.index("Neck")] - joints[:, ZEGGS75.index("Spine")]
        facing = axis_angle_to_matrix(take.motion.poses[:, 0])[:, :, 2] * [1.0, 0.0, 1.0]
        lean = np.arctan2((trunk * facing).sum(-1), trunk[:, 1]).mean()
        stats.setdefault(take.genre, []).append(
            [
                np.sqrt((gesture**2).sum(-1).mean()),
                speed.max(),
                len(beats) / take.duration,
                lean,
                hands[..., 1].mean(),
            ]
        )
    keys = ("amplitude", "peak_speed", "tempo", "lean", "hand_height")
    return {style: dict(zip(keys, np.mean(rows, axis=0), strict=True)) for style, rows in stats.items()}


def test_style_changes_amplitude_tempo_and_posture(takes):
    s = _style_statistics(takes)
    amp = {k: v["amplitude"] for k, v in s.items()}
    assert min(amp["Happy"], amp["Angry"]) > 2.0 * max(amp["Sad"], amp["Relaxed"])
    assert amp["Neutral"] > 1.2 * amp["Sad"]
    speed = {k: v["peak_speed"] for k, v in s.items()}  # sharpness of the strokes
    assert (
        speed["Angry"] > speed["Happy"] > speed["Neutral"] > max(speed["Sad"], speed["Old"], speed["Relaxed"])
    )
    tempo = {k: v["tempo"] for k, v in s.items()}  # speed peaks per second
    assert (tempo["Happy"] + tempo["Angry"]) / 2 > 1.5 * (tempo["Sad"] + tempo["Old"]) / 2
    lean = {k: v["lean"] for k, v in s.items()}  # forward trunk lean (rad): stooped and slumped
    assert lean["Old"] > lean["Sad"] > lean["Neutral"] + 0.15 and lean["Neutral"] > lean["Happy"]
    height = {k: v["hand_height"] for k, v in s.items()}  # raised arms
    assert height["Happy"] > height["Neutral"] > height["Sad"] + 0.1


def test_style_changes_the_voice(gesture_root):
    loudness = {}
    for name, info in _meta(gesture_root)["sequence_info"].items():
        folder = "valid" if info["split"] == "val" else "train"
        wave, _ = sf.read(gesture_root / folder / f"{name}.wav")
        loudness.setdefault(info["style"], []).append(np.sqrt(np.mean(wave**2)))
    assert np.mean(loudness["Angry"]) > 2.0 * np.mean(loudness["Sad"])


def test_cli_synth_gesture(tmp_path, capsys):
    assert (
        main(
            [
                "data",
                "synth-gesture",
                str(tmp_path / "g"),
                "--sequences",
                "2",
                "--seconds",
                "2",
                "--seed",
                "3",
            ]
        )
        == 0
    )
    assert "synthetic ZEGGS-layout gesture dataset written to" in capsys.readouterr().out
    assert _meta(tmp_path / "g")["seed"] == 3
    assert main(["data", "synth-gesture", str(tmp_path / "bad"), "--seconds", "1"]) == 2
    assert "seconds must be a finite number ≥ 2" in capsys.readouterr().err
