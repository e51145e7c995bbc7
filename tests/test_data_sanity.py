"""Physically implausible motions and split overlap: flagged by ``a2a data describe``, refused (or
warned about) when training starts, with configurable bounds."""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from a2a.cli import main as cli
from a2a.data.datamodule import MotionDataModule
from a2a.data.describe import describe_dataset, format_description
from a2a.data.sanity import SanityBounds, implausible, split_overlap
from a2a.data.synthetic import synthesize
from a2a.errors import DatasetError
from a2a.motion import Motion
from tests.test_datamodule import ClockFeatures


def test_implausible_names_value_frame_and_option():
    still = np.zeros((5, 24, 3))
    walk = Motion(still, np.array([[0.0, 1.0, 0.0]] * 5) + [[0.1 * i, 0, 0] for i in range(5)], 30.0)
    assert implausible(walk, SanityBounds()) is None  # 3 m/s, 1.4 m from the origin
    far = Motion(still, np.array([[0, 0, 0], [0, 0, 0], [90.0, 0, 120.0], [0, 0, 0], [0, 0, 0]]), 30.0)
    assert implausible(far, SanityBounds()) == (
        "root translation reaches 150 m at frame 2 (data.sanity.max_translation=100)"
    )
    assert implausible(far, SanityBounds(max_translation=200.0)) == (
        "root moves at 4500 m/s between frames 1 and 2 (data.sanity.max_root_speed=50)"
    )
    jump = Motion(still, np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 2.0, 0], [0, 2.0, 0]]), 30.0)
    assert implausible(jump, SanityBounds()) == (
        "root moves at 60 m/s between frames 2 and 3 (data.sanity.max_root_speed=50)"
    )
    assert implausible(jump, SanityBounds(max_root_speed=61.0)) is None
    with pytest.raises(DatasetError, match="data.sanity.max_root_speed must be a positive number"):
        SanityBounds(max_root_speed=0)
    with pytest.raises(DatasetError, match="split_overlap must be one of warn, error, ignore"):
        SanityBounds(split_overlap="maybe")


def test_split_overlap_lists_each_shared_name_once():
    names = {"train": ["a", "b", "c", "b"], "val": ["d"], "test": ["c", "e", "a"]}
    assert split_overlap(names) == {"a": ["train", "test"], "c": ["train", "test"]}
    assert split_overlap({"train": ["a"], "test": ["b"]}) == {}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return synthesize(tmp_path_factory.mktemp("sanity") / "syn", sequences=6, seconds=3.0, progress=False)


def _train_names(root: Path) -> list[str]:
    """Training sequences that the ignore list keeps."""
    ignored = set((root / "ignore_list.txt").read_text().split())
    return [n for n in (root / "splits" / "crossmodal_train.txt").read_text().split() if n not in ignored]


@pytest.fixture
def teleport(clean, tmp_path) -> tuple[Path, str]:
    """The dataset with one training sequence moved 1e7 m away for 10 frames (the issue's case)."""
    root = Path(shutil.copytree(clean, tmp_path / "teleport"))
    name = _train_names(root)[1]
    pkl = root / "motions" / f"{name}.pkl"
    data = pickle.loads(pkl.read_bytes())
    data["smpl_trans"][20:30, 0] = 1e7 * float(np.ravel(data["smpl_scaling"])[0])
    pkl.write_bytes(pickle.dumps(data))
    return root, name


@pytest.fixture
def overlap(clean, tmp_path) -> tuple[Path, str]:
    """The dataset with a training sequence also listed in the test split."""
    root = Path(shutil.copytree(clean, tmp_path / "overlap"))
    name = _train_names(root)[0]
    test = root / "splits" / "crossmodal_test.txt"
    test.write_text(test.read_text().rstrip("\n") + f"\n{name}\n")
    return root, name


def _dm(root: Path, **kwargs) -> MotionDataModule:
    return MotionDataModule(
        root, ClockFeatures(), window_seconds=2.0, test_stride=1.0, batch_size=2, progress=False, **kwargs
    )


def test_training_refuses_implausible_data_before_features(teleport):
    root, name = teleport
    ClockFeatures.calls.clear()
    with pytest.raises(DatasetError, match=rf"sequence '{name}' \(train\) is implausible: root translation "):
        _dm(root).setup("fit")
    assert ClockFeatures.calls == []  # refused before any audio was processed
    skipped = _dm(root, skip_bad=True)
    skipped.setup("fit")
    assert [b.name for b in skipped.bad] == [name] and "data.sanity.max_translation=100" in skipped.bad[
        0
    ].reason
    assert name not in skipped.dataset("train").names
    loose = _dm(root, sanity={"max_translation": 1e8, "max_root_speed": 1e12})
    loose.setup("fit")
    assert name in loose.dataset("train").names


def test_training_warns_about_split_overlap_or_refuses_it(overlap, caplog):
    root, name = overlap
    with caplog.at_level(logging.WARNING, logger="a2a.data.sanity"):
        _dm(root).setup("fit")
    warnings = [r.getMessage() for r in caplog.records if r.name == "a2a.data.sanity"]
    assert len(warnings) == 1
    assert f"1 sequence(s) listed in more than one split: {name} in train and test" in warnings[0]
    with pytest.raises(DatasetError, match=rf"{name} in train and test \(data.sanity.split_overlap=error\)"):
        _dm(root, sanity={"split_overlap": "error"}).setup("fit")


def test_describe_flags_implausible_sequences_and_overlap(teleport, overlap, capsys):
    root, name = teleport
    info = describe_dataset(root)
    assert [(i["name"], i["split"]) for i in info["implausible"]] == [(name, "train")]
    assert info["implausible"][0]["reason"].startswith("root translation reaches 1e+07 m at frame 10")
    assert info["sanity"] == {"max_translation": 100.0, "max_root_speed": 50.0, "split_overlap": "warn"}
    assert info["overlap"] == {}
    assert "1 implausible sequence(s): training refuses them" in format_description(info)
    assert cli(["data", "describe", str(root), "--max-translation", "1e8", "--max-root-speed", "1e12"]) == 0
    assert "implausible" not in capsys.readouterr().out
    root, name = overlap
    assert cli(["data", "describe", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"warning: 1 sequence(s) listed in more than one split: {name} in train and test" in out
