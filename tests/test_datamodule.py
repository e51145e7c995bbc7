"""Normaliser (against sklearn), the datamodule (windows, features, normalisation, caching, seeding) and
``describe_dataset``."""

from __future__ import annotations

import io
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import soundfile as sf
import torch

from a2a.audio import BaselineFeatures, load_audio
from a2a.data.aistpp import AISTPPDataset
from a2a.data.datamodule import MotionDataModule, seed_worker
from a2a.data.describe import describe_dataset, format_description
from a2a.data.synthetic import synthesize
from a2a.errors import CheckpointError, DatasetError
from a2a.motion.normalizer import MinMaxNormalizer
from a2a.motion.representation import EdgeRepresentation

# --- normaliser ---------------------------------------------------------------------------------------


def test_normalizer_matches_sklearn() -> None:
    sklearn = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 7)) * [1, 2, 3, 4, 5, 6, 7] + 3
    x[:, 4] = 2.5  # constant channel: its range counts as 1, so scale = 2 / 1
    reference = sklearn.MinMaxScaler(feature_range=(-1, 1), clip=True).fit(x)
    norm = MinMaxNormalizer().fit(torch.from_numpy(x))
    np.testing.assert_allclose(norm.scale.numpy(), reference.scale_, rtol=1e-12)
    np.testing.assert_allclose(norm.min.numpy(), reference.min_, rtol=1e-12, atol=1e-12)
    assert norm.scale[4] == 2.0
    y = rng.normal(size=(30, 7)) * 10  # outside the fitted range: clipped
    np.testing.assert_allclose(norm.normalize(y), reference.transform(y), atol=1e-12)
    z = rng.uniform(-1.5, 1.5, size=(30, 7))
    np.testing.assert_allclose(norm.inverse(z), reference.inverse_transform(np.clip(z, -1, 1)), atol=1e-12)


def test_normalizer_hand_values_and_no_mutation() -> None:
    x = torch.tensor([[0.0, 10.0], [2.0, 30.0]])
    norm = MinMaxNormalizer().fit(x)
    np.testing.assert_allclose(norm.scale, [1.0, 0.1])  # 2 / range
    np.testing.assert_allclose(norm.min, [-1.0, -2.0])  # -1 - data_min · scale
    original = x.clone()
    out = norm.normalize(x)
    assert torch.equal(x, original) and out.data_ptr() != x.data_ptr()
    np.testing.assert_allclose(out, [[-1.0, -1.0], [1.0, 1.0]])
    back = norm.inverse(out)
    assert torch.equal(out, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]))
    np.testing.assert_allclose(back, x)
    # Last-C channels (EDGE: inverse of a 147-channel tensor with 151-channel statistics).
    np.testing.assert_allclose(norm.inverse(torch.tensor([[0.0]])), [[20.0]])
    with pytest.raises(DatasetError, match="fitted on 2 channels, got data with 1"):
        norm.normalize(torch.zeros(1, 1))


def test_normalizer_state_dict_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    norm = MinMaxNormalizer().fit(rng.normal(size=(50, 5)))
    torch.save({"normalizer": norm.state_dict()}, tmp_path / "n.pt")
    state = torch.load(tmp_path / "n.pt", weights_only=True)["normalizer"]
    again = MinMaxNormalizer.from_state_dict(state)
    y = torch.from_numpy(rng.normal(size=(4, 5)))
    assert torch.equal(again.normalize(y), norm.normalize(y))
    with pytest.raises(CheckpointError, match="lacks data_max, scale, min"):
        MinMaxNormalizer.from_state_dict({"data_min": state["data_min"]})


def test_partial_fit_equals_fit_and_unfitted_error() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20, 3)), rng.normal(size=(30, 3)) * 4
    whole = MinMaxNormalizer().fit(np.concatenate([a, b]))
    parts = MinMaxNormalizer().partial_fit(a).partial_fit(b)
    assert torch.equal(whole.scale, parts.scale) and torch.equal(whole.min, parts.min)
    with pytest.raises(DatasetError, match="not fitted"):
        MinMaxNormalizer().normalize(torch.zeros(2, 3))
    with pytest.raises(DatasetError, match="NaN"):
        MinMaxNormalizer().fit(np.array([[np.nan, 1.0]]))


