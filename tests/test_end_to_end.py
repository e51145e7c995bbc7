"""Train a tiny model → checkpoint → load → generate → BVH → validator score, on synthetic data."""

import json

import numpy as np
import pytest
import torch

import a2a
import a2a.checkpoint
from a2a.cli import main as cli
from a2a.errors import A2AError, CheckpointError
from a2a.metrics.validator import score_files
from a2a.motion.bvh import read_bvh
from tests.conftest import compose_train


def _a_wav(root):
    return sorted((root / "wavs").glob("*.wav"))[0]


def test_checkpoint_is_self_contained_and_safe_to_load(tiny_checkpoint):
    ckpt = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    meta = ckpt["a2a"]
    assert meta["version"] == a2a.__version__ and meta["format"] == a2a.checkpoint.FORMAT
    assert set(meta["normalizer"]) >= {"scale", "min", "data_min", "data_max"}
    hp = ckpt["hyper_parameters"]
    assert hp["denoiser"]["_target_"] == "a2a.models.EdgeDenoiser"
    assert hp["features"]["extractor"]["_target_"] == "a2a.audio.BaselineFeatures"
    assert any(k.startswith("ema_denoiser.") for k in ckpt["state_dict"])


def test_generate_any_length_deterministic_for_a_seed(tiny_checkpoint, synthetic_root):
    gen = a2a.load(tiny_checkpoint)
    wav = _a_wav(synthetic_root)
    timings = {}
    m1 = gen.generate(wav, seed=3, timings=timings)
    m2 = gen.generate(wav, seed=3)
    m3 = gen.generate(wav, seed=4)
    assert m1.fps == 30 and m1.num_frames == 150  # 5 s of audio at 30 fps
    np.testing.assert_array_equal(m1.poses, m2.poses)
    assert np.abs(m1.poses - m3.poses).max() > 1e-4
    assert set(timings) == {"decode", "features", "sampling"}
    short = gen.generate(np.sin(np.linspace(0, 200, 11025)).astype(np.float32), sr=22050, seed=0)
    assert short.num_frames == 15  # half a second, shorter than one window
    assert gen.generate(wav.read_bytes(), seed=3).num_frames == 150


def test_reward_aware_sampling(tiny_checkpoint, synthetic_root):
    gen = a2a.load(tiny_checkpoint)
    wav = _a_wav(synthetic_root)
    feats, _ = gen.audio_features(wav)
    draws = gen.generate_features(feats, seed=0, samples=3)
    mean = gen.generate(wav, seed=0, samples=3, reduce="mean")
    medoid = gen.generate(wav, seed=0, samples=3, reduce="medoid")
    assert any(np.allclose(medoid.poses, d.poses) for d in draws)
    np.testing.assert_allclose(mean.trans, np.mean([d.trans for d in draws], axis=0), atol=1e-9)
    with pytest.raises(A2AError, match="reduce must be one of"):
        gen.generate(wav, reduce="max")


def test_generated_bvh_scores_like_the_validator(tiny_checkpoint, synthetic_root, tmp_path):
    gen = a2a.load(tiny_checkpoint)
    wav = _a_wav(synthetic_root)
    text = gen.generate_bvh(wav, seed=0)
    bvh = read_bvh(text)
    assert bvh.num_frames == 150 and bvh.names[0] == "Pelvis"
    pred = tmp_path / "pred.bvh"
    pred.write_text(text)
    ref = tmp_path / "ref.bvh"
    assert cli(["export", str(synthetic_root / "motions" / (wav.stem + ".pkl")), str(ref)]) == 0
    result = score_files(pred, ref, time=10.0, joint_map="edge_edge")
    assert result["frames"] == 150 and 0.1 <= result["correctness"] <= 1.0
    assert result["reward"] == pytest.approx(0.7 * result["correctness"] + 0.3 * result["speed"])


