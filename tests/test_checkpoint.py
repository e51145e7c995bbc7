"""The checkpoint format: configs from a file are data (gadgets refused at every door), migration of format 1
(EDGE outputs unchanged), unknown formats named."""

from __future__ import annotations

import http.server
import pickle
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import a2a
from a2a.checkpoint import FORMAT, build, check_config, read_checkpoint, trust_modules
from a2a.cli import main as cli
from a2a.errors import CheckpointError
from a2a.mining.reload import ModelSlot

FIXTURES = Path(__file__).parent / "fixtures"
FORMAT1 = FIXTURES / "edge_tiny_format1.ckpt"
SR = 22050
TRUST = "or those of model families you trust with a2a.checkpoint.trust_modules; refused, nothing was run"
DENOISERS = (
    f"a checkpoint builds only a2a's denoiser classes (EdgeDenoiser, EdgeGenreDenoiser, DSGDenoiser) {TRUST}"
)


def _wave(seconds: float, slow: float, carrier: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (
        0.3 * np.sin(2 * np.pi * 220 * t)
        + 0.2 * np.sin(2 * np.pi * slow * t) * np.sin(2 * np.pi * carrier * t)
    ).astype(np.float32)


# --- format 1 → 2 ---------------------------------------------------------------------------------------


def test_format_1_checkpoint_generates_exactly_as_before():
    """tests/fixtures/edge_tiny_format1.ckpt and its outputs were written by the code before the
    model-family contract (format 1); after migration one window gives the same motion, and several
    windows too with a2a 0.1's long form (the default is now EDGE's seamless one)."""
    expected = np.load(FIXTURES / "edge_tiny_format1_outputs.npz")
    gen = a2a.load(FORMAT1)
    assert gen.info["format"] == FORMAT
    single = gen.generate(_wave(1.8, 3), sr=SR, seed=7)  # shorter than one 2-s window
    np.testing.assert_allclose(single.poses, expected["single_poses"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(single.trans, expected["single_trans"], atol=1e-5, rtol=0)
    wave = _wave(5.3, 2, carrier=330.0)  # four overlapping windows
    old_form = {"_target_": "a2a.diffusion.OverlapStitch", "constrain_final": True}
    long = gen.generate(wave, sr=SR, seed=7, longform=old_form)
    np.testing.assert_allclose(long.poses, expected["long_poses"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(long.trans, expected["long_trans"], atol=1e-5, rtol=0)
    seamless = gen.generate(wave, sr=SR, seed=7)
    assert np.abs(seamless.trans - expected["long_trans"]).max() > 1e-3


def test_format_1_is_migrated_in_memory():
    raw = torch.load(FORMAT1, weights_only=True)
    assert raw["a2a"]["format"] == 1 and "cond_drop_prob" in raw["hyper_parameters"]
    ckpt = read_checkpoint(FORMAT1)
    hp = ckpt["hyper_parameters"]
    assert ckpt["a2a"]["format"] == FORMAT and ckpt["a2a"]["migrated_from"] == 1
    assert hp["cond_drop"] == {"audio": raw["hyper_parameters"]["cond_drop_prob"]}
    assert hp["loss"]["_target_"] == "a2a.losses.EdgeMotionLoss" and hp["conditions"] == ["audio"]
    assert (
        hp["longform"]["_target_"] == "a2a.diffusion.OverlapStitch" and not hp["longform"]["constrain_final"]
    )
    assert hp["features"]["windowing"] == "per_song"
    assert ckpt["a2a"]["normalizer"]["kind"] == "minmax"


def test_unknown_formats_are_named(tmp_path):
    ckpt = torch.load(FORMAT1, weights_only=True)
    ckpt["a2a"]["format"] = 9
    torch.save(ckpt, tmp_path / "future.ckpt")
    with pytest.raises(CheckpointError, match=r"checkpoint format 9 .* \(formats 1, 2\); upgrade a2a"):
        a2a.load(tmp_path / "future.ckpt")
    ckpt["a2a"]["format"] = "x"
    torch.save(ckpt, tmp_path / "odd.ckpt")
    with pytest.raises(CheckpointError, match="checkpoint format 'x'"):
        a2a.load(tmp_path / "odd.ckpt")


# --- gadgets: configs from a checkpoint are data --------------------------------------------------------


class _Marker:
    """Pickled so that loading it with weights_only=False would create ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


class _CountingServer:
    """An HTTP server on 127.0.0.1 that counts the requests it gets (nothing should reach it)."""

    def __init__(self) -> None:
        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/song.wav"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def gadgets(tmp_path):
    """(name, edit of hyper_parameters, refusal pattern) for each reported gadget, plus what they would
    touch: a pickle whose loading creates a marker file, a victim file, a counting loopback server."""
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(_Marker(marker)))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    server = _CountingServer()
    torch_load = {"_target_": "a2a.generate.torch.load", "f": str(evil), "weights_only": False}
    nested = {
        "_target_": "a2a.generate.np.add",
        "_args_": [{"_target_": "a2a.generate.np.ndim", "a": torch_load}, 5],
    }
    cases = {
        "torch.load nested in sampler.steps": (
            lambda hp: hp["sampler"].update(steps=nested),
            "sampler.steps._target_ (a2a.generate.np.add): a setting must be a plain value, not a config "
            "to build; refused, nothing was run",
        ),
        "torch.load as the schedule": (
            lambda hp: hp.update(schedule=torch_load),
            "schedule._target_ = 'a2a.generate.torch.load': a checkpoint builds only a2a's schedule classes "
            f"(CosineSchedule, LinearSchedule) {TRUST}",
        ),
        "os.open truncating a file": (
            lambda hp: hp.update(
                representation={"_target_": "a2a.generate.os.open", "path": str(victim), "flags": 513}
            ),
            "representation._target_ = 'a2a.generate.os.open': a checkpoint builds only a2a's representation "
            f"classes (EdgeRepresentation, DSGRepresentation) {TRUST}",
        ),
        "a2a's own downloader": (
            lambda hp: hp["features"].update(
                extractor={"_target_": "a2a.mining.intake.download_audio", "url": server.url, "limits": None}
            ),
            "features.extractor._target_ = 'a2a.mining.intake.download_audio': a checkpoint builds only "
            "a2a's features classes (BaselineFeatures, PretrainedAudioFeatures, TinyWavLMFeatures, "
            f"JukeboxFeatures) {TRUST}",
        ),
        "os.system spelled directly": (
            lambda hp: hp.update(longform={"_target_": "os.system", "command": f"touch {marker}"}),
            "longform._target_ = 'os.system': a checkpoint builds only a2a's longform classes "
            f"(OverlapStitch, SeededContinuation) {TRUST}",
        ),
        "an a2a class at the wrong place": (
            lambda hp: hp.update(denoiser={"_target_": "a2a.mining.intake.IntakeLimits", "max_bytes": 1}),
            f"denoiser._target_ = 'a2a.mining.intake.IntakeLimits': {DENOISERS}",
        ),
        "an interpolation in a value": (
            lambda hp: hp["denoiser"].update(dropout="${oc.env:HOME}"),
            "denoiser.dropout holds an interpolation '${oc.env:HOME}'; checkpoint values are literal",
        ),
        "a target in a plain hyper-parameter": (
            lambda hp: hp.update(guidance_weight={"_target_": "a2a.generate.os.getcwd"}),
            "guidance_weight._target_ (a2a.generate.os.getcwd): a setting must be a plain value, not a "
            "config to build; refused, nothing was run",
        ),
    }
    yield cases, marker, victim, server
    server.close()
    assert not marker.exists(), "a gadget ran code"
    assert victim.read_text() == "precious", "a gadget truncated a file"
    assert server.hits == [], "a gadget made the loader fetch a URL"


def _write_evil(source: Path, edit, out: Path) -> Path:
    ckpt = torch.load(source, weights_only=True)
    edit(ckpt["hyper_parameters"])
    torch.save(ckpt, out)
    return out


def test_every_gadget_is_refused_by_the_loader(gadgets, tiny_checkpoint, tmp_path):
    cases, *_ = gadgets
    for name, (edit, expected) in cases.items():
        path = _write_evil(tiny_checkpoint, edit, tmp_path / "evil.ckpt")
        with pytest.raises(CheckpointError) as info:
            a2a.load(path)
        assert str(info.value) == f"{path}: checkpoint config {expected}", name


def test_gadgets_are_refused_at_the_generate_and_evaluate_doors(
    gadgets, tiny_checkpoint, synthetic_root, tmp_path, capsys
):
    from a2a.config import compose_config
    from a2a.evaluate import evaluate

    cases, *_ = gadgets
    edit, expected = cases["torch.load nested in sampler.steps"]
    path = _write_evil(tiny_checkpoint, edit, tmp_path / "evil.ckpt")
    wav = tmp_path / "song.wav"
    import soundfile as sf

    sf.write(wav, _wave(1.0, 2), SR)
    assert cli(["generate", str(path), str(wav), str(tmp_path / "out.bvh")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.endswith(f"{path}: checkpoint config {expected}")
    assert not (tmp_path / "out.bvh").exists()
    edit, expected = cases["a2a's own downloader"]
    path = _write_evil(tiny_checkpoint, edit, tmp_path / "evil2.ckpt")
    cfg = compose_config(
        "evaluate", [f"ckpt={path}", f"output_dir={tmp_path / 'eval'}", f"data.source={synthetic_root}"]
    )
    with pytest.raises(CheckpointError) as info:
        evaluate(cfg)
    assert str(info.value) == f"{path}: checkpoint config {expected}"


def test_hot_reload_refuses_a_gadget_and_keeps_serving(gadgets, tiny_checkpoint, tmp_path):
    cases, *_ = gadgets
    serving = tmp_path / "serving.ckpt"
    serving.write_bytes(tiny_checkpoint.read_bytes())
    slot = ModelSlot(serving, a2a.load, poll_seconds=0)
    first = slot.current
    edit, _ = cases["torch.load as the schedule"]
    _write_evil(tiny_checkpoint, edit, tmp_path / "evil.ckpt")
    serving.write_bytes((tmp_path / "evil.ckpt").read_bytes())
    slot.request_reload()
    assert slot.check_file() is False
    assert slot.current is first and slot.generation == 1
    motion = slot.current.generate(_wave(1.0, 2), sr=SR, seed=0, steps=1)
    assert motion.num_frames == 30


def test_trusted_families_and_the_builder(tmp_path, monkeypatch):
    # a class outside a2a is refused until its module is trusted
    config = {"_target_": "collections.OrderedDict"}
    with pytest.raises(CheckpointError) as info:
        check_config(config, "denoiser", "cfg")
    assert str(info.value) == f"cfg._target_ = 'collections.OrderedDict': {DENOISERS}"
    sampler = build({"_target_": "a2a.diffusion.DDIMSampler", "steps": 3, "eta": 0.0}, "sampler", "cfg")
    assert (sampler.steps, sampler.eta) == (3, 0.0)
    with pytest.raises(CheckpointError, match=r"^cfg\._target_ = 'a2a\.nothing_here\.Thing': a checkpoint "):
        check_config({"_target_": "a2a.nothing_here.Thing"}, "sampler", "cfg")
    with pytest.raises(CheckpointError, match="_args_: only _target_ is allowed"):
        check_config({"_target_": "a2a.diffusion.DDIMSampler", "_args_": [3]}, "sampler", "cfg")
    monkeypatch.setattr("a2a.checkpoint.configs._trusted", set())
    trust_modules("torch.nn")
    assert check_config({"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 3}, "denoiser", "x")
    with pytest.raises(CheckpointError, match="not a module name"):
        trust_modules("not a module")
