"""Curated datasets: BVH on another rig → SMPL-24, folders with metadata, Hugging Face datasets, splits."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from a2a.data.aistpp import AISTPPDataset
from a2a.data.curated import (
    SUBNET_LIBRARY_TO_SMPL,
    CuratedFolder,
    HFDanceDataset,
    bvh_to_smpl,
    hash_splits,
    open_source,
    positions_to_smpl,
)
from a2a.data.describe import describe_dataset
from a2a.errors import BVHError, DatasetError
from a2a.motion import SMPL24, Motion
from a2a.motion.bvh import motion_to_bvh, read_bvh

COLLARS = (13, 14)


def dance(rng: np.random.Generator, frames: int = 40, fps: float = 30.0, collars: bool = True) -> Motion:
    poses = rng.normal(scale=0.35, size=(frames, 24, 3))
    if not collars:
        poses[:, list(COLLARS)] = 0.0
    return Motion(poses, rng.normal(scale=0.5, size=(frames, 3)) + [0, 0.9, 0], fps)


def library_bvh(motion: Motion) -> str:
    """The motion as a BVH whose mapped joints carry the subnet-25 library rig's names."""
    text = motion_to_bvh(motion)
    for library, smpl in SUBNET_LIBRARY_TO_SMPL.items():
        text = re.sub(rf"\b(ROOT|JOINT) {smpl}\b", rf"\1 {library}", text)
    return text


def wav_bytes(seconds: float, sr: int = 8000, seed: int = 0) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * sr)), sr, format="WAV")
    return buf.getvalue()


def test_inverse_kinematics_reproduces_smpl_positions() -> None:
    motion = dance(np.random.default_rng(0))
    joints = motion.joints()
    poses, trans = positions_to_smpl(joints)
    np.testing.assert_allclose(Motion(poses, trans, 30.0).joints(), joints, atol=1e-9)


def test_library_rig_bvh_maps_to_smpl_joints() -> None:
    motion = dance(np.random.default_rng(1), collars=False)
    bvh = read_bvh(library_bvh(motion))
    assert "hips_JNT" in bvh.names and "Pelvis" not in bvh.names
    recovered, joints = bvh_to_smpl(bvh)  # library map and cm → m found automatically
    # The writer places the root rest at (-40, -95, 40) cm in a Y-up file.
    expected = motion.joints() + np.array([-0.40, -0.95, 0.40])
    mapped = [SMPL24.names.index(n) for n in SUBNET_LIBRARY_TO_SMPL.values()]
    np.testing.assert_allclose(joints[:, mapped], expected[:, mapped], atol=1e-6)
    np.testing.assert_allclose(recovered.joints(), expected, atol=1e-5)
    assert recovered.fps == 30.0 and recovered.num_frames == motion.num_frames


def test_bvh_is_resampled_and_units_can_be_forced() -> None:
    motion = dance(np.random.default_rng(2), frames=20)
    text = motion_to_bvh(motion).replace("Frame Time: 0.033333", "Frame Time: 0.016667")  # call it 60 fps
    recovered, joints = bvh_to_smpl(read_bvh(text), fps=30.0, units="cm")
    assert recovered.num_frames == 10 and joints.shape == (10, 24, 3)
    np.testing.assert_allclose(joints, motion.joints()[::2] + [-0.40, -0.95, 0.40], atol=1e-6)


def test_joint_map_errors() -> None:
    bvh = read_bvh(motion_to_bvh(dance(np.random.default_rng(3), frames=3)))
    with pytest.raises(BVHError, match="joint_map names joints the file lacks: hips_JNT"):
        bvh_to_smpl(bvh, joint_map={"hips_JNT": "Pelvis"})
    with pytest.raises(BVHError, match="not SMPL joints"):
        bvh_to_smpl(bvh, joint_map={"Pelvis": "Hips"})
    odd = motion_to_bvh(dance(np.random.default_rng(3), frames=3)).replace("ROOT Pelvis", "ROOT Hips")
    with pytest.raises(BVHError, match="neither SMPL's nor the subnet-25 library rig's"):
        bvh_to_smpl(read_bvh(odd))


