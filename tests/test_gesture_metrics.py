"""Gesture metrics: windows, the FGD autoencoder and FGD, the style classifier, beat consistency, and the
two training commands. Networks are tiny (a few hundred steps at most) so every test takes seconds."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from a2a.cli import main
from a2a.errors import A2AError, AudioError, CheckpointError, DatasetError
from a2a.metrics.dance import diversity as dance_diversity
from a2a.metrics.dance import fid
from a2a.metrics.fgd import FGDEncoder, diversity, fgd, load_fgd_encoder, train_fgd_encoder
from a2a.metrics.gesture_beats import (
    beat_consistency,
    gesture_beats,
    joint_speeds,
    mean_joint_speed,
    speech_onsets,
)
from a2a.metrics.motion_windows import WindowSpec, read_joint_clips, window_statistics
from a2a.metrics.style import (
    accuracy,
    confusion_matrix,
    load_style_classifier,
    style_accuracy,
    train_style_classifier,
)

FPS = 30.0
TINY = {"channels": 8, "hidden": 32}
STYLES = ("big", "calm", "fast")


def gesture_clips(
    rng: np.random.Generator, count: int, frames: int = 96, joints: int = 3
) -> list[np.ndarray]:
    """Root at a random place plus per-joint sines of one shared frequency (a low-dimensional motion)."""
    t = np.arange(frames) / FPS
    clips = []
    for _ in range(count):
        frequency = rng.uniform(0.6, 1.4)
        amplitude = rng.uniform(0.05, 0.2, size=(joints, 3))
        phase = rng.uniform(0, 2 * np.pi)
        clip = amplitude * np.sin(2 * np.pi * frequency * t[:, None, None] + phase)
        clips.append(clip + rng.normal(size=3))  # a global offset, removed by the root-relative windows
    return clips


def style_clips(
    rng: np.random.Generator, per_style: int, frames: int = 90
) -> tuple[list[np.ndarray], list[str]]:
    """Three styles: 'calm' (small, 1 Hz), 'big' (3× the amplitude), 'fast' (small, 2.5 Hz)."""
    t = np.arange(frames) / FPS
    clips, styles = [], []
    for index in range(3 * per_style):
        style = STYLES[index % 3]
        amplitude = (0.15 if style == "big" else 0.05) * rng.uniform(0.8, 1.2)
        frequency = (2.5 if style == "fast" else 1.0) * rng.uniform(0.9, 1.1)
        phase = rng.uniform(0, 2 * np.pi, size=(4, 3))
        motion = amplitude * np.sin(2 * np.pi * frequency * t[:, None, None] + phase)
        clips.append(motion + rng.normal(scale=0.005, size=motion.shape))
        styles.append(style)
    return clips, styles


@pytest.fixture(scope="module")
def encoder_and_data() -> tuple[FGDEncoder, list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    train, test = gesture_clips(rng, 16), gesture_clips(rng, 16)
    encoder = train_fgd_encoder(train, FPS, window=16, steps=60, lr=2e-3, latent=6, batch_size=32, **TINY)
    return encoder, train, test


# --- windows --------------------------------------------------------------------------------------------


def test_windows_are_cut_root_relative_with_every_full_window():
    joints = np.arange(40 * 2 * 3, dtype=np.float64).reshape(40, 2, 3)
    spec = WindowSpec(num_joints=2, window=16, stride=8, fps=FPS, root=0)
    windows = spec.cut(joints)
    assert windows.shape == (4, 16, 2, 3)  # starts 0, 8, 16, 24: the window ending at frame 39 is kept
    assert np.all(windows[:, :, 0] == 0)
    np.testing.assert_array_equal(windows[:, :, 1], np.full((4, 16, 3), 3.0))  # joint 1 − joint 0
    world = WindowSpec(num_joints=2, window=16, stride=8, fps=FPS, root=None).cut(joints)
    np.testing.assert_array_equal(world[3, 0], joints[24])
    assert spec.cut(joints[:15]).shape == (0, 16, 2, 3)
    assert spec.cut_all([joints, joints[:20]]).shape == (5, 16, 2, 3)


def test_window_spec_rejects_bad_values():
    with pytest.raises(A2AError, match="window must be at least 12 frames, got 8"):
        WindowSpec(num_joints=2, window=8, stride=4, fps=FPS)
    with pytest.raises(A2AError, match="root joint 5 is out of range for 2 joints"):
        WindowSpec(num_joints=2, window=16, stride=4, fps=FPS, root=5)
    spec = WindowSpec(num_joints=3, window=16, stride=4, fps=FPS)
    with pytest.raises(A2AError, match=r"^expects 3 joints, 16-frame windows at 30 fps, got 2 joints$"):
        spec.cut(np.zeros((20, 2, 3)))
    with pytest.raises(A2AError, match=r"^clips\[1\]: expects 3 joints, .*, got 2 joints$"):
        spec.cut_all([np.zeros((20, 3, 3)), np.zeros((20, 2, 3))])


def test_window_statistics_floor_constant_coordinates():
    windows = np.zeros((2, 12, 2, 3))
    windows[0, :, 1, 0] = 1.0  # x of joint 1: values 1 and 0 → std 0.5; everything else constant
    mean, std = window_statistics(windows)
    assert mean[3] == pytest.approx(0.5) and std[3] == pytest.approx(0.5)
    np.testing.assert_allclose(np.delete(std, 3), 0.005)  # floored at 1 % of the largest std
    assert np.all(window_statistics(np.zeros((2, 12, 1, 3)))[1] == 1.0)


# --- FGD ------------------------------------------------------------------------------------------------


def test_fgd_of_a_set_with_itself_is_zero(encoder_and_data):
    encoder, _, test = encoder_and_data
    features = encoder.features(test)
    assert features.shape == (16 * 11, 6)  # 96 frames → 11 windows of 16 at stride 8
    assert abs(fgd(features, features)) < 1e-9


def test_fgd_grows_with_noise_and_is_symmetric(encoder_and_data):
    encoder, _, test = encoder_and_data
    real = encoder.features(test)
    rng = np.random.default_rng(1)
    scores = []
    for scale in (0.0, 0.01, 0.03, 0.1):
        noisy = [clip + rng.normal(scale=scale, size=clip.shape) for clip in test]
        generated = encoder.features(noisy)
        scores.append(fgd(real, generated))
        assert fgd(real, generated) == pytest.approx(fgd(generated, real), rel=1e-6, abs=1e-9)
        assert fgd(real, generated) == fid(generated, real)
    assert scores[0] == pytest.approx(0.0, abs=1e-9)
    assert all(a < b for a, b in itertools.pairwise(scores)), scores
    assert scores[-1] > 100 * scores[1]


def test_diversity_is_the_mean_pairwise_latent_distance(encoder_and_data):
    encoder, _, test = encoder_and_data
    features = encoder.features(test[:3])
    assert diversity is dance_diversity
    by_hand = np.mean([np.linalg.norm(a - b) for i, a in enumerate(features) for b in features[i + 1 :]])
    assert diversity(features) == pytest.approx(by_hand, rel=1e-12)


def test_training_reduces_the_reconstruction_loss():
    rng = np.random.default_rng(2)
    clips = gesture_clips(rng, 12)
    kwargs = {"window": 16, "lr": 3e-3, "latent": 6, "batch_size": 32, "seed": 3, **TINY}
    untrained = train_fgd_encoder(clips, FPS, steps=0, **kwargs)
    trained = train_fgd_encoder(clips, FPS, steps=150, **kwargs)
    windows = trained.windows(clips)
    before, after = untrained.reconstruction_loss(windows), trained.reconstruction_loss(windows)
    assert after < 0.75 * before, (before, after)


def test_training_is_deterministic_for_a_seed():
    clips = gesture_clips(np.random.default_rng(4), 6)
    kwargs = {"window": 16, "steps": 10, "latent": 4, "batch_size": 8, **TINY}
    first = train_fgd_encoder(clips, FPS, seed=7, **kwargs)
    again = train_fgd_encoder(clips, FPS, seed=7, **kwargs)
    other = train_fgd_encoder(clips, FPS, seed=8, **kwargs)
    state, state_again = first.net.state_dict(), again.net.state_dict()
    assert all(torch.equal(state[k], state_again[k]) for k in state)
    np.testing.assert_array_equal(first.features(clips), again.features(clips))
    assert not np.allclose(first.features(clips), other.features(clips))


def test_save_load_round_trip_is_weights_only(encoder_and_data, tmp_path):
    encoder, _, test = encoder_and_data
    path = encoder.save(tmp_path / "sub" / "fgd.pt")
    raw = torch.load(path, weights_only=True)  # plain dicts, lists, numbers, strings and tensors
    assert raw["a2a_metric_net"]["kind"] == "fgd_encoder"
    assert raw["spec"] == {"num_joints": 3, "window": 16, "stride": 8, "fps": 30.0, "root": 0}
    loaded = load_fgd_encoder(path, num_joints=3, window=16, fps=30)
    np.testing.assert_array_equal(loaded.features(test), encoder.features(test))
    assert loaded.size == encoder.size and loaded.spec == encoder.spec
    assert not list(tmp_path.joinpath("sub").glob("*.tmp"))


def test_loading_refuses_data_that_does_not_match(encoder_and_data, tmp_path):
    encoder, _, _ = encoder_and_data
    path = encoder.save(tmp_path / "fgd.pt")
    with pytest.raises(A2AError) as caught:
        load_fgd_encoder(path, num_joints=75)
    assert str(caught.value) == f"{path}: trained on 3 joints, 16-frame windows at 30 fps, got 75 joints"
    with pytest.raises(A2AError, match=r"got 34-frame windows, 60 fps$"):
        load_fgd_encoder(path, window=34, fps=60)
    loaded = load_fgd_encoder(path)
    with pytest.raises(A2AError, match=r"fgd.pt: trained on 3 joints, .*, got 24 joints$"):
        loaded.encode(np.zeros((2, 16, 24, 3)))
    with pytest.raises(A2AError, match=r"fgd.pt: clips\[0\]: expects 3 joints, .*, got 24 joints$"):
        loaded.features([np.zeros((40, 24, 3))])


def test_loading_refuses_other_files(encoder_and_data, tmp_path):
    encoder, _, _ = encoder_and_data
    with pytest.raises(CheckpointError, match="no such file"):
        load_fgd_encoder(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable weights-only file"):
        load_fgd_encoder(garbage)
    pickled = tmp_path / "module.pt"
    torch.save(encoder.net, pickled)  # a pickled class: weights-only loading refuses it
    with pytest.raises(CheckpointError, match="not a readable weights-only file"):
        load_fgd_encoder(pickled)
    classifier = train_style_classifier(
        [np.zeros((20, 3, 3)), np.ones((20, 3, 3))], ["a", "b"], FPS, window=16, steps=0, **TINY
    )
    other = classifier.save(tmp_path / "style.pt")
    with pytest.raises(CheckpointError, match="holds a 'style_classifier' network, not a 'fgd_encoder' one"):
        load_fgd_encoder(other)
    resized = tmp_path / "resized.pt"
    raw = torch.load(encoder.save(tmp_path / "fgd.pt"), weights_only=True)
    raw["size"]["latent"] = 7
    torch.save(raw, resized)
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_fgd_encoder(resized)


def test_training_needs_two_windows():
    with pytest.raises(A2AError, match=r"needs at least 2 training windows of 16 frames, got 1 \(a clip"):
        train_fgd_encoder([np.zeros((16, 3, 3))], FPS, window=16, steps=1, **TINY)


# --- style accuracy -------------------------------------------------------------------------------------


def test_style_classifier_beats_chance_on_held_out_clips():
    rng = np.random.default_rng(5)
    train_clips, train_styles = style_clips(rng, 8)
    test_clips, test_styles = style_clips(rng, 5)
    classifier = train_style_classifier(
        train_clips, train_styles, FPS, window=16, steps=80, lr=2e-3, batch_size=32, seed=0, **TINY
    )
    assert classifier.styles == sorted(STYLES)
    windows = classifier.windows(test_clips)
    labels = np.repeat(test_styles, [classifier.spec.count(len(clip)) for clip in test_clips])
    assert len(labels) == len(windows) == 15 * 10  # 90 frames → 10 windows of 16 at stride 8
    score = style_accuracy(classifier, windows, labels)
    assert score > 0.6, score  # chance: 1/3
    ids = classifier.label_ids(labels)
    matrix = confusion_matrix(ids, classifier.predict(windows), 3)
    assert matrix.sum() == len(windows) and np.trace(matrix) / matrix.sum() == pytest.approx(score)


def test_accuracy_and_confusion_matrix_by_hand():
    labels = np.array([0, 0, 1, 2, 2, 2])
    assert accuracy(labels, labels) == 1.0
    assert accuracy([0, 1, 1, 2], [0, 1, 2, 2]) == 0.75
    predicted = np.array([0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(confusion_matrix(labels, predicted, 3), [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    with pytest.raises(A2AError, match="predicted has ids outside 0..1"):
        confusion_matrix([0, 1], [0, 2], 2)
    with pytest.raises(A2AError, match="needs equal, non-empty shapes"):
        accuracy([], [])


def test_style_classifier_is_deterministic_saves_and_names_unknown_styles(tmp_path):
    clips, styles = style_clips(np.random.default_rng(6), 2)
    kwargs = {"window": 16, "steps": 10, "batch_size": 8, **TINY}
    first = train_style_classifier(clips, styles, FPS, seed=1, **kwargs)
    again = train_style_classifier(clips, styles, FPS, seed=1, **kwargs)
    other = train_style_classifier(clips, styles, FPS, seed=2, **kwargs)
    windows = first.windows(clips)
    np.testing.assert_array_equal(first.logits(windows), again.logits(windows))
    assert not np.allclose(first.logits(windows), other.logits(windows))
    loaded = load_style_classifier(first.save(tmp_path / "style.pt"), num_joints=4, window=16, fps=FPS)
    assert loaded.styles == ["big", "calm", "fast"]
    np.testing.assert_array_equal(loaded.logits(windows), first.logits(windows))
    np.testing.assert_array_equal(loaded.label_ids(["fast", "big"]), [2, 0])
    with pytest.raises(A2AError) as caught:
        style_accuracy(loaded, windows[:1], ["Happy"])
    assert str(caught.value) == f"unknown style 'Happy'; {tmp_path / 'style.pt'} knows big, calm, fast"
    with pytest.raises(A2AError, match="class id 3 out of range for 3 styles"):
        loaded.label_ids(np.array([3]))


# --- beat consistency -----------------------------------------------------------------------------------


def sine_joint(fps: float, seconds: float = 4.0) -> np.ndarray:
    """Joint 0 still, joint 1 swinging along x with period 2 s: it stops (speed 0) at 0.5, 1.5, 2.5, 3.5 s."""
    t = np.arange(round(seconds * fps)) / fps
    joints = np.zeros((len(t), 2, 3))
    joints[:, 1, 0] = 0.2 * np.sin(np.pi * t)
    return joints


def test_motion_beats_are_the_stops_of_a_sine_at_any_frame_rate():
    for fps in (30.0, 60.0):
        beats = gesture_beats(sine_joint(fps), fps, joint_indices=[1])
        np.testing.assert_allclose(beats[0], [0.5, 1.5, 2.5, 3.5])
    assert gesture_beats(sine_joint(60.0), 60.0)[0].size == 0  # the still joint has no beats


def test_beat_consistency_by_hand_in_both_directions():
    joints, onsets = sine_joint(60.0), np.array([0.5, 1.6, 2.5, 9.0])  # 9 s lies after the motion: dropped
    near = math.exp(-(0.1**2) / (2 * 0.3**2))
    far = math.exp(-(1.0**2) / (2 * 0.3**2))  # the beat at 3.5 s is 1 s from the onset at 2.5 s
    assert beat_consistency(joints, onsets, 60.0, joint_indices=[1]) == pytest.approx((2 + near) / 3)
    assert beat_consistency(joints, onsets, 60.0, joint_indices=[1], direction="motion") == pytest.approx(
        (2 + near + far) / 4
    )
    # Averaged over joints: the still joint scores 0.
    assert beat_consistency(joints, onsets, 60.0) == pytest.approx((2 + near) / 6)
    assert beat_consistency(joints, onsets, 60.0, joint_indices=[1], sigma=0.1) == pytest.approx(
        (2 + math.exp(-0.5)) / 3
    )


def test_min_speed_drops_minima_where_the_joint_does_not_slow_down():
    fps = 60.0
    joints = sine_joint(fps)
    t = np.arange(len(joints)) / fps
    joints[:, 1, 1] = np.where(t > 2.0, 0.3 * (t - 2.0), 0.0)  # drifts along y from 2 s: stops vanish
    keep_all = gesture_beats(joints, fps, joint_indices=[1])[0]
    moving_only = gesture_beats(joints, fps, joint_indices=[1], min_speed=0.1)[0]
    np.testing.assert_allclose(keep_all, [0.5, 1.5, 2.5, 3.5], atol=1 / fps)
    np.testing.assert_allclose(moving_only, [2.5, 3.5], atol=1 / fps)
    speeds = joint_speeds(joints, fps)[:, 1]
    assert speeds[round(2.5 * fps)] / speeds.mean() > 0.1 > speeds[30] / speeds.mean()


def test_joint_speeds_and_training_mean_speed():
    t = np.arange(10) / 30.0
    walk = np.zeros((10, 2, 3))
    walk[:, 1] = np.outer(t, [0.3, 0.4, 0.0])  # 0.5 m/s
    np.testing.assert_allclose(joint_speeds(walk, 30.0), np.tile([0.0, 0.5], (10, 1)), atol=1e-12)
    np.testing.assert_allclose(mean_joint_speed([walk, 2 * walk[:5]], 30.0), [0.0, 2 / 3], atol=1e-12)
    # A reference speed halves or doubles what min_speed means.
    joints = sine_joint(60.0)
    mean = joint_speeds(joints, 60.0).mean(axis=0)
    assert gesture_beats(joints, 60.0, joint_indices=[1], mean_speed=mean)[0].size == 4


def test_beat_consistency_errors():
    joints = sine_joint(30.0)
    with pytest.raises(A2AError, match=r"no onset falls inside the motion \(1 onsets given, motion spans"):
        beat_consistency(joints, [10.0], 30.0)
    with pytest.raises(A2AError, match="direction must be 'onsets' or 'motion'"):
        beat_consistency(joints, [1.0], 30.0, direction="audio")
    with pytest.raises(A2AError, match=r"joint_indices \[2\] out of range for 2 joints"):
        beat_consistency(joints, [1.0], 30.0, joint_indices=[2])


def test_speech_onsets_find_syllable_bursts():
    rate = 16000
    rng = np.random.default_rng(7)
    audio = np.zeros(2 * rate, dtype=np.float32)
    starts = np.array([0.4, 0.9, 1.4])
    envelope = np.exp(-np.arange(2400) / 600) * np.minimum(1, np.arange(2400) / 80)  # 5-ms attack
    for start in starts:
        begin = round(start * rate)
        audio[begin : begin + 2400] += (rng.normal(size=2400) * envelope).astype(np.float32)
    onsets = speech_onsets(audio, rate)
    # At 16 kHz / hop 512 librosa's peak-picking windows round to one frame, so a burst may give two
    # onsets 32 ms apart (EMAGE's setting too); each lies within two hops of a burst, each burst has one.
    distance = np.abs(onsets[:, None] - starts[None, :])
    assert np.all(distance.min(axis=1) < 0.07) and np.all(distance.min(axis=0) < 0.07), onsets
    with pytest.raises(AudioError, match=r"expected mono samples of shape \[S\], got \(2, 5\)"):
        speech_onsets(np.zeros((2, 5)), rate)


# --- the training commands ------------------------------------------------------------------------------


def _write_clips(folder: Path, clips: list[np.ndarray], styles: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, clip in enumerate(clips):
        extra = {"style": np.array(styles[index])} if styles else {}
        np.savez(folder / f"clip{index:02d}.npz", joints=clip, fps=np.array(FPS), **extra)
    return folder


def test_train_fgd_encoder_command(tmp_path, capsys):
    data = _write_clips(tmp_path / "data", gesture_clips(np.random.default_rng(8), 4))
    out = tmp_path / "fgd.pt"
    args = ["train-fgd-encoder", str(data), str(out), "--window", "16", "--steps", "3", "--latent", "4"]
    assert main([*args, "--channels", "4", "--hidden", "8", "--batch-size", "8"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(
        f"wrote {out}: FGD encoder for 3 joints, 16-frame windows at 30 fps, 44 windows"
    )
    encoder = load_fgd_encoder(out, num_joints=3, window=16, fps=FPS)
    assert encoder.latent == 4 and encoder.spec.stride == 8


def test_train_style_classifier_command(tmp_path, capsys):
    clips, styles = style_clips(np.random.default_rng(9), 1)
    data = _write_clips(tmp_path / "data", clips, styles)
    out = tmp_path / "style.pt"
    args = ["train-style-classifier", str(data), str(out), "--window", "16", "--steps", "2", "--root", "none"]
    assert main([*args, "--channels", "4", "--hidden", "8"]) == 0
    assert (
        "styles big, calm, fast, 30 windows from 3 clips, 2 steps, training accuracy"
        in capsys.readouterr().out
    )
    classifier = load_style_classifier(out)
    assert classifier.spec.root is None and classifier.styles == ["big", "calm", "fast"]


def test_training_commands_report_bad_data_in_one_line(tmp_path, capsys):
    clips = gesture_clips(np.random.default_rng(10), 2)
    data = _write_clips(tmp_path / "data", [clips[0], clips[1][:, :2]])
    assert main(["train-fgd-encoder", str(data), str(tmp_path / "x.pt")]) == 2
    error = capsys.readouterr().err
    assert error == f"a2a train-fgd-encoder: error: {data / 'clip01.npz'}: 2 joints, but clip00.npz has 3\n"
    assert main(["train-style-classifier", str(data), str(tmp_path / "x.pt")]) == 2
    assert "clip00.npz: missing style (has joints, fps)" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_read_joint_clips_checks_files(tmp_path):
    with pytest.raises(DatasetError, match=r"no .npz files \(nor .bvh takes of a gesture dataset\) in this"):
        read_joint_clips(tmp_path)
    np.savez(tmp_path / "a.npz", joints=np.zeros((5, 2, 3)), fps=np.array([30.0, 60.0]))
    with pytest.raises(DatasetError, match=r"a.npz: fps must be one number, got float64 of shape \(2,\)"):
        read_joint_clips(tmp_path)
    np.save(tmp_path / "b.npy", np.zeros(3))
    (tmp_path / "b.npy").rename(tmp_path / "a.npz")
    with pytest.raises(DatasetError, match="a single array, not an .npz archive"):
        read_joint_clips(tmp_path / "a.npz")


def test_training_commands_read_a_gesture_dataset_folder(gesture_root, tmp_path, capsys):
    """The README's commands on the ZEGGS-layout folder itself: its train takes, at 20 fps, with styles."""
    clips = read_joint_clips(gesture_root, need_style=True)
    assert clips.fps == 20.0 and all(c.shape[1:] == (75, 3) for c in clips.clips)
    assert set(clips.styles) == {"Happy", "Sad", "Neutral", "Old", "Angry", "Relaxed"}
    out = tmp_path / "style.pt"
    args = ["train-style-classifier", str(gesture_root), str(out), "--window", "16", "--steps", "2"]
    assert main([*args, "--channels", "4", "--hidden", "8"]) == 0
    assert f"from {len(clips.clips)} clips" in capsys.readouterr().out
    assert load_style_classifier(out).styles == sorted(set(clips.styles))
