"""``a2a convert-dsg``: original-format DiffuseStyleGesture state dicts (random MDMs) → a2a checkpoints."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict

import numpy as np
import pytest
import torch

from a2a.checkpoint import build
from a2a.checkpoint.import_dsg import convert_dsg_checkpoint, dsg_hyper_parameters
from a2a.cli import main as cli_main
from a2a.errors import CheckpointError
from a2a.motion.normalizer import normalizer_from_state_dict
from tests.dsg_reference import ZEGGS, original_forward, original_state_dict, parameter_count
from tests.test_dsg_model import TINY


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory) -> tuple[OrderedDict, os.PathLike]:
    sd = original_state_dict(**TINY, seed=4)
    path = tmp_path_factory.mktemp("dsg") / "model000000100.pt"
    torch.save(sd, path)  # what training_loop.py saves: the plain MDM.state_dict()
    return sd, path


def statistics(tmp_path, channels: int, *, mean_key: str = "mean", std_key: str = "std"):
    g = np.random.default_rng(0)
    mean = g.normal(size=(1, channels))  # DSG's files hold [1, D]-like arrays; they are squeezed
    std = np.abs(g.normal(size=(1, channels)))
    std[0, :3] = [0.0, 0.004, 0.01]  # constant and near-constant channels, as in ZEGGS
    np.savez_compressed(tmp_path / "mean.npz", **{mean_key: mean})
    np.savez_compressed(tmp_path / "std.npz", **{std_key: std})
    return mean[0], std[0], tmp_path / "mean.npz", tmp_path / "std.npz"


def check_parity(ckpt: dict, sd: dict, frames: int, num_heads: int) -> float:
    hparams = ckpt["hyper_parameters"]
    model = build(hparams["denoiser"], "denoiser", "test").eval()
    weights = {
        k.removeprefix("ema_denoiser."): v for k, v in ckpt["state_dict"].items() if k.startswith("ema_")
    }
    model.load_state_dict(weights)
    g = torch.Generator().manual_seed(9)
    batch = 2
    x = torch.randn(batch, frames, model.nfeats, generator=g)
    audio = torch.randn(batch, frames, model.audio_dim, generator=g)
    style = torch.eye(model.style_dim)[:batch]
    seed_frames = torch.randn(batch, model.n_seed, model.nfeats, generator=g)
    t = torch.tensor([10, 990])
    with torch.no_grad():
        ours = model(x, t, {"audio": audio, "style": style, "seed": seed_frames})
        y = {
            "audio": audio,
            "style": style,
            "seed": seed_frames.transpose(1, 2).unsqueeze(2),
            "mask_local": torch.ones(batch, frames, dtype=torch.bool),
        }
        theirs = original_forward(sd, x.transpose(1, 2).unsqueeze(2), t, y, num_heads=num_heads)
    return (ours - theirs.squeeze(2).transpose(1, 2)).abs().max().item()


def test_tiny_conversion_end_to_end(tiny_source, tmp_path):
    sd, path = tiny_source
    mean, std, mean_path, std_path = statistics(tmp_path, TINY["nfeats"])
    out = convert_dsg_checkpoint(
        path, tmp_path / "out" / "dsg.ckpt", mean=mean_path, std=std_path, num_heads=2, seq_len=44
    )
    ckpt = torch.load(out, weights_only=True)  # plain file: no allow-list needed
    hparams = ckpt["hyper_parameters"]
    assert hparams["denoiser"] == {
        "_target_": "a2a.models.DSGDenoiser",
        "nfeats": 13,
        "latent_dim": 32,
        "num_layers": 2,
        "ff_size": 48,
        "audio_dim": 16,
        "audio_latent": 8,
        "style_dim": 3,
        "style_latent": 8,
        "n_seed": 2,
        "groups": 4,
        "num_heads": 2,
        "local_window": 11,
        "dropout": 0.1,
        "seq_len": 44,
    }
    assert hparams["schedule"] == {
        "_target_": "a2a.diffusion.CosineSchedule",
        "num_steps": 1000,
        "prediction": "x0",
        "clip_x0": False,
    }
    assert hparams["longform"] == {"_target_": "a2a.diffusion.SeededContinuation", "n_seed": 2}
    assert hparams["features"]["extractor"]["_target_"] == "a2a.audio.PretrainedAudioFeatures"
    assert ckpt["a2a"]["vocabularies"] == {"style": ["style0", "style1", "style2"]}
    assert hparams["sampler"]["_target_"] == "a2a.diffusion.DDPMSampler"
    assert (hparams["fps"], hparams["window"], hparams["conditions"]) == (
        20.0,
        44,
        ["audio", "style", "seed"],
    )
    schedule = build(hparams["schedule"], "schedule", "test")
    assert schedule.num_steps == 1000 and not schedule.clip_x0
    meta = ckpt["a2a"]
    assert (meta["kind"], meta["fps"], meta["window"], meta["source"]) == (
        "dsg-converted",
        20.0,
        44,
        str(path),
    )
    # EMA and raw copies share storage; every original parameter is there, the buffers are not.
    ema = {k for k in ckpt["state_dict"] if k.startswith("ema_denoiser.")}
    raw = {k for k in ckpt["state_dict"] if k.startswith("denoiser.")}
    assert len(ema) == len(raw) == len(sd) - 3
    assert sum(ckpt["state_dict"][k].numel() for k in ema) == parameter_count(sd)
    assert check_parity(ckpt, sd, frames=44, num_heads=2) < 1e-5

    normalizer = normalizer_from_state_dict(meta["normalizer"])
    np.testing.assert_array_equal(normalizer.mean.numpy(), mean)
    expected_std = np.maximum(std, 0.01)  # DSG floors the stored std where it uses it
    np.testing.assert_array_equal(normalizer.std.numpy(), expected_std)
    assert normalizer.std[:3].tolist() == [0.01, 0.01, 0.01]
    assert meta["normalizer"]["kind"] == "zscore" and float(meta["normalizer"]["std_floor"]) == 0.01


def test_full_zeggs_size_converts_with_parity(tmp_path):
    sd = original_state_dict(**ZEGGS, seed=5)
    path = tmp_path / "model000450000.pt"
    torch.save(sd, path)
    assert 30e6 < path.stat().st_size < 45e6
    out = convert_dsg_checkpoint(path, tmp_path / "dsg.ckpt")
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["hyper_parameters"]["denoiser"]["n_seed"] == 8
    assert ckpt["hyper_parameters"]["denoiser"]["groups"] == 8
    assert check_parity(ckpt, sd, frames=88, num_heads=4) < 1e-5


def test_without_statistics_it_warns_that_generation_needs_them(tiny_source, tmp_path, caplog):
    _, path = tiny_source
    with caplog.at_level(logging.WARNING, logger="a2a.checkpoint.import_dsg"):
        out = convert_dsg_checkpoint(path, tmp_path / "dsg.ckpt", num_heads=2, seq_len=44)
    assert "generation needs DSG's mean.npz and std.npz" in caplog.text
    assert torch.load(out, weights_only=True)["a2a"]["normalizer"] == {}
    with pytest.raises(CheckpointError, match=r"give both --mean and --std"):
        convert_dsg_checkpoint(path, tmp_path / "x.ckpt", mean=tmp_path / "mean.npz")


def test_conversion_is_deterministic(tiny_source, tmp_path):
    _, path = tiny_source
    first = convert_dsg_checkpoint(path, tmp_path / "a.ckpt", num_heads=2, seq_len=44)
    second = convert_dsg_checkpoint(path, tmp_path / "b.ckpt", num_heads=2, seq_len=44)
    assert first.read_bytes() == second.read_bytes()


class Payload:
    """Pickles as a call to ``os.mkdir(marker)``: loading the file the unsafe way would run it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_malicious_pickle_is_refused_and_never_run(tiny_source, tmp_path):
    sd, _ = tiny_source
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({**sd, "embed_style.bias": Payload(str(marker))}, path)
    with pytest.raises(
        CheckpointError,
        match=r"evil.pt: refused: the pickle names (posix|nt).mkdir.*nothing from the file was run",
    ):
        convert_dsg_checkpoint(path, tmp_path / "out.ckpt")
    legacy = tmp_path / "evil_legacy.pt"
    torch.save({**sd, "embed_style.bias": Payload(str(marker))}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(
        CheckpointError,
        match=r"evil_legacy.pt: not a readable DSG checkpoint \(.*nothing from the file was run",
    ):
        convert_dsg_checkpoint(legacy, tmp_path / "out.ckpt")
    assert not marker.exists() and not (tmp_path / "out.ckpt").exists()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: sd.pop("input_process2.weight"), r"missing 'input_process2.weight'"),
        (
            lambda sd: sd.update({"extra.weight": torch.zeros(2)}),
            r"1 keys match no DSG denoiser module: 'extra.weight'",
        ),
        (
            lambda sd: sd.update({"input_process2.weight": torch.zeros(32, 70)}),
            r"wrong shape: 'input_process2.weight' is \[32, 70\], expected \[32, 72\]",
        ),
        (
            lambda sd: sd.pop("embed_text.weight"),
            r"the weights lack 'embed_text.weight'; is this a DiffuseStyleGesture",
        ),
        (
            lambda sd: sd.update({"embed_text.weight": torch.zeros(24, 27)}),
            r"'embed_text.weight' takes 27 inputs, not a whole number of 13-channel seed frames",
        ),
        (lambda sd: sd.update({"embed_style.bias": 7}), r"entry 'embed_style.bias' is a int, not a tensor"),
        (
            lambda sd: sd.update({"embed_style.bias": torch.zeros(8, dtype=torch.int64)}),
            r"DSG weight 'embed_style.bias' has dtype torch.int64, not floating point",
        ),
        (
            lambda sd: sd.pop("seqTransEncoder.layers.1.norm2.bias"),
            r"missing 'seqTransEncoder.layers.1.norm2.bias'",
        ),
    ],
)
def test_bad_weights_name_the_entry(tiny_source, tmp_path, edit, message):
    sd = OrderedDict(tiny_source[0])
    edit(sd)
    path = tmp_path / "bad.pt"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=message):
        convert_dsg_checkpoint(path, tmp_path / "out.ckpt", num_heads=2, seq_len=44)
    assert not (tmp_path / "out.ckpt").exists()


