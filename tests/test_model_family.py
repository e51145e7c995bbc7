"""The model-family contract: a new family is new files plus a config, trained, evaluated and served (the
miner) by the shared code.

The toy family below lives entirely in files this test writes (a Python module with a denoiser and a loss,
and a Hydra config in a config folder of its own); nothing in ``src/a2a`` knows about it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_dir

import a2a
from a2a.checkpoint import trust_modules
from a2a.config import compose_config
from a2a.errors import A2AError, CheckpointError
from a2a.evaluate import evaluate
from a2a.mining.chain import BlacklistPolicy, StaticView
from a2a.mining.miner import Miner, MinerSettings
from a2a.mining.protocol import VPA2ASynapse
from a2a.mining.reload import ModelSlot
from a2a.mining.service import warm_loader
from a2a.motion.bvh import read_bvh
from a2a.train import train
from tests.conftest import CONF

TOY_MODULE = '''
"""A toy model family: a per-frame MLP denoiser and an L1 loss."""

import torch
from torch import nn

from a2a.diffusion.conditions import keep_mask
from a2a.losses import MotionLoss


class ToyDenoiser(nn.Module):
    conditions = ("audio",)
    droppable = ("audio",)

    def __init__(self, nfeats: int, cond_feature_dim: int, hidden: int = 32) -> None:
        super().__init__()
        self.audio = nn.Linear(cond_feature_dim, hidden)
        self.null_audio = nn.Parameter(torch.zeros(hidden))
        self.net = nn.Sequential(nn.Linear(nfeats + hidden + 1, hidden), nn.SiLU(), nn.Linear(hidden, nfeats))

    def forward(self, x, t, cond, keep_cond=None):
        keep = keep_mask(keep_cond, "audio", x.shape[0], x.device)
        audio = self.audio(cond["audio"])
        audio = torch.where(keep[:, None, None], audio, self.null_audio.expand_as(audio))
        level = (t.float() / 1000.0)[:, None, None].expand(-1, x.shape[1], 1)
        return self.net(torch.cat([x, audio, level], dim=-1))


class ToyLoss(MotionLoss):
    def __init__(self, representation, weight: float = 1.0) -> None:
        self.weight = weight

    def __call__(self, x0_hat, x0, normalizer=None, *, output=None, target=None):
        l1 = (x0_hat - x0).abs().mean()
        return {"l1": l1, "total": self.weight * l1}
'''

TOY_CONFIG = """
# A toy family: EDGE's representation and features, a per-frame MLP denoiser, an L1 loss.
_target_: a2a.lightning.DiffusionModule
_recursive_: false
fps: ${features.fps}
window: ${a2a.frames:${data.window_seconds},${features.fps}}
features: ${features}
representation:
  _target_: a2a.motion.representation.EdgeRepresentation
conditions: [audio]
denoiser:
  _target_: {module}.ToyDenoiser
  nfeats: ${a2a.dim:${..representation}}
  cond_feature_dim: ${features.dim}
  hidden: 32
schedule:
  _target_: a2a.diffusion.CosineSchedule
  num_steps: 100
  prediction: x0
  clip_x0: true
loss:
  _target_: {module}.ToyLoss
  weight: 1.0
optimizer:
  _target_: torch.optim.Adam
  _partial_: true
  lr: 1.0e-3
sampler: ${sampler}
longform:
  _target_: a2a.diffusion.OverlapStitch
  hop_fraction: 0.5
cond_drop:
  audio: 0.2
guidance_weight: 1.5
ema_decay: 0.9
ema_warmup: true
validation:
  every_n_epochs: 1
  windows: 2
  sampler:
    _target_: a2a.diffusion.DDIMSampler
    steps: 2
    eta: 0.0
"""


@pytest.fixture()
def toy_family(tmp_path, monkeypatch):
    """Write the family's files: ``<tmp>/toyfam_<id>.py`` and ``<tmp>/conf/model/toy.yaml``."""
    module = f"toyfam_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(TOY_MODULE))
    (tmp_path / "conf" / "model").mkdir(parents=True)
    (tmp_path / "conf" / "model" / "toy.yaml").write_text(TOY_CONFIG.replace("{module}", module))
    monkeypatch.syspath_prepend(str(tmp_path))
    return module, tmp_path / "conf"


