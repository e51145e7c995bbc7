"""DiffusionModule pieces that the end-to-end run does not pin down: EMA arithmetic, checkpoint guards."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from a2a.config import instantiate
from a2a.errors import A2AError
from tests.conftest import compose_train


def _module(tmp_path, *overrides):
    cfg = compose_train(["model=tiny", "data.window_seconds=1.0", f"output_dir={tmp_path}", *overrides])
    OmegaConf.resolve(cfg)
    return instantiate(cfg.model)


def test_ema_update_is_a_lerp_towards_the_live_weights(tmp_path):
    module = _module(tmp_path, "model.ema_decay=0.75", "model.ema_warmup=false")
    ema_before = [p.detach().clone() for p in module.ema_denoiser.parameters()]
    with torch.no_grad():
        for p in module.denoiser.parameters():
            p.add_(1.0)
    module.on_train_batch_end(None, None, 0)
    for before, ema, live in zip(
        ema_before, module.ema_denoiser.parameters(), module.denoiser.parameters(), strict=True
    ):
        torch.testing.assert_close(ema, 0.75 * before + 0.25 * live)
    assert not any(p.requires_grad for p in module.ema_denoiser.parameters())


def test_invalid_module_options_are_named(tmp_path):
    with pytest.raises(A2AError, match=r"model.cond_drop.audio must be a probability in \[0, 1\], got 1.5"):
        _module(tmp_path, "model.cond_drop.audio=1.5")
    with pytest.raises(
        A2AError,
        match=r"model=tiny \(conf/model/tiny.yaml\): model.cond_drop names style, but EdgeDenoiser has",
    ):
        _module(tmp_path, "+model.cond_drop.style=0.1")
    with pytest.raises(A2AError, match="model.ema_decay"):
        _module(tmp_path, "model.ema_decay=1.0")


def test_checkpoint_needs_a_normaliser(tmp_path):
    module = _module(tmp_path)
    with pytest.raises(A2AError, match="normaliser"):
        module.on_save_checkpoint({})
    with pytest.raises(A2AError, match="not an a2a checkpoint"):
        module.on_load_checkpoint({"state_dict": {}})


def test_training_prints_no_lightning_tips_or_pytree_deprecations(tmp_path):
    """Lightning's litlogger advertisement and torch's LeafSpec FutureWarning printed on every run."""

    code = (
        "import logging, warnings\n"
        "warnings.simplefilter('error', FutureWarning)\n"
        "logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')\n"
        "import a2a.lightning.module\n"
        "import pytorch_lightning as pl\n"
        "from pytorch_lightning.utilities._pytree import _tree_flatten\n"
        "_tree_flatten(1)\n"  # builds a LeafSpec, as every fit does
        f"pl.Trainer(logger=False, enable_checkpointing=False, default_root_dir={str(tmp_path)!r})\n"
        "print('done')\n"
    )
    src = Path(__file__).resolve().parents[1] / "src"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(src)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "done\n"
    assert "GPU available" in done.stderr  # Lightning's other INFO lines still print
    assert "Tip" not in done.stderr and "litlogger" not in done.stderr
