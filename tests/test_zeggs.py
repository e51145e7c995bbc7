"""The ZEGGS layout: take names, the original split, styles, 60 → 20 fps, rig checks, bad items,
auto-detection and ``a2a data describe``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from a2a.cli import main
from a2a.data.curated import open_source
from a2a.data.describe import describe_dataset, format_description
from a2a.data.zeggs import DSG_STYLES, ZeggsFolder, format_zeggs_name, parse_zeggs_name, snap_fps
from a2a.errors import DatasetError
from a2a.motion import Motion, Skeleton
from a2a.motion.bvh import write_rig_bvh
from a2a.motion.rigs import ZEGGS75


def _take(folder: Path, name: str, frames: int = 30, seed: int = 0, rig: Skeleton = ZEGGS75) -> Motion:
    """Write ``name.bvh`` (60 fps, cm) and a matching 16 kHz ``name.wav``; return the written motion."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames)[:, None, None] / 60.0
    poses = 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 2, (1, rig.num_joints, 3)) * t)
    trans = np.stack([0.1 * t[:, 0, 0], np.full(frames, 0.94), np.zeros(frames)], axis=-1)
    motion = Motion(poses, trans, 60.0, rig)
    folder.mkdir(parents=True, exist_ok=True)
    write_rig_bvh(motion, folder / f"{name}.bvh")
    sf.write(folder / f"{name}.wav", 0.1 * rng.standard_normal(round(frames / 60 * 16000)), 16000)
    return motion


def test_names_as_zeroeggs_writes_them():
    trimmed = parse_zeggs_name("001_Neutral_0_mirror_x_0_9")
    assert (trimmed.index, trimmed.style, trimmed.take, trimmed.mirror, trimmed.speed) == (
        1,
        "Neutral",
        0,
        True,
        0.9,
    )
    raw = parse_zeggs_name("062_Tired_0")  # ZeroEGGS' original file names
    assert (raw.style, raw.take, raw.mirror, raw.speed) == ("Tired", 0, False, 1.0)
    assert parse_zeggs_name("015_Happy_4_x_1_0").speed == 1.0
    assert format_zeggs_name(15, "Happy", 4) == "015_Happy_4_x_1_0"
    assert format_zeggs_name(1, "Neutral", 0, mirror=True, speed=1.1) == "001_Neutral_0_mirror_x_1_1"
    with pytest.raises(DatasetError, match=r"'happy_take' is not a ZEGGS take name \(expected NNN_<Style>"):
        parse_zeggs_name("happy_take")


def test_flat_folder_follows_the_zeggs_validation_column(tmp_path):
    for i, name in enumerate(
        [
            "004_Neutral_3_x_1_0",
            "005_Neutral_4_x_1_0",  # validation
            "015_Happy_4_mirror_x_0_9",  # validation (mirrored, stretched)
            "028_Angry_2_x_1_0",
            "029_Angry_3_x_1_0",  # validation
            "030_Agreement_0_x_1_0",  # not a DSG style
        ]
    ):
        _take(tmp_path, name, seed=i)
    source = ZeggsFolder(tmp_path)
    assert source.split_names() == ["train", "val"]
    train, val = source.sequences("train"), source.sequences("val")
    assert [s.name for s in train] == ["004_Neutral_3_x_1_0", "028_Angry_2_x_1_0"]
    assert [s.name for s in val] == ["005_Neutral_4_x_1_0", "015_Happy_4_mirror_x_0_9", "029_Angry_3_x_1_0"]
    assert source.skipped == ["030_Agreement_0_x_1_0"]
    happy = val[1]
    assert (
        happy.genre == "Happy"
        and happy.split == "val"
        and happy.audio == tmp_path / "015_Happy_4_mirror_x_0_9.wav"
    )
    assert happy.meta == {"index": 15, "take": 4, "mirror": True, "speed": 0.9}
    assert source.style_names() == list(DSG_STYLES)
    everything = ZeggsFolder(tmp_path, styles=None)
    assert everything.skipped == [] and everything.style_names() == ["Agreement", "Angry", "Happy", "Neutral"]


def test_motion_is_every_third_frame_of_the_60_fps_file_on_its_rig(tmp_path):
    written = _take(tmp_path, "011_Happy_0_x_1_0", frames=31)
    (take,) = ZeggsFolder(tmp_path).sequences("train")
    assert take.motion.fps == 20.0 and take.motion.num_frames == 11
    assert take.motion.skeleton.names == ZEGGS75.names
    np.testing.assert_allclose(take.motion.skeleton.offsets, ZEGGS75.offsets, atol=1e-8)  # cm → m
    np.testing.assert_allclose(take.motion.joints(), written.joints()[::3], atol=2e-6)
    at_60 = ZeggsFolder(tmp_path, fps=60.0).sequences("train")[0].motion
    assert at_60.num_frames == 31 and at_60.fps == 60.0  # Frame Time 0.016667 is 60 fps, not 59.9988
    assert snap_fps(1 / 0.016667) == 60.0 and snap_fps(29.97) == 29.97