# --- datamodule ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockFeatures:
    """A cheap extractor: column 0 is the frame's time in seconds, column 1 the waveform's RMS there."""

    fps: int = 30
    name: ClassVar[str] = "clock"
    calls: ClassVar[list[str]] = []

    @property
    def dim(self) -> int:
        return 2

    def config(self) -> dict:
        return {"name": self.name, "fps": self.fps}

    def for_file(self, source, *, num_frames=None, max_seconds=None) -> np.ndarray:
        wave, sr = load_audio(source, max_seconds=max_seconds)
        return self(wave, sr, num_frames=num_frames)

    def __call__(self, wave: np.ndarray, sr: int, *, num_frames=None) -> np.ndarray:
        ClockFeatures.calls.append("call")
        frames = 1 + len(wave) * self.fps // sr
        hop = sr // self.fps
        rms = [
            float(np.sqrt(np.mean(wave[i * hop : (i + 1) * hop] ** 2))) if i * hop < len(wave) else 0.0
            for i in range(frames)
        ]
        return np.stack([np.arange(frames) / self.fps, rms], axis=-1).astype(np.float32)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    # 6.5 s → 195 frames at 30 fps: train windows start at 0, 15, 30, 45; val/test at 0.
    return synthesize(tmp_path_factory.mktemp("data") / "syn", sequences=6, seconds=6.5, progress=False)


def make_dm(root: Path, **kwargs) -> MotionDataModule:
    kwargs.setdefault("batch_size", 4)
    return MotionDataModule(root, ClockFeatures(), progress=False, **kwargs)


def test_batches_link_motion_audio_and_names(synthetic: Path) -> None:
    dm = make_dm(synthetic)
    dm.setup("fit")
    assert (len(dm.dataset("train")), len(dm.dataset("val"))) == (12, 1)
    batch = next(iter(dm.train_dataloader()))
    assert batch["motion"].shape == (4, 150, 151) and batch["motion"].dtype == torch.float32
    assert batch["cond"]["audio"].shape == (4, 150, 2) and batch["cond"]["audio"].dtype == torch.float32
    assert batch["motion"].min() >= -1.0 and batch["motion"].max() <= 1.0
    assert len(batch["name"]) == 4 and isinstance(batch["name"][0], str)
    assert [dm.genres[i] for i in batch["genre_id"]] == batch["genre"]
    sequences = {s.name: s for s in AISTPPDataset(synthetic).sequences("train")}
    rep = EdgeRepresentation()
    for k in range(4):
        start = int(batch["start"][k])
        # The audio features are the song's, sliced to the same frames as the motion.
        audio = batch["cond"]["audio"][k, :, 0]
        np.testing.assert_allclose(audio, (start + np.arange(150)) / 30.0, atol=1e-5)
        # Un-normalising and decoding gives back the sequence's frames.
        motion = rep.decode_motion(dm.normalizer.inverse(batch["motion"][k].double()), fps=30.0)
        expected = sequences[batch["name"][k]].motion[start : start + 150]
        np.testing.assert_allclose(motion.joints(), expected.joints(), atol=1e-4)


def test_normalizer_fitted_on_train_only(synthetic: Path) -> None:
    dm = make_dm(synthetic)
    dm.setup("fit")
    rep = EdgeRepresentation()
    train = np.concatenate([rep.encode(s.motion)[:195] for s in AISTPPDataset(synthetic).sequences("train")])
    np.testing.assert_allclose(dm.normalizer.data_min, train.min(0), atol=1e-6)
    np.testing.assert_allclose(dm.normalizer.data_max, train.max(0), atol=1e-6)
    test = rep.encode(AISTPPDataset(synthetic).sequences("test")[0].motion)
    assert (test.min(0) < train.min(0) - 1e-3).any() or (test.max(0) > train.max(0) + 1e-3).any()
    state = dm.state_dict()
    assert set(state["normalizer"]) >= {"scale", "min"} and state["genres"] == dm.genres
    given = make_dm(synthetic, normalizer=MinMaxNormalizer().fit(np.zeros((2, 151))).state_dict())
    given.setup("test")
    assert torch.equal(given.normalizer.min, -torch.ones(151, dtype=torch.float64))
    assert "train" not in given._prepared  # a given normaliser needs no training split for testing


def test_order_is_deterministic_and_seeded(synthetic: Path) -> None:
    def first_batches(seed: int) -> list[tuple[str, int]]:
        dm = make_dm(synthetic, seed=seed)
        dm.setup("fit")
        return [
            (n, int(s)) for b in dm.train_dataloader() for n, s in zip(b["name"], b["start"], strict=True)
        ]

    a, b, c = first_batches(0), first_batches(0), first_batches(1)
    assert a == b and a != c and sorted(a) == sorted(c)
    dm = make_dm(synthetic)
    dm.setup("test")
    assert [int(s) for s in next(iter(dm.test_dataloader()))["start"]] == [0]


def test_seed_worker_seeds_numpy_and_random() -> None:
    torch.manual_seed(123)
    seed_worker(0)
    first = (np.random.rand(), random.random())
    torch.manual_seed(123)
    seed_worker(0)
    assert (np.random.rand(), random.random()) == first


