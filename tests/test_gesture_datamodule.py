"""The gesture datamodule: DSG's batches (normalised 1141-d windows, audio, style one-hot, seed frames),
window counts, the z-score fitted on the configured splits, conditions from the config and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from a2a.audio import BaselineFeatures
from a2a.config import instantiate
from a2a.data.gesture import GestureDataModule
from a2a.data.zeggs import DSG_STYLES
from a2a.errors import DatasetError
from a2a.motion.dsg import DSGRepresentation
from tests.conftest import compose_train

FRAMES = 44  # 2.2 s at 20 fps


def _features() -> BaselineFeatures:
    return BaselineFeatures(sr=15360, hop_length=768, fps=20)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One feature cache for the module: the audio of the 12 takes is analysed once."""
    return tmp_path_factory.mktemp("feature_cache")


@pytest.fixture(scope="module")
def make(gesture_root, cache):
    def build(**options) -> GestureDataModule:
        defaults = {
            "window_seconds": 2.2,
            "test_stride": 1.0,
            "n_seed": 4,
            "batch_size": 4,
            "progress": False,
        }
        return GestureDataModule(gesture_root, _features(), cache_dir=cache, **(defaults | options))

    return build


@pytest.fixture(scope="module")
def module(make) -> GestureDataModule:
    dm = make()
    dm.setup("fit")
    return dm


def test_batches_hold_dsg_conditions(module):
    batch = next(iter(module.train_dataloader()))
    assert batch["motion"].shape == (4, FRAMES, 1141) and batch["motion"].dtype == torch.float32
    cond = batch["cond"]
    assert set(cond) == {"audio", "style", "seed"}
    assert cond["audio"].shape == (4, FRAMES, 35)
    assert cond["style"].shape == (4, 6) and cond["style"].dtype == torch.float32
    assert torch.equal(cond["seed"], batch["motion"][:, :4])  # the first n_seed frames of the same window
    for i, label in enumerate(batch["style"]):
        assert cond["style"][i].tolist() == [float(s == label) for s in DSG_STYLES]
        assert batch["style_id"][i] == DSG_STYLES.index(label)
    assert module.styles == list(DSG_STYLES)


def test_windows_are_dsg_strides_and_the_motion_is_the_normalised_encoding(module, gesture_root):
    train = module.dataset("train")
    # 6 s takes = 120 frames: windows of 44 frames every 10 (0.5 s) for training, every 20 (1 s) otherwise.
    assert len(train) == 6 * ((120 - FRAMES) // 10 + 1)
    assert len(module.dataset("val")) == 6 * ((120 - FRAMES) // 20 + 1)
    item = train[5]
    take = next(s for s in module.source.sequences("train") if s.name == item["name"])
    encoded = DSGRepresentation().encode(take.motion)[item["start"] : item["start"] + FRAMES]
    expected = module.normalizer.normalize(torch.from_numpy(encoded).double()).float()
    torch.testing.assert_close(item["motion"], expected, atol=1e-5, rtol=0)
    assert item["start"] == 50 and item["style"] == take.genre


def test_zscore_is_fitted_on_the_training_frames(module, make):
    rep = DSGRepresentation()
    frames = np.concatenate([rep.encode(s.motion)[:114] for s in module.source.sequences("train")]).astype(
        np.float64
    )
    np.testing.assert_allclose(module.normalizer.mean.numpy(), frames.mean(0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        module.normalizer.std.numpy(), np.maximum(frames.std(0), 0.01), rtol=1e-6, atol=1e-6
    )
    assert module.normalizer.std_floor == 0.01
    # DSG's choice, train + valid, is one option away and gives other statistics.
    both = make(fit_normalizer_on=["train", "val"])
    both.setup("fit")
    val = np.concatenate([rep.encode(s.motion)[:104] for s in both.source.sequences("val")])
    np.testing.assert_allclose(
        both.normalizer.mean.numpy(), np.concatenate([frames, val]).mean(0), rtol=1e-6, atol=1e-6
    )


def test_conditions_come_from_the_config(make):
    audio_only = make(conditions=["audio"])
    audio_only.setup("fit")
    assert set(audio_only.dataset("train")[0]["cond"]) == {"audio"}
    with pytest.raises(
        DatasetError, match="data.conditions names genre; this gesture dataset provides audio, style, seed"
    ):
        make(conditions=["audio", "genre"])
    with pytest.raises(
        DatasetError, match="data.provides names mood; a gesture dataset can provide audio, style"
    ):
        make(provides=["audio", "mood"])
    with pytest.raises(
        DatasetError, match="data.conditions names style; this gesture dataset provides audio$"
    ):
        make(conditions=["audio", "style"], provides=["audio"])


def test_option_errors(make, gesture_root):
    with pytest.raises(DatasetError, match=r"n_seed must be a whole number of frames in 1\.\.44"):
        make(n_seed=45)
    with pytest.raises(DatasetError, match=r"fit_normalizer_on must be \[train\] or \[train, val\]"):
        make(fit_normalizer_on=["val"])
    with pytest.raises(
        DatasetError, match="audio features run at 30 fps but the data is 20.0 fps; set features.fps=20"
    ):
        GestureDataModule(gesture_root, BaselineFeatures())
    dm = make()
    assert dm.style_one_hot("Old").tolist() == [0, 0, 0, 1, 0, 0]
    with pytest.raises(
        DatasetError, match="unknown style 'Bored' \\(known: Happy, Sad, Neutral, Old, Angry, Relaxed\\)"
    ):
        dm.style_one_hot("Bored")


def test_styles_none_uses_the_styles_of_the_data(make):
    dm = make(styles=None)
    dm.setup("fit")
    assert dm.styles == sorted(DSG_STYLES)
    item = dm.dataset("train")[0]
    assert item["cond"]["style"][dm.styles.index(item["style"])] == 1.0


def test_gesture_tiny_config_builds_the_datamodule(gesture_root, cache, tmp_path):
    cfg = compose_train(
        [
            "data=gesture_tiny",
            "model=dsg_tiny",  # the data provides the model's conditions: audio, style, seed
            "features=baseline20",
            f"data.source={gesture_root}",
            f"data.cache_dir={cache}",
            f"output_dir={tmp_path}",
        ]
    )
    OmegaConf.resolve(cfg)
    assert list(cfg.data.conditions) == ["audio", "style", "seed"] and cfg.data.fps == 20
    dm = instantiate(cfg.data)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["motion"].shape == (4, FRAMES, 1141) and batch["cond"]["seed"].shape == (4, 4, 1141)
    assert dm.describe()["splits"]["train"]["windows_built"] == len(dm.dataset("train"))