def test_resume_restores_step_and_ema(tiny_checkpoint, synthetic_root, tmp_path):
    from a2a.train import train

    cfg = compose_train(
        [
            "experiment=tiny",
            f"data.source={synthetic_root}",
            f"output_dir={tmp_path}",
            f"ckpt_path={tiny_checkpoint}",
            "trainer.max_epochs=2",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
        ]
    )
    result = train(cfg)
    before = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    after = torch.load(result["last_checkpoint"], map_location="cpu", weights_only=True)
    assert after["global_step"] == before["global_step"] + 2
    assert after["epoch"] == 1
    assert after["optimizer_states"][0]["state"], "optimizer state restored and updated"


def test_bad_checkpoints_are_clear_errors(tmp_path, tiny_checkpoint):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        a2a.load(tmp_path / "missing.ckpt")
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        a2a.load(broken)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(CheckpointError, match="not an a2a checkpoint"):
        a2a.load(foreign)
    ckpt = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    del ckpt["hyper_parameters"]["features"]
    torch.save(ckpt, tmp_path / "old.ckpt")
    with pytest.raises(CheckpointError, match="lacks features"):
        a2a.load(tmp_path / "old.ckpt")
    ckpt = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    ckpt["hyper_parameters"]["schedule"]["_target_"] = "os.system"
    torch.save(ckpt, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="a checkpoint builds only a2a.s schedule classes"):
        a2a.load(tmp_path / "evil.ckpt")


def test_undecodable_audio_names_the_file(tiny_checkpoint, tmp_path):
    bad = tmp_path / "song.wav"
    bad.write_bytes(b"RIFF not really audio")
    with pytest.raises(A2AError, match="song.wav"):
        a2a.load(tiny_checkpoint).generate(bad)


def test_cli_synth_export_score(tmp_path, capsys):
    root = tmp_path / "syn"
    assert cli(["data", "synth", str(root), "--sequences", "3", "--seconds", "2", "--seed", "1"]) == 0
    motion = sorted((root / "motions").glob("*.pkl"))[0]
    assert cli(["export", str(motion), str(tmp_path / "a.bvh")]) == 0
    capsys.readouterr()
    assert (
        cli(
            [
                "score",
                str(tmp_path / "a.bvh"),
                str(tmp_path / "a.bvh"),
                "--time",
                "0",
                "--joint-map",
                "edge_edge",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["rmse"] == 0.0 and result["correctness"] == 1.0 and result["frames"] == 60
    assert result["reward"] == pytest.approx(0.7 + 0.3 * 0.622459, abs=1e-6)


def test_cli_errors_are_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 3 Xrotation Yrotation Zrotation\n}\n")
    assert cli(["score", str(bad), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "MOTION" in err and "Traceback" not in err
    assert cli(["export", str(tmp_path / "nothing.pkl"), str(tmp_path / "x.bvh")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_init_from_starts_with_the_checkpoints_weights_and_normaliser(
    tiny_checkpoint, synthetic_root, tmp_path
):
    from a2a.train import train

    cfg = compose_train(
        [
            "experiment=tiny",
            f"data.source={synthetic_root}",
            f"output_dir={tmp_path}",
            f"init_from={tiny_checkpoint}",
            "model.optimizer.lr=0.0",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
        ]
    )
    result = train(cfg)
    before = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    after = torch.load(result["last_checkpoint"], map_location="cpu", weights_only=True)
    assert after["global_step"] == 2  # a fresh run, not a resume
    for key, value in before["state_dict"].items():
        if key.startswith("denoiser."):
            torch.testing.assert_close(after["state_dict"][key], value)  # lr 0: weights unchanged
    torch.testing.assert_close(after["a2a"]["normalizer"]["scale"], before["a2a"]["normalizer"]["scale"])


def test_init_from_a_foreign_file_is_a_clear_error(synthetic_root, tmp_path):
    from a2a.train import train

    bogus = tmp_path / "bogus.ckpt"
    torch.save({"weights": 1}, bogus)
    cfg = compose_train(
        ["experiment=tiny", f"data.source={synthetic_root}", f"output_dir={tmp_path}", f"init_from={bogus}"]
    )
    with pytest.raises(CheckpointError, match="not an a2a checkpoint"):
        train(cfg)