def test_split_folders_decide_the_split(tmp_path):
    _take(tmp_path / "train", "005_Neutral_4_x_1_0")  # a validation take, but the folder says train
    _take(tmp_path / "valid", "001_Neutral_0_x_1_0")
    source = open_source(tmp_path)  # auto-detected
    assert isinstance(source, ZeggsFolder)
    assert [s.name for s in source.sequences("train")] == ["005_Neutral_4_x_1_0"]
    assert [s.name for s in source.sequences("val")] == ["001_Neutral_0_x_1_0"]


def test_a_bvh_on_another_rig_names_the_file_and_the_joints(tmp_path):
    names = list(ZEGGS75.names)
    names[ZEGGS75.index("HeadEnd")] = "HeadTop_End"
    other = Skeleton(tuple(names), ZEGGS75.parents, ZEGGS75.offsets)
    _take(tmp_path, "001_Neutral_0_x_1_0", rig=other)
    _take(tmp_path, "002_Neutral_1_x_1_0")
    message = (
        r"0_x_1_0\.bvh: joints do not match the 75-joint rig: missing HeadEnd; unexpected HeadTop_End \("
    )
    with pytest.raises(DatasetError, match=r"^[^:]*/001_Neutral_" + message):
        ZeggsFolder(tmp_path).sequences("train")
    lenient = ZeggsFolder(tmp_path, skip_bad=True)
    assert [s.name for s in lenient.sequences("train")] == ["002_Neutral_1_x_1_0"]
    assert [b.name for b in lenient.bad] == ["001_Neutral_0_x_1_0"] and "HeadTop_End" in lenient.bad[0].reason


def test_missing_audio_and_bad_names_are_bad_items(tmp_path):
    _take(tmp_path, "001_Neutral_0_x_1_0")
    _take(tmp_path, "002_Neutral_1_x_1_0")
    (tmp_path / "002_Neutral_1_x_1_0.wav").unlink()
    with pytest.raises(
        DatasetError, match=r"002_Neutral_1_x_1_0\.bvh: no audio 002_Neutral_1_x_1_0\.wav next to it"
    ):
        ZeggsFolder(tmp_path).sequences("train")
    _take(tmp_path, "notes")
    with pytest.raises(DatasetError, match=r"notes\.bvh: 'notes' is not a ZEGGS take name"):
        ZeggsFolder(tmp_path)
    lenient = ZeggsFolder(tmp_path, skip_bad=True)
    assert [s.name for s in lenient.sequences("train")] == ["001_Neutral_0_x_1_0"]
    assert sorted(b.name for b in lenient.bad) == ["002_Neutral_1_x_1_0", "notes"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"empty: no \.bvh files"):
        ZeggsFolder(empty)
    with pytest.raises(DatasetError, match="styles must be a non-empty list without repeats"):
        ZeggsFolder(tmp_path, styles=["Happy", "Happy"])


def test_describe_counts_styles_hours_and_dsg_windows(gesture_root):
    info = describe_dataset(gesture_root)
    assert info["kind"] == "ZeggsFolder" and info["labels"] == "styles" and info["fps"] == 20.0
    assert info["window"] == {"seconds": 4.4, "frames": 88, "train_stride": 0.5, "test_stride": 0.5}
    train, val = info["splits"]["train"], info["splits"]["val"]
    assert train["sequences"] == 6 and val["sequences"] == 6
    assert train["styles"] == dict.fromkeys(sorted(DSG_STYLES), 1)
    assert train["seconds"] == 36.0 and train["hours"] == 0.01
    assert train["windows"] == 6 * ((120 - 88) // 10 + 1)  # 6 s = 120 frames at 20 fps
    text = format_description(info)
    assert "styles" in text.splitlines()[2] and "Angry 1, Happy 1, Neutral 1, Old 1, Relaxed 1, Sad 1" in text


def test_cli_describe_on_a_gesture_folder(gesture_root, capsys):
    assert main(["data", "describe", str(gesture_root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"]["val"]["styles"]["Sad"] == 1 and info["total"]["sequences"] == 12
    assert main(["data", "describe", str(gesture_root), "--kind", "zeggs"]) == 0
    out = capsys.readouterr().out
    assert "ZeggsFolder, 20 fps, windows of 4.4 s" in out and "total" in out