def test_features_computed_once_and_cached(synthetic: Path, tmp_path: Path) -> None:
    ClockFeatures.calls.clear()
    dm = make_dm(synthetic, cache_dir=tmp_path / "cache")
    dm.prepare_data()
    dm.setup(None)
    assert len(ClockFeatures.calls) == 5  # one per song: 3 train + 1 val + 1 test (1 ignored)
    assert len(list((tmp_path / "cache").rglob("*.npy"))) == 5
    ClockFeatures.calls.clear()
    again = make_dm(synthetic, cache_dir=tmp_path / "cache")
    again.prepare_data()
    again.setup(None)
    assert ClockFeatures.calls == []
    assert torch.equal(again.dataset("train")[3]["cond"]["audio"], dm.dataset("train")[3]["cond"]["audio"])


def test_silent_wav_raises_or_is_skipped(synthetic: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(synthetic, tmp_path / "copy"))
    name = AISTPPDataset(root).names("train")[0]
    wav = root / "wavs" / f"{name}.wav"
    sf.write(wav, np.zeros(8000), 8000)
    with pytest.raises(DatasetError, match=rf"{name}\.wav: audio is silent"):
        make_dm(root).setup("fit")
    dm = make_dm(root, skip_bad=True)
    dm.setup("fit")
    assert [b.name for b in dm.bad] == [name] and "silent" in dm.bad[0].reason
    assert len(dm.dataset("train")) == 8
    assert dm.describe()["bad"][0]["name"] == name


def test_audio_bytes_sources_and_fps_check(synthetic: Path) -> None:
    source = AISTPPDataset(synthetic)
    sequences = source.sequences("train")
    for seq in sequences:
        seq.audio = Path(seq.audio).read_bytes()

    class BytesSource:
        root, bad, ignored = synthetic, [], []

        def split_names(self):
            return ["train"]

        def sequences(self, split, progress=False):
            return sequences

    dm = MotionDataModule(BytesSource(), ClockFeatures(), progress=False)
    dm.setup("fit")
    assert len(dm.dataset("train")) == 12 and len(dm.val_dataloader().dataset) == 0
    with pytest.raises(DatasetError, match="features run at 60 fps"):
        MotionDataModule(synthetic, ClockFeatures(fps=60))


def test_describe_dataset(synthetic: Path) -> None:
    info = describe_dataset(synthetic)
    assert info["splits"]["train"]["sequences"] == 3 and info["splits"]["train"]["windows"] == 12
    assert info["splits"]["test"]["windows"] == 1
    assert info["total"]["seconds"] == pytest.approx(5 * 6.5)
    assert info["ignored"] == 1 and info["bad"] == []
    assert sum(info["splits"]["train"]["genres"].values()) == 3
    text = format_description(info)
    assert "train" in text and "ignore list: 1" in text
    buf = io.StringIO()
    print(text, file=buf)
    assert buf.getvalue().count("\n") >= 6


@pytest.mark.slow
def test_baseline_features_with_two_workers(synthetic: Path, tmp_path: Path) -> None:
    dm = MotionDataModule(
        synthetic, BaselineFeatures(), cache_dir=tmp_path / "c", feature_workers=2, progress=False
    )
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["cond"]["audio"].shape == (12, 150, 35)
    beats = batch["cond"]["audio"][..., 34]
    assert set(beats.unique().tolist()) <= {0.0, 1.0} and beats.sum() > 0


def test_per_slice_features_equal_edge_extraction_of_each_slice(synthetic_root, tmp_path):
    """features.windowing=per_slice: each training window's features are EDGE's baseline extraction of
    that window's audio slice alone (data/slice.py + baseline_features.py)."""
    from a2a.audio import BaselineFeatures, extract_per_slice, load_audio
    from a2a.data.datamodule import MotionDataModule
    from a2a.data.naming import tempo_from_name

    extractor = BaselineFeatures()

    def per_slice_module() -> MotionDataModule:
        return MotionDataModule(
            synthetic_root,
            extractor,
            window_seconds=2.0,
            train_stride=0.5,
            test_stride=1.0,
            feature_windowing="per_slice",
            progress=False,
            cache_dir=tmp_path / "cache",
        )

    dm = per_slice_module()
    dm.setup("fit")
    train = dm.dataset("train")
    first = train.names[0]
    audio = next(s.audio for s in dm._load_sequences("train") if s.name == first)
    wave, sr = load_audio(audio)
    edge = extract_per_slice(
        wave, sr, extractor, window_s=2.0, stride_s=0.5, start_bpm=tempo_from_name(audio.name)
    )
    mine = [train[i]["cond"]["audio"].numpy() for i, (seq, _) in enumerate(train.windows) if seq == 0]
    assert len(mine) <= len(edge) and len(mine) >= 1
    for k, window in enumerate(mine):
        np.testing.assert_allclose(window, edge[k], atol=1e-6)
    # the cache keys the windowing: a second data module reads the same windows back
    again = per_slice_module()
    again.setup("fit")
    np.testing.assert_array_equal(again.dataset("train")[0]["cond"]["audio"].numpy(), mine[0])
