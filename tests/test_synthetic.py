"""The synthetic AIST++-layout dataset: layout, splits, determinism, music on tempo, motion on the beat."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy.signal import argrelextrema

from a2a.data.naming import GENRES, parse_sequence_name
from a2a.data.synthetic import GENERATOR_VERSION, beat_times, read_meta, synthesize
from a2a.errors import DatasetError
from a2a.motion import Motion

AISTPP_HELD_OUT_MUSIC = {"mBR0", "mPO1", "mLO2", "mMH3", "mLH4", "mHO5", "mWA0", "mKR2", "mJS3", "mJB5"}
KNEES, WRISTS, SHOULDERS = (4, 5), (20, 21), (16, 17)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return synthesize(tmp_path_factory.mktemp("synthetic") / "aistpp", 12, 8.0, seed=0, progress=False)


def read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def splits_of(root: Path) -> dict[str, list[str]]:
    return {s: read_lines(root / "splits" / f"crossmodal_{s}.txt") for s in ("train", "val", "test")}


def speed_minima(signal: np.ndarray) -> np.ndarray:
    """Frame times (in frames) of the strict local minima of a per-step speed ``[N - 1]``."""
    return argrelextrema(signal, np.less)[0] + 0.5  # step t → t+1 sits half a frame after frame t


def energy_rise(audio: np.ndarray, sr: int, times: np.ndarray, window: float = 0.01) -> np.ndarray:
    """Energy in the ``window`` seconds after each time over the energy in the window before it."""
    energy = np.cumsum(np.concatenate([[0.0], audio**2]))
    i, w = np.round(times * sr).astype(int), round(window * sr)
    return (energy[i + w] - energy[i]) / (energy[i] - energy[i - w] + 1e-12)


def fraction_near(events: np.ndarray, grid: np.ndarray, tolerance: float) -> float:
    return float((np.abs(events[:, None] - grid[None, :]).min(axis=1) <= tolerance).mean())


# --- layout ---------------------------------------------------------------------------------------


def test_layout_names_and_tempo_rule(dataset: Path) -> None:
    motions = sorted(p.stem for p in (dataset / "motions").glob("*.pkl"))
    wavs = sorted(p.stem for p in (dataset / "wavs").glob("*.wav"))
    assert len(motions) == 12 and motions == wavs
    assert sorted(name for names in splits_of(dataset).values() for name in names) == motions

    parsed = [parse_sequence_name(name) for name in motions]
    assert all(p.music[1:3] == p.genre and p.situation == "BM" and p.camera == "All" for p in parsed)
    counts = {g: sum(p.genre == g for p in parsed) for g in GENRES}
    assert counts == {g: 2 if g in ("BR", "PO") else 1 for g in GENRES}  # 12 cycle over 10 genres

    meta = read_meta(dataset)
    for name, p in zip(motions, parsed, strict=True):
        info = meta["sequence_info"][name]
        digit = int(p.music[3])
        assert info["bpm"] == p.tempo == (110 + 5 * digit if p.genre == "HO" else 80 + 10 * digit)
    assert meta["synthetic"] is True and meta["seed"] == 0 and meta["generator_version"] == GENERATOR_VERSION
    readme = (dataset / "README.md").read_text()
    assert "Synthetic" in readme and "seed 0" in readme and f"version {GENERATOR_VERSION}" in readme


def test_splits_are_disjoint_with_held_out_music(dataset: Path) -> None:
    splits = splits_of(dataset)
    assert {s: len(v) for s, v in splits.items()} == {"train": 8, "val": 2, "test": 2}
    train, held = set(splits["train"]), set(splits["val"]) | set(splits["test"])
    assert not train & held and not set(splits["val"]) & set(splits["test"])
    music = {s: {parse_sequence_name(n).music for n in names} for s, names in splits.items()}
    assert not music["train"] & (music["val"] | music["test"])
    assert music["val"] | music["test"] <= AISTPP_HELD_OUT_MUSIC

    ignored = read_lines(dataset / "ignore_list.txt")
    assert len(ignored) == 1 and ignored[0] in train
    assert (dataset / "motions" / f"{ignored[0]}.pkl").is_file()
    assert read_meta(dataset)["ignore_list"] == ignored


@pytest.mark.parametrize(
    ("sequences", "sizes", "ignored"),
    [(1, (1, 0, 0), 0), (2, (1, 0, 1), 0), (3, (1, 1, 1), 0), (5, (3, 1, 1), 0), (6, (4, 1, 1), 1)],
)
def test_split_sizes(tmp_path: Path, sequences: int, sizes: tuple[int, int, int], ignored: int) -> None:
    root = synthesize(tmp_path / "d", sequences, 1.0, progress=False)
    splits = splits_of(root)
    assert tuple(len(splits[s]) for s in ("train", "val", "test")) == sizes
    assert len(read_lines(root / "ignore_list.txt")) == ignored
    assert len({name for names in splits.values() for name in names}) == sequences  # names unique


# --- files ----------------------------------------------------------------------------------------


def test_motion_and_audio_files_match(dataset: Path) -> None:
    meta = read_meta(dataset)
    for name, info in meta["sequence_info"].items():
        with open(dataset / "motions" / f"{name}.pkl", "rb") as f:
            raw = pickle.load(f)
        assert raw["smpl_poses"].shape == (480, 72) and raw["smpl_poses"].dtype == np.float64
        assert raw["smpl_trans"].shape == (480, 3) and raw["smpl_trans"].dtype == np.float64
        scaling = float(raw["smpl_scaling"][0])
        assert raw["smpl_scaling"].shape == (1,) and scaling == info["smpl_scaling"]
        assert 80.0 <= scaling <= 100.0

        motion = Motion.from_aistpp_pkl(dataset / "motions" / f"{name}.pkl")
        assert motion.fps == 60 and motion.num_frames == 480 and motion.duration == 8.0
        np.testing.assert_allclose(motion.trans, raw["smpl_trans"] / scaling)
        pelvis_height = motion.trans[:, 1]  # metres after dividing by the scaling
        assert pelvis_height.min() >= 0.8 and pelvis_height.max() <= 1.05
        joints = motion.joints()
        lowest_foot = joints[:, [7, 8, 10, 11], 1].min(axis=1)
        assert lowest_foot.min() >= -0.03 and lowest_foot.max() <= 0.08  # standing on the floor, Y-up
        assert (joints[:, 15, 1] > joints[:, 0, 1] + 0.4).all()  # head above pelvis: upright
        angles = np.linalg.norm(motion.poses, axis=-1)
        assert angles[:, [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 15]].max() < 1.3  # legs, spine, head: moderate

        wav = sf.info(dataset / "wavs" / f"{name}.wav")
        assert (wav.channels, wav.samplerate, wav.subtype, wav.frames) == (1, 22050, "PCM_16", 176400)
        assert wav.frames / wav.samplerate == motion.duration
        audio, _ = sf.read(dataset / "wavs" / f"{name}.wav")
        assert 0.79 <= np.abs(audio).max() <= 0.801  # peak-normalised to 0.8


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    def contents(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    a = contents(synthesize(tmp_path / "a", 3, 2.0, seed=7, progress=False))
    b = contents(synthesize(tmp_path / "b", 3, 2.0, seed=7, progress=False))
    c = contents(synthesize(tmp_path / "c", 3, 2.0, seed=8, progress=False))
    assert len(a) == 3 + 3 + 3 + 3 and a == b
    assert a.keys() == c.keys()  # names and splits do not depend on the seed ...
    data = [k for k in a if k.startswith(("motions", "wavs"))]
    assert all(a[k] != c[k] for k in data)  # ... the motions and the music do


def test_regenerating_replaces_a_previous_synthetic_dataset(tmp_path: Path) -> None:
    root = synthesize(tmp_path / "nested" / "dir", 6, 1.0, progress=False)
    (root / "notes.txt").write_text("mine")
    synthesize(root, 3, 1.0, seed=1, progress=False)
    assert len(list((root / "motions").glob("*.pkl"))) == 3 and len(list((root / "wavs").iterdir())) == 3
    assert read_meta(root)["sequences"] == 3 and read_lines(root / "ignore_list.txt") == []
    assert (root / "notes.txt").read_text() == "mine"  # files the generator does not own stay
    assert sorted(p.name for p in root.parent.iterdir()) == ["dir"]  # no staging folder left behind


def test_refuses_to_mix_with_other_files(tmp_path: Path) -> None:
    foreign = tmp_path / "real_aistpp"
    foreign.mkdir()
    (foreign / "ignore_list.txt").write_text("gBR_sBM_cAll_d04_mBR0_ch08\n")
    with pytest.raises(DatasetError, match="not a synthetic dataset"):
        synthesize(foreign, 2, 1.0, progress=False)
    assert [p.name for p in foreign.iterdir()] == ["ignore_list.txt"]
    assert (foreign / "ignore_list.txt").read_text() == "gBR_sBM_cAll_d04_mBR0_ch08\n"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="not a folder"):
        synthesize(tmp_path / "file", 2, 1.0, progress=False)
    with pytest.raises(DatasetError, match="meta.json"):
        read_meta(foreign)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "real_aistpp"]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"sequences": 0}, "sequences"),
        ({"sequences": 2.5}, "sequences"),
        ({"sequences": 991}, "sequences"),
        ({"seconds": 0.5}, "seconds"),
        ({"seconds": math.nan}, "seconds"),
        ({"seconds": math.inf}, "seconds"),
        ({"seconds": "8"}, "seconds"),
        ({"seed": -1}, "seed"),
        ({"sr": 4000}, "sr"),
    ],
)
def test_bad_arguments_name_the_argument(tmp_path: Path, kwargs: dict, argument: str) -> None:
    with pytest.raises(DatasetError, match=rf"^{argument}\b"):
        synthesize(tmp_path / "out", **{"sequences": 2, "seconds": 1.0, "progress": False, **kwargs})
    assert not (tmp_path / "out").exists()


def test_progress_bar_can_be_silenced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    synthesize(tmp_path / "quiet", 1, 1.0, progress=False)
    assert capsys.readouterr().err == ""
    synthesize(tmp_path / "loud", 1, 1.0, progress=True)
    assert "synthetic AIST++" in capsys.readouterr().err


# --- beats ----------------------------------------------------------------------------------------


def test_beat_times() -> None:
    np.testing.assert_allclose(beat_times("gBR_sBM_cAll_d04_mBR0_ch01", 3.0), [0.0, 0.75, 1.5, 2.25])
    np.testing.assert_allclose(beat_times("mHO2", 2.0, offset=0.1), [0.1, 0.6, 1.1, 1.6])  # 120 BPM
    np.testing.assert_allclose(beat_times(100.0, 1.2), [0.0, 0.6])  # a beat at the very end is left out
    assert beat_times(120.0, 0.0).size == 0
    with pytest.raises(DatasetError, match="not an AIST"):
        beat_times("song", 1.0)
    with pytest.raises(DatasetError, match="tempo"):
        beat_times(0.0, 1.0)
    with pytest.raises(DatasetError, match="offset"):
        beat_times(90.0, 1.0, offset=-0.1)


def test_meta_beat_times_follow_the_tempo(dataset: Path) -> None:
    for name, info in read_meta(dataset)["sequence_info"].items():
        period = 60.0 / info["bpm"]
        assert 0.0 <= info["beat_offset"] < period / 2
        np.testing.assert_array_equal(info["beat_times"], beat_times(name, 8.0, info["beat_offset"]))
        assert len(info["beat_times"]) == math.ceil((8.0 - info["beat_offset"]) / period)


def test_music_onsets_sit_exactly_on_the_beat_grid(dataset: Path) -> None:
    for name, info in read_meta(dataset)["sequence_info"].items():
        audio, sr = sf.read(dataset / "wavs" / f"{name}.wav")
        first_sound = int(np.flatnonzero(audio)[0])
        start = info["beat_offset"] * sr
        assert start <= first_sound <= start + 2  # silence before beat 0, sound right at it
        # Every beat starts a sound: the 10 ms after it are much louder than the 10 ms before it. A
        # sixteenth note later nothing starts (all events sit on the eighth-note grid).
        period = 60.0 / info["bpm"]
        beats = np.array([t for t in info["beat_times"] if 0.02 < t < 7.9])
        assert energy_rise(audio, sr, beats).min() > 3.0
        assert np.median(energy_rise(audio, sr, beats + period / 4)) < 1.5


def test_librosa_recovers_the_tempo(dataset: Path) -> None:
    for name, info in read_meta(dataset)["sequence_info"].items():
        audio, sr = sf.read(dataset / "wavs" / f"{name}.wav")
        tempo, beats = librosa.beat.beat_track(y=audio, sr=sr, units="time")
        assert abs(float(np.atleast_1d(tempo)[0]) / info["bpm"] - 1.0) < 0.04, name
        # Tracked beats land on the grid (librosa's hop of 512 samples ≈ 23 ms sets the tolerance).
        assert fraction_near(beats, np.array(info["beat_times"]), 0.05) >= 0.9, name


# --- motion ---------------------------------------------------------------------------------------


def test_motion_speed_minima_land_on_beats(dataset: Path) -> None:
    aligned, shifted, counts = [], [], []
    for name, info in read_meta(dataset)["sequence_info"].items():
        joints = Motion.from_aistpp_pkl(dataset / "motions" / f"{name}.pkl").joints()
        speed = np.linalg.norm(np.diff(joints, axis=0), axis=-1)  # [N - 1, 24] metres per frame
        beats = np.array(info["beat_times"]) * 60.0  # in frames
        half_beat_later = beats + 30.0 / info["bpm"] * 60.0
        for signal in (speed[:, KNEES[0]], speed[:, KNEES[1]], speed[:, WRISTS[0]], speed[:, WRISTS[1]]):
            minima = speed_minima(signal)
            aligned.append(fraction_near(minima, beats, 2.0))
            shifted.append(fraction_near(minima, half_beat_later, 2.0))
        minima = speed_minima(speed.mean(axis=1))  # the kinetic signal beat-alignment scores use
        inside = beats[(beats > 1) & (beats < len(speed) - 1)]
        counts.append((len(minima), len(inside)))
        assert fraction_near(minima, beats, 1.0) == 1.0, name
    assert np.mean(aligned) > 0.95 and min(aligned) >= 0.9
    assert np.mean(shifted) < 0.1
    assert all(found == expected for found, expected in counts)  # one stop per beat, none between


def test_genres_differ_in_style(dataset: Path) -> None:
    knee, arm_height = {}, {}
    for name in read_meta(dataset)["sequence_info"]:
        motion = Motion.from_aistpp_pkl(dataset / "motions" / f"{name}.pkl")
        joints = motion.joints()
        knee[name] = float(np.linalg.norm(motion.poses[:, KNEES], axis=-1).mean())
        arm_height[name] = float(np.percentile(joints[:, WRISTS, 1] - joints[:, SHOULDERS, 1], 95))

    def by_genre(values: dict[str, float], genre: str) -> list[float]:
        return [v for n, v in values.items() if n.startswith(f"g{genre}_")]

    deep = by_genre(knee, "BR") + by_genre(knee, "KR")
    light = by_genre(knee, "JB") + by_genre(knee, "WA")
    assert min(deep) > 1.5 * max(light)  # Break and Krump dance low, Ballet Jazz and Waack upright
    waack = by_genre(arm_height, "WA")[0]
    assert all(waack > h + 0.1 for n, h in arm_height.items() if not n.startswith("gWA_"))  # hands high
    # Two Break dancers share the style but not the moves.
    first, second = (Motion.from_aistpp_pkl(dataset / "motions" / f"{n}.pkl") for n in sorted(knee)[:2])
    assert sorted(knee)[0].startswith("gBR_") and sorted(knee)[1].startswith("gBR_")
    assert np.abs(first.poses - second.poses).max() > 0.1
