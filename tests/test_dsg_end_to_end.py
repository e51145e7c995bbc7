"""DiffuseStyleGesture through the shared doors: train dsg_tiny on synthetic gestures, generate any length
with a style (mixes, extrapolation, style guidance), in the rig's own BVH; bad styles and windows named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import a2a
from a2a.config import compose_config
from a2a.errors import A2AError
from a2a.motion.bvh import read_bvh
from a2a.motion.rigs import ZEGGS75
from a2a.train import train

SR = 16000


def _speech(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    envelope = (np.sin(2 * np.pi * 3 * t) > 0).astype(np.float32)
    return (0.3 * envelope * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def _cfg(source, out, *overrides):
    return compose_config(
        "train",
        [
            "experiment=dsg_tiny",
            f"data.source={source}",
            f"output_dir={out}",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
            *overrides,
        ],
    )


@pytest.fixture(scope="module")
def dsg_checkpoint(gesture_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("dsg_run")
    result = train(_cfg(gesture_root, out, "trainer.limit_train_batches=3"))
    assert "train/simple" in result["metrics"]
    return result["last_checkpoint"]


def test_dsg_checkpoint_carries_its_family(dsg_checkpoint):
    ckpt = torch.load(dsg_checkpoint, weights_only=True)
    assert ckpt["a2a"]["vocabularies"] == {"style": ["Happy", "Sad", "Neutral", "Old", "Angry", "Relaxed"]}
    assert ckpt["hyper_parameters"]["longform"] == {
        "_target_": "a2a.diffusion.SeededContinuation",
        "n_seed": 4,
    }
    assert ckpt["a2a"]["normalizer"]["kind"] == "zscore"
    gen = a2a.load(dsg_checkpoint)
    assert gen.styles[0] == "Happy" and gen.style_key == "style" and gen.fps == 20 and gen.window == 44


@pytest.mark.parametrize("seconds", [0.2, 0.4, 2.2, 5.3])  # just the seed, under a window, one, several
def test_dsg_generates_any_length_on_its_rig(dsg_checkpoint, seconds):
    gen = a2a.load(dsg_checkpoint)
    motion = gen.generate(_speech(seconds), sr=SR, seed=0, style="Old")
    assert motion.num_frames == int(seconds * 20) and motion.skeleton.names == ZEGGS75.names
    assert np.isfinite(motion.poses).all()
    again = gen.generate(_speech(seconds), sr=SR, seed=0, style="Old")
    np.testing.assert_array_equal(motion.poses, again.poses)
    bvh = read_bvh(gen.generate_bvh(_speech(seconds), sr=SR, seed=0, style="Old"))
    assert tuple(bvh.names) == ZEGGS75.names
    assert bvh.num_frames == int(seconds * 20) and bvh.frame_time == 0.05


def test_style_changes_the_motion_and_mixes(dsg_checkpoint):
    gen = a2a.load(dsg_checkpoint)
    wave = _speech(2.2)
    happy = gen.generate(wave, sr=SR, seed=1, style="Happy").joints()
    sad = gen.generate(wave, sr=SR, seed=1, style="Sad").joints()
    assert np.abs(happy - sad).max() > 1e-4
    # a mix with weight 1 is the first style, with weight 0 the second
    mixed1 = gen.generate(wave, sr=SR, seed=1, style=["Happy", "Sad"], style_mix=1.0).joints()
    mixed0 = gen.generate(wave, sr=SR, seed=1, style=["Happy", "Sad"], style_mix=0.0).joints()
    np.testing.assert_allclose(mixed1, happy, atol=1e-5)
    np.testing.assert_allclose(mixed0, sad, atol=1e-5)
    halfway = gen.generate(wave, sr=SR, seed=1, style=["Happy", "Sad"], style_mix=0.5).joints()
    assert np.abs(halfway - happy).max() > 1e-5 and np.abs(halfway - sad).max() > 1e-5
    # style guidance and extrapolation away from the null style run and change the motion
    guided = gen.generate(wave, sr=SR, seed=1, style="Happy", guidance={"style": 3.0}).joints()
    exaggerated = gen.generate(wave, sr=SR, seed=1, style="Happy", style_mix=1.5).joints()
    assert np.abs(guided - happy).max() > 1e-5 and np.abs(exaggerated - happy).max() > 1e-5
    # one guidance weight for every condition also guides a mix (the null rows drop the style too)
    for mix in (0.3, 1.5):
        style = ["Happy", "Sad"] if mix < 1 else "Happy"
        plain, strong = (
            gen.generate(wave, sr=SR, seed=1, style=style, style_mix=mix, guidance=w).joints()
            for w in (1.0, 3.0)
        )
        assert np.abs(strong - plain).max() > 1e-3


def test_dsg_bad_input_is_named(dsg_checkpoint, gesture_root, tmp_path):
    gen = a2a.load(dsg_checkpoint)
    with pytest.raises(A2AError, match="unknown style 'Jolly'; this model knows Happy, Sad, Neutral, Old"):
        gen.generate(_speech(1.0), sr=SR, style="Jolly")
    with pytest.raises(A2AError, match="style takes one style or two to mix"):
        gen.generate(_speech(1.0), sr=SR, style=["Happy", "Sad", "Old"])
    with pytest.raises(
        A2AError,
        match=r"audio is 0.150 s long \(3 frames at 20 fps\): shorter than the "
        r"model's seed of 4 frames; give at least 0.20 s",
    ):
        gen.generate(_speech(0.15), sr=SR, style="Happy")
    with pytest.raises(A2AError, match="3 frames are fewer than the 4 seed frames"):
        gen.generate_features(np.zeros((3, gen.info["feature_dim"]), np.float32), style="Happy")
    with pytest.raises(A2AError, match="local_window"):
        train(_cfg(gesture_root, tmp_path / "w", "data.window_seconds=2.0"))  # 40 frames: not 11 × k


def test_edge_takes_no_style(tiny_checkpoint):
    with pytest.raises(A2AError, match="takes no style input"):
        a2a.load(tiny_checkpoint).generate(_speech(1.0), sr=SR, style="Happy")


def test_cli_style_options(dsg_checkpoint, tmp_path, capsys):
    import soundfile as sf

    from a2a.cli import main as cli

    wav = tmp_path / "speech.wav"
    sf.write(wav, _speech(2.0), SR)
    out = tmp_path / "out.bvh"
    base = ["generate", str(dsg_checkpoint), str(wav), str(out), "--sampler", "ddim", "--steps", "3"]
    assert cli([*base, "--style", "Happy", "Old", "--style-mix", "0.3"]) == 0
    mixed = out.read_text()
    assert cli([*base, "--style", "Happy", "--style-guidance", "2.0"]) == 0
    assert out.read_text() != mixed and read_bvh(out).names == ZEGGS75.names
    capsys.readouterr()
    assert cli([*base, "--style", "Jolly"]) == 2
    assert "unknown style 'Jolly'; this model knows Happy" in capsys.readouterr().err
    assert cli([*base[:4], "--sampler", "fast"]) == 2
    assert "no sampler named 'fast'; the sampler group has checkpoint, ddim," in capsys.readouterr().err
    assert cli([*base[:4], "--sampler", "ddpm", "--steps", "3"]) == 2
    assert "the sampler a2a.diffusion.DDPMSampler has no 'steps' setting" in capsys.readouterr().err
