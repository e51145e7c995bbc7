"""EDGE's editing through the generator and `a2a generate`: the kept part equals the input exactly, the rest
is generated (and moves)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

import a2a
from a2a import editing
from a2a.cli import main as cli
from a2a.errors import A2AError
from a2a.motion import Motion
from a2a.motion.rotations import axis_angle_to_matrix

SR = 22050


def _song(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + (np.sin(2 * np.pi * 2 * t) > 0.9))).astype(np.float32)


@pytest.fixture(scope="module")
def source_motion(synthetic_root) -> Motion:
    """A training dance (inside the normaliser's range, so every kept value survives exactly), 30 fps."""
    path = sorted((synthetic_root / "motions").glob("*.pkl"))[0]
    return Motion.load(path).resample(30.0)


def _rot(motion: Motion, joints: list[int]) -> np.ndarray:
    return axis_angle_to_matrix(motion.poses[:, joints])


def _index(names) -> list[int]:
    return [a2a.motion.SMPL_JOINT_NAMES.index(n) for n in names]


def test_keep_lower_body_generates_the_upper_body(tiny_checkpoint, source_motion):
    gen = a2a.load(tiny_checkpoint)
    frames = 75  # 2.5 s: two windows
    edit = editing.keep_joints(source_motion[:frames], "lower_body")
    out = gen.generate(_song(2.5), sr=SR, seed=0, edit=edit)
    lower, upper = _index(editing.LOWER_BODY), _index(editing.UPPER_BODY)
    np.testing.assert_allclose(_rot(out, lower), _rot(source_motion[:frames], lower), atol=1e-6)
    np.testing.assert_allclose(out.trans, source_motion.trans[:frames], atol=1e-6)
    assert np.abs(_rot(out, upper) - _rot(source_motion[:frames], upper)).max() > 0.1  # generated
    assert _rot(out, upper).std(axis=0).max() > 1e-3  # and it moves


def test_prefix_and_inbetween_keep_their_frames(tiny_checkpoint, source_motion):
    gen = a2a.load(tiny_checkpoint)
    wave = _song(3.0)  # 90 frames
    head = source_motion[:20]
    out = gen.generate(wave, sr=SR, seed=1, edit=editing.prefix(head))
    np.testing.assert_allclose(
        axis_angle_to_matrix(out.poses[:20]), axis_angle_to_matrix(head.poses), atol=1e-6
    )
    np.testing.assert_allclose(out.trans[:20], head.trans, atol=1e-6)
    rest = out.joints()[20:]
    assert np.linalg.norm(rest[1:] - rest[:-1], axis=-1).mean() > 1e-4  # the continuation moves

    start, end = source_motion[:15], source_motion[100:115]
    out = gen.generate(wave, sr=SR, seed=1, edit=editing.inbetween(start, end, 90))
    np.testing.assert_allclose(out.trans[:15], start.trans, atol=1e-6)
    np.testing.assert_allclose(out.trans[75:], end.trans, atol=1e-6)
    np.testing.assert_allclose(
        axis_angle_to_matrix(out.poses[75:]), axis_angle_to_matrix(end.poses), atol=1e-6
    )
    gap = out.joints()[15:75]
    assert np.linalg.norm(gap[1:] - gap[:-1], axis=-1).mean() > 1e-4


def test_edits_refuse_what_cannot_be_kept(tiny_checkpoint, source_motion):
    gen = a2a.load(tiny_checkpoint)
    with pytest.raises(A2AError, match="past the music's 30 frames"):
        gen.generate(_song(1.0), sr=SR, edit=editing.prefix(source_motion[:40]))
    with pytest.raises(A2AError, match="60 fps but the model runs at 30"):
        gen.generate(_song(1.0), sr=SR, edit=editing.prefix(source_motion[:10].resample(60.0)))
    with pytest.raises(A2AError, match="Left_tail not in the 24-joint rig"):
        editing.keep_joints(source_motion, "Left_tail")
    with pytest.raises(A2AError, match="leave no frames to fill"):
        editing.inbetween(source_motion[:50], source_motion[:50], 90)


def test_cli_editing_options(tiny_checkpoint, source_motion, tmp_path, capsys):
    wav = tmp_path / "song.wav"
    sf.write(wav, _song(2.0), SR)
    keep = source_motion[:60].to_npz(tmp_path / "dance.npz")
    out = tmp_path / "out.bvh"
    assert cli(["generate", str(tiny_checkpoint), str(wav), str(out), "--keep", str(keep)]) == 0
    assert out.read_text().startswith("HIERARCHY")
    capsys.readouterr()
    assert cli(["generate", str(tiny_checkpoint), str(wav), str(out), "--keep-joints", "upper_body"]) == 2
    assert "--keep-joints needs --keep MOTION" in capsys.readouterr().err
    assert cli(["generate", str(tiny_checkpoint), str(wav), str(keep), "--prefix", str(keep)]) == 2
    assert "would overwrite an input" in capsys.readouterr().err
    args = ["generate", str(tiny_checkpoint), str(wav), str(out), "--prefix", str(keep), "--keep", str(keep)]
    assert cli(args) == 2
    assert "choose one of --keep, --prefix and --inbetween" in capsys.readouterr().err