def test_hash_splits_are_deterministic() -> None:
    names = [f"clip{i:02d}" for i in range(20)]
    splits = hash_splits(names, 0.1, 0.1)
    assert splits == hash_splits(list(reversed(names)), 0.1, 0.1)
    counts = {s: list(splits.values()).count(s) for s in ("train", "val", "test")}
    assert counts == {"train": 16, "val": 2, "test": 2}
    assert set(hash_splits(["a", "b", "c"], 0.1, 0.1).values()) == {"train", "val", "test"}
    with pytest.raises(DatasetError, match="val_fraction"):
        hash_splits(names, 0.6, 0.5)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    (tmp_path / "a.wav").write_bytes(wav_bytes(1.0, seed=1))
    (tmp_path / "a.bvh").write_text(library_bvh(dance(rng)))
    (tmp_path / "b.wav").write_bytes(wav_bytes(1.0, seed=2))
    dance(rng, frames=60, fps=60.0).to_aistpp_pkl(tmp_path / "b.pkl", scaling=2.0)
    (tmp_path / "c.flac").write_bytes(b"")  # replaced below with real FLAC
    sf.write(tmp_path / "c.flac", 0.1 * rng.standard_normal(8000), 8000)
    dance(rng, frames=30).to_npz(tmp_path / "c.npz")
    (tmp_path / "metadata.csv").write_text(
        "name,genre,split,dancer\na,house,train,d1\nb.wav,krump,test,d2\nc,,val,\n"
    )
    return tmp_path


def test_curated_folder(folder: Path) -> None:
    source = open_source(folder)
    assert isinstance(source, CuratedFolder)
    train, val, test = (source.sequences(s) for s in ("train", "val", "test"))
    assert (
        [s.name for s in train] == ["a"]
        and [s.name for s in val] == ["c"]
        and [s.name for s in test] == ["b"]
    )
    a, b, c = train[0], test[0], val[0]
    assert (a.genre, b.genre, c.genre) == ("house", "krump", "")
    assert a.meta == {"dancer": "d1"}
    assert a.joints is not None and a.joints.shape == (40, 24, 3) and b.joints is None
    assert b.motion.fps == 30.0 and b.motion.num_frames == 30  # 60 fps pickle → every 2nd frame
    assert c.audio == folder / "c.flac"
    info = describe_dataset(folder)
    assert info["splits"]["test"]["genres"] == {"krump": 1} and info["total"]["sequences"] == 3


def test_curated_folder_bad_items(folder: Path, caplog) -> None:
    (folder / "a.wav").unlink()
    with pytest.raises(DatasetError, match=r"a\.bvh: no audio file a\.\(wav"):
        CuratedFolder(folder).sequences("train")
    source = CuratedFolder(folder, skip_bad=True)
    assert source.sequences("train") == [] and [b.name for b in source.bad] == ["a"]
    assert "skipping bad item a" in caplog.text
    (folder / "metadata.csv").write_text("title\nx\n")
    with pytest.raises(DatasetError, match="metadata.csv: needs a 'name' column"):
        CuratedFolder(folder)


def test_hf_dataset_on_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rng = np.random.default_rng(5)
    m1, m2 = dance(rng), dance(rng, frames=30)
    rows = {
        "name": ["x", "y"],
        "audio": [
            {"bytes": wav_bytes(1.0, seed=3), "path": None},
            {"bytes": wav_bytes(1.0, seed=4), "path": None},
        ],
        "motion": [library_bvh(m1), motion_to_bvh(m2)],
        "style": ["waack", "pop"],
    }
    part = datasets.Dataset.from_dict(rows).cast_column("audio", datasets.Audio())
    datasets.DatasetDict({"train": part.select([0]), "test": part.select([1])}).save_to_disk(
        str(tmp_path / "hf")
    )
    source = open_source(tmp_path / "hf")
    assert isinstance(source, HFDanceDataset)
    (x,) = source.sequences("train")
    (y,) = source.sequences("test")
    assert (x.name, x.genre, y.name, y.genre) == ("x", "waack", "y", "pop")
    assert isinstance(x.audio, bytes) and sf.info(io.BytesIO(x.audio)).frames == 8000
    np.testing.assert_allclose(y.joints, m2.joints() + [-0.40, -0.95, 0.40], atol=1e-6)

    arrays = datasets.Dataset.from_dict(
        {
            "audio": [{"array": np.full(800, 0.1, dtype=np.float32), "sampling_rate": 8000}],
            "motion": [{"poses": m2.poses.tolist(), "trans": m2.trans.tolist(), "fps": 30.0}],
        }
    )
    arrays.save_to_disk(str(tmp_path / "hf2"))
    (only,) = HFDanceDataset(tmp_path / "hf2", test_fraction=0.0, val_fraction=0.0).sequences("train")
    assert only.name == "row_00000" and sf.info(io.BytesIO(only.audio)).samplerate == 8000
    np.testing.assert_allclose(only.motion.poses, m2.poses, atol=1e-12)
    with pytest.raises(DatasetError, match="no motion column 'dance'"):
        HFDanceDataset(tmp_path / "hf2", motion_column="dance").sequences("train")


def test_open_source_detects_aistpp(tmp_path: Path) -> None:
    (tmp_path / "motions").mkdir()
    (tmp_path / "splits").mkdir()
    (tmp_path / "splits" / "crossmodal_train.txt").write_text("")
    assert isinstance(open_source(tmp_path, joint_map={"a": "Pelvis"}), AISTPPDataset)
    with pytest.raises(DatasetError, match="does not exist"):
        open_source(tmp_path / "missing")