def _compose(conf: Path, source: Path, out: Path, *overrides: str):
    return compose_config(
        "train",
        [
            f"hydra.searchpath=[file://{conf}]",
            "model=toy",
            "data=tiny",
            "sampler=tiny",
            "trainer=tiny",
            "logger=tiny",
            f"data.source={source}",
            f"output_dir={out}",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
            *overrides,
        ],
    )


def test_a_new_family_trains_generates_and_serves_from_new_files_only(
    toy_family, synthetic_root, tmp_path, monkeypatch
):
    module, conf = toy_family
    result = train(_compose(conf, synthetic_root, tmp_path / "run"))
    assert "train/l1" in result["metrics"] and "train/velocity" not in result["metrics"]
    ckpt = result["last_checkpoint"]
    stored = torch.load(ckpt, weights_only=True)["hyper_parameters"]
    assert stored["denoiser"]["_target_"] == f"{module}.ToyDenoiser"
    assert stored["loss"]["_target_"] == f"{module}.ToyLoss"

    # A checkpoint naming classes outside a2a is refused until the family is trusted.
    monkeypatch.setattr("a2a.checkpoint.configs._trusted", set())
    with pytest.raises(CheckpointError, match=f"{module}.ToyDenoiser.*trust_modules"):
        a2a.load(ckpt)
    trust_modules(module)
    gen = a2a.load(ckpt)
    wave = np.sin(np.linspace(0, 2000, 22050 * 3)).astype(np.float32)
    motion = gen.generate(wave, sr=22050, seed=0)  # 3 s: two overlapping 2-s windows
    assert motion.num_frames == 90 and np.isfinite(motion.poses).all()
    again = gen.generate(wave, sr=22050, seed=0)
    np.testing.assert_array_equal(motion.poses, again.poses)
    bvh = read_bvh(gen.generate_bvh(wave, sr=22050, seed=0))
    assert bvh.num_frames == 90
    # The shared sampler swap works on the new family too.
    ddpm = gen.generate(wave, sr=22050, seed=0, sampler={"_target_": "a2a.diffusion.DDPMSampler"})
    assert ddpm.num_frames == 90 and not np.allclose(ddpm.poses, motion.poses)

    # evaluate.py's door scores it like any checkpoint ...
    with initialize_config_dir(str(CONF), version_base="1.3"):
        eval_cfg = compose(
            "evaluate",
            [f"ckpt={ckpt}", "data=tiny", f"data.source={synthetic_root}", f"output_dir={tmp_path / 'eval'}",
             "render=0", "bootstrap=50", "max_sequences=1"],
        )  # fmt: skip
    report = evaluate(eval_cfg)
    model_row = report["rows"][-1]
    assert model_row["kind"] == "model" and 0.0 < model_row["reward_mean"] < 1.0

    # ... and the miner serves it: the shared loader warms it up, a request gets its BVH.
    slot = ModelSlot(ckpt, warm_loader(MinerSettings()), poll_seconds=0)
    miner = Miner(slot, StaticView(), BlacklistPolicy.open(), MinerSettings())
    buffer = io.BytesIO()
    sf.write(buffer, wave, 22050, format="WAV")
    request = VPA2ASynapse(input_type="data", audio_input=base64.b64encode(buffer.getvalue()).decode())
    try:
        answer = asyncio.run(miner.forward(request))
    finally:
        miner.close()
    assert miner.last_request["status"] == "ok"
    assert read_bvh(answer.animation_output).num_frames == 90


def test_conditions_are_checked_at_composition(toy_family, synthetic_root, tmp_path):
    _, conf = toy_family
    with pytest.raises(
        A2AError,
        match=r"data=tiny \(conf/data/tiny.yaml\): data.conditions names style; this dance dataset "
        r"provides audio, genre, seed",
    ):
        train(_compose(conf, synthetic_root, tmp_path / "a", "data.conditions=[audio,style]"))
    with pytest.raises(
        A2AError,
        match=r"model=toy \(conf/model/toy.yaml\): the model is trained on condition\(s\) audio, "
        r"which data=tiny \(conf/data/tiny.yaml\) does not provide \(data.provides: genre\)",
    ):
        train(_compose(conf, synthetic_root, tmp_path / "b", "data.provides=[genre]"))
    with pytest.raises(
        A2AError, match=r"model.cond_drop names genre, but ToyDenoiser has a null condition only"
    ):
        train(_compose(conf, synthetic_root, tmp_path / "c", "+model.cond_drop.genre=0.1"))