def test_bad_files_and_settings_are_named(tiny_source, tmp_path):
    sd, path = tiny_source
    with pytest.raises(CheckpointError, match=r"nowhere.pt: no such DSG checkpoint file"):
        convert_dsg_checkpoint(tmp_path / "nowhere.pt", tmp_path / "out.ckpt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"junk.pt: not a readable DSG checkpoint"):
        convert_dsg_checkpoint(tmp_path / "junk.pt", tmp_path / "out.ckpt")
    torch.save([sd["embed_style.bias"]], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match=r"list.pt: holds a list, not DSG's state dict"):
        convert_dsg_checkpoint(tmp_path / "list.pt", tmp_path / "out.ckpt")
    with pytest.raises(
        CheckpointError,
        match=r"sizes give no valid DSG denoiser: .*local_window=11 does not divide .*seq_len=45",
    ):
        convert_dsg_checkpoint(path, tmp_path / "out.ckpt", num_heads=2, seq_len=45)
    with pytest.raises(CheckpointError, match=r"the output path is the input file"):
        convert_dsg_checkpoint(path, path)

    _, _, mean_path, std_path = statistics(tmp_path, 12)
    with pytest.raises(
        CheckpointError, match=r"mean.npz: 'mean' has shape \[12\] after squeezing; the weights have 13"
    ):
        convert_dsg_checkpoint(
            path, tmp_path / "out.ckpt", mean=mean_path, std=std_path, num_heads=2, seq_len=44
        )
    _, _, mean_path, std_path = statistics(tmp_path, 13, std_key="sd")
    with pytest.raises(CheckpointError, match=r"std.npz: no 'std' array \(has 'sd'\)"):
        convert_dsg_checkpoint(
            path, tmp_path / "out.ckpt", mean=mean_path, std=std_path, num_heads=2, seq_len=44
        )
    np.savez(tmp_path / "mean.npz", mean=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError, match=r"mean.npz: not a readable .npz of plain arrays"):
        convert_dsg_checkpoint(path, tmp_path / "out.ckpt", mean=tmp_path / "mean.npz", std=std_path)
    assert not (tmp_path / "out.ckpt").exists()


def test_hyper_parameters_build_with_the_checkpoint_rules():
    hparams, styles = dsg_hyper_parameters(
        {
            "nfeats": 13,
            "latent_dim": 32,
            "groups": 4,
            "seq_len": 44,
            "num_heads": 2,
            "ff_size": 48,
            "num_layers": 1,
            "audio_dim": 16,
            "audio_latent": 8,
            "style_dim": 3,
            "style_latent": 8,
            "n_seed": 2,
        },
        fps=20,
        window=44,
    )
    assert build(hparams["denoiser"], "denoiser", "test").latent_dim == 32
    assert styles == ["Happy", "Sad", "Neutral", "Old", "Angry", "Relaxed"]
    assert repr(build(hparams["sampler"], "sampler", "test")) == "DDPMSampler(cap_guidance_below=0.0)"


def test_cli_converts_and_reports_errors_in_one_line(tiny_source, tmp_path, capsys):
    _, path = tiny_source
    _, _, mean_path, std_path = statistics(tmp_path, TINY["nfeats"])
    out = tmp_path / "cli.ckpt"
    argv = ["convert-dsg", str(path), str(out), "--mean", str(mean_path), "--std", str(std_path)]
    assert cli_main([*argv, "--num-heads", "2", "--seq-len", "44"]) == 0
    sd, _ = tiny_source
    # issue 13: the parameter count is reported (the original ZEGGS model has 9,001,781)
    assert capsys.readouterr().out.strip() == f"wrote {out} ({parameter_count(sd):,} parameters)"
    assert torch.load(out, weights_only=True)["a2a"]["normalizer"]["kind"] == "zscore"
    assert cli_main(["convert-dsg", str(tmp_path / "nope.pt"), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("a2a convert-dsg: error: ") and "nope.pt: no such DSG checkpoint file" in err
    assert len(err.splitlines()) == 1


def test_converted_model_generates_once_its_wavlm_is_given(tmp_path):
    """The converted file names WavLM-Large without carrying it: it loads, explains what is missing, and
    generates from audio once features_path points at a WavLM folder of the right width."""
    import a2a
    from a2a.audio.wavlm_tiny import tiny_wavlm_dir
    from a2a.errors import A2AError

    # a tiny MDM on the real ZEGGS rig (1141 channels), so its output decodes into motion
    sd = original_state_dict(**{**TINY, "nfeats": 1141, "style_dim": 6}, seed=5)
    torch.save(sd, tmp_path / "model.pt")
    _, _, mean_path, std_path = statistics(tmp_path, 1141)
    out = convert_dsg_checkpoint(
        tmp_path / "model.pt", tmp_path / "dsg.ckpt", mean=mean_path, std=std_path, num_heads=2, seq_len=44
    )
    wave = (0.2 * np.sin(np.linspace(0, 3000, 16000 * 3))).astype(np.float32)
    gen = a2a.load(out)
    assert gen.styles == ["Happy", "Sad", "Neutral", "Old", "Angry", "Relaxed"]
    with pytest.raises(A2AError, match=r"audio features .* not available .*features_path=DIR"):
        gen.generate(wave, sr=16000, style="Old")
    assert gen.generate_features(np.zeros((50, 16), np.float32), style="Old")[0].num_frames == 50
    gen = a2a.load(out, features_path=tiny_wavlm_dir(tmp_path / "cache", 0))
    motion = gen.generate(wave, sr=16000, seed=0, style="Angry")
    assert motion.num_frames == 60 and np.isfinite(motion.poses).all()
