"""AIST++ layout reader: split/ignore lists, 60 → 30 fps, scaling, names, bad input; window arithmetic."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from a2a.data.aistpp import AISTPPDataset, is_aistpp_layout, read_name_list
from a2a.data.synthetic import synthesize
from a2a.data.windows import WindowSpec, window_starts
from a2a.errors import DatasetError
from a2a.motion import Motion

TRAIN = ["gBR_sBM_cAll_d04_mBR1_ch01", "gHO_sFM_cAll_d20_mHO3_ch07", "gJB_sBM_cAll_d08_mJB2_ch02"]
TEST = ["gLO_sBM_cAll_d13_mLO2_ch02"]
SCALING = 93.5


def write_sequence(
    root: Path, name: str, rng: np.random.Generator, frames: int = 120, wav: bool = True
) -> Motion:
    motion = Motion(rng.normal(scale=0.3, size=(frames, 24, 3)), rng.normal(size=(frames, 3)), fps=60.0)
    motion.to_aistpp_pkl(root / "motions" / f"{name}.pkl", scaling=SCALING)
    if wav:
        (root / "wavs").mkdir(parents=True, exist_ok=True)
        sf.write(root / "wavs" / f"{name}.wav", 0.1 * rng.standard_normal(8000 * frames // 60), 8000)
    return motion


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, dict[str, Motion]]:
    rng = np.random.default_rng(0)
    motions = {name: write_sequence(tmp_path, name, rng) for name in TRAIN + TEST}
    (tmp_path / "splits").mkdir()
    # EDGE's quirks: trailing spaces, blank lines, no final newline.
    (tmp_path / "splits" / "crossmodal_train.txt").write_text(f"{TRAIN[0]} \n\n{TRAIN[1]}\n{TRAIN[2]}")
    (tmp_path / "splits" / "crossmodal_test.txt").write_text(f"{TEST[0]}\n")
    (tmp_path / "ignore_list.txt").write_text(f"{TRAIN[1]} \ngWA_sBM_cAll_d27_mWA4_ch02\n\n")
    return tmp_path, motions


def test_read_name_list_strips_and_drops_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("  a \r\n\n b\n\nc\na")
    assert read_name_list(path) == ["a", "b", "c"]


def test_splits_ignore_list_and_counts(layout) -> None:
    root, _ = layout
    assert is_aistpp_layout(root)
    ds = AISTPPDataset(root)
    assert ds.split_names() == ["train", "test"]
    train = ds.sequences("train")
    assert [s.name for s in train] == [TRAIN[0], TRAIN[2]]
    assert ds.ignored == [TRAIN[1]]
    assert [s.name for s in ds.sequences("test")] == TEST
    assert all(s.split == "test" for s in ds.sequences("test"))
    assert len(AISTPPDataset(root, use_ignore_list=False).sequences("train")) == 3


def test_fps_scaling_and_names(layout) -> None:
    root, motions = layout
    seq = AISTPPDataset(root).sequences("train")[0]
    original = motions[TRAIN[0]]
    assert seq.motion.fps == 30.0 and seq.motion.num_frames == 60
    np.testing.assert_allclose(seq.motion.poses, original.poses[::2])
    np.testing.assert_allclose(seq.motion.trans, original.trans[::2], atol=1e-12)  # stored × scaling, read ÷
    assert (seq.genre, seq.tempo, seq.meta["dancer"], seq.meta["music"]) == ("BR", 90.0, 4, "mBR1")
    assert seq.audio == root / "wavs" / f"{TRAIN[0]}.wav"
    full = AISTPPDataset(root, fps=60.0).sequences("train")[0]
    assert full.motion.num_frames == 120


def test_music_id_wav_is_used_when_no_sequence_wav(layout) -> None:
    root, _ = layout
    (root / "wavs" / f"{TEST[0]}.wav").rename(root / "wavs" / "mLO2.wav")
    assert AISTPPDataset(root).sequences("test")[0].audio == root / "wavs" / "mLO2.wav"


def test_missing_wav_raises_naming_the_sequence(layout) -> None:
    root, _ = layout
    (root / "wavs" / f"{TRAIN[2]}.wav").unlink()
    with pytest.raises(DatasetError, match=rf"{TRAIN[2]}\.pkl: no audio for sequence"):
        AISTPPDataset(root).sequences("train")


def test_skip_bad_records_and_logs(layout, caplog) -> None:
    root, _ = layout
    (root / "wavs" / f"{TRAIN[2]}.wav").unlink()
    ds = AISTPPDataset(root, skip_bad=True)
    with caplog.at_level(logging.WARNING):
        seqs = ds.sequences("train")
    assert [s.name for s in seqs] == [TRAIN[0]]
    assert [b.name for b in ds.bad] == [TRAIN[2]] and "no audio" in ds.bad[0].reason
    assert "skipped 1 bad sequence" in caplog.text


def test_split_naming_a_missing_sequence(layout) -> None:
    root, _ = layout
    (root / "splits" / "crossmodal_test.txt").write_text("gKR_sBM_cAll_d30_mKR2_ch02\n")
    with pytest.raises(
        DatasetError, match=r"crossmodal_test\.txt: lists sequence 'gKR_sBM_cAll_d30_mKR2_ch02'"
    ):
        AISTPPDataset(root).sequences("test")


def test_missing_split_file(layout) -> None:
    root, _ = layout
    with pytest.raises(DatasetError, match=r"crossmodal_val\.txt: split 'val' has no list file"):
        AISTPPDataset(root).sequences("val")


def test_nan_motion_names_file_and_field(layout) -> None:
    root, _ = layout
    import pickle

    path = root / "motions" / f"{TEST[0]}.pkl"
    data = pickle.loads(path.read_bytes())
    data["smpl_trans"][3, 1] = np.nan
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DatasetError, match=rf"{TEST[0]}\.pkl: field 'smpl_trans' has 1 NaN"):
        AISTPPDataset(root).sequences("test")


def test_wrong_pose_shape(layout) -> None:
    root, _ = layout
    import pickle

    path = root / "motions" / f"{TEST[0]}.pkl"
    data = pickle.loads(path.read_bytes())
    data["smpl_poses"] = data["smpl_poses"][:, :70]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(DatasetError, match=r"smpl_poses' must have shape \[N, 72\]"):
        AISTPPDataset(root).sequences("test")


def test_empty_and_unreadable_wav(layout) -> None:
    root, _ = layout
    sf.write(root / "wavs" / f"{TEST[0]}.wav", np.zeros(0), 8000)
    with pytest.raises(DatasetError, match=rf"{TEST[0]}\.wav: audio has 0 samples"):
        AISTPPDataset(root).sequences("test")
    (root / "wavs" / f"{TEST[0]}.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(DatasetError, match=rf"{TEST[0]}\.wav: unreadable audio"):
        AISTPPDataset(root).sequences("test")


def test_not_a_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        AISTPPDataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no motions/ folder"):
        AISTPPDataset(tmp_path)


def test_window_arithmetic() -> None:
    spec = WindowSpec()
    assert (spec.frames, spec.stride_frames("train"), spec.stride_frames("test")) == (150, 15, 75)
    assert window_starts(180, 150, 15) == [0, 15, 30]
    assert window_starts(149, 150, 15) == []
    assert window_starts(150, 150, 75) == [0]
    # A 12 s test clip at 30 fps (EDGE protocol): (360 - 150) // 75 + 1 = 3 windows.
    assert len(window_starts(360, 150, 75)) == 3
    with pytest.raises(DatasetError, match="must be positive"):
        WindowSpec(train_stride=0)


def test_synthetic_dataset(tmp_path: Path) -> None:
    root = synthesize(tmp_path / "syn", sequences=6, seconds=6.0, progress=False)
    ds = AISTPPDataset(root)
    counts = {split: len(ds.sequences(split)) for split in ds.split_names()}
    assert counts == {"train": 3, "val": 1, "test": 1}
    assert len(ds.ignored) == 1
    seq = ds.sequences("test")[0]
    assert seq.motion.num_frames == 180 and seq.motion.fps == 30.0
    assert sf.info(str(seq.audio)).duration == pytest.approx(6.0, abs=1e-3)
