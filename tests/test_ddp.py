"""Tier 2: the tiny EDGE trained with Lightning DDP on two CPU processes (gloo) through the project's config.

Why ``ddp_spawn`` and not the ``ddp`` of ``conf/trainer/ddp.yaml``: Lightning's ``ddp`` starts the other
ranks by re-running the command line (``sys.argv``) in subprocesses. From ``python train.py ...`` that is
the same training script again, which is what the config is for (checked by hand: ``python train.py
trainer=ddp trainer.accelerator=cpu trainer.devices=2 experiment=tiny data.source=...`` trains on gloo).
From pytest it is a second pytest session that re-collects and re-runs the tests with its own temporary
folders, so rank 1 trains on another copy of the data, writes to another output folder and fails there.
``ddp_spawn`` starts the ranks with ``torch.multiprocessing.spawn`` and ships them the already-built
trainer, model and data module instead: the same ``DDPStrategy`` (gloo on CPU, DistributedSampler,
all-reduced gradients) started from inside this process. ``ddp_fork`` passes too when this test runs
alone, but it copies whatever the pytest process holds at that moment (threads and locks of earlier
tests, an initialised CUDA context, which Lightning then refuses); spawned ranks start clean.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import open_dict
from pytorch_lightning.plugins.io import TorchCheckpointIO

import a2a
from a2a.train import train
from tests.conftest import compose_train

pytestmark = pytest.mark.slow

WORLD_SIZE = 2
EPOCHS = 2
BATCH_SIZE = 4  # conf/data/tiny.yaml


class RecordingCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` that also notes every path it writes (the strategy's only file writer)."""

    def __init__(self) -> None:
        super().__init__()
        self.saved: list[str] = []

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        self.saved.append(str(path))
        super().save_checkpoint(checkpoint, path, storage_options=storage_options)


class RankProbe(pl.Callback):
    """Runs inside every DDP rank and writes ``rank{N}.pt`` to ``directory`` at teardown: the rank and
    world size, the size of the whole training set, the checkpoint files this rank wrote, the
    (sequence, start) of every training window it saw, its initial EMA weights and its final live weights."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.io = RecordingCheckpointIO()
        self.windows: list[tuple[str, int]] = []
        self.initial_ema: dict[str, torch.Tensor] = {}
        self.dataset_windows = 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        trainer.strategy.checkpoint_io = self.io

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.dataset_windows = len(trainer.datamodule.dataset("train"))
        self.initial_ema = {k: v.detach().clone() for k, v in pl_module.ema_denoiser.state_dict().items()}

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: dict[str, Any], batch_idx: int
    ) -> None:
        self.windows += list(zip(batch["name"], batch["start"].tolist(), strict=True))

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        record = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "pid": os.getpid(),
            "dataset_windows": self.dataset_windows,
            "saved": self.io.saved,
            "windows": self.windows,
            "initial_ema": self.initial_ema,
            "final_live": {k: v.detach().clone() for k, v in pl_module.denoiser.state_dict().items()},
        }
        torch.save(record, self.directory / f"rank{trainer.global_rank}.pt")


def _child_processes(pid: int) -> list[str]:
    """Command lines of the live child processes of ``pid`` (Linux ``/proc``), leaving out
    multiprocessing's resource tracker, which spawn starts once and which ends with this process."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            cmdline = (status.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:  # the process ended while we looked
            continue
        if int(fields.get("PPid", "0")) == pid and "resource_tracker" not in cmdline:
            children.append(cmdline)
    return children


def test_ddp_two_cpu_processes_train_and_checkpoint_once(synthetic_root: Path, tmp_path: Path) -> None:
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    cfg = compose_train(
        [
            "experiment=tiny",
            "trainer=ddp",
            "trainer.accelerator=cpu",
            f"trainer.devices={WORLD_SIZE}",
            "trainer.strategy=ddp_spawn",
            # trainer=ddp replaces the experiment's trainer=tiny, so the short-run settings come back here.
            f"trainer.max_epochs={EPOCHS}",
            "trainer.check_val_every_n_epoch=1",
            "trainer.log_every_n_steps=1",
            "+trainer.enable_model_summary=false",
            f"data.source={synthetic_root}",
            f"output_dir={tmp_path / 'run'}",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
        ]
    )
    with open_dict(cfg):
        cfg.callbacks["probe"] = {"_target_": f"{__name__}.RankProbe", "directory": str(probe_dir)}
    children_before = _child_processes(os.getpid())

    result = train(cfg)

    assert _child_processes(os.getpid()) == children_before, "DDP ranks were left running"
    ranks = [torch.load(probe_dir / f"rank{r}.pt", weights_only=True) for r in range(WORLD_SIZE)]
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world_size"] for r in ranks} == {WORLD_SIZE}
    assert len({ranks[0]["pid"], ranks[1]["pid"], os.getpid()}) == 3  # two spawned processes

    # The DistributedSampler shards the windows: each rank sees half (the odd one out padded by a repeat),
    # together all of them, every epoch.
    train_windows = ranks[0]["dataset_windows"]
    assert train_windows == ranks[1]["dataset_windows"] > BATCH_SIZE * WORLD_SIZE
    per_rank = math.ceil(train_windows / WORLD_SIZE)
    assert all(len(r["windows"]) == EPOCHS * per_rank for r in ranks)
    for epoch in range(EPOCHS):
        seen = [set(r["windows"][epoch * per_rank : (epoch + 1) * per_rank]) for r in ranks]
        assert len(seen[0] | seen[1]) == train_windows

    # All-reduced gradients keep the replicas identical although they trained on different windows.
    for name, weight in ranks[0]["final_live"].items():
        torch.testing.assert_close(ranks[1]["final_live"][name], weight, rtol=0, atol=0, msg=name)

    # Only rank 0 writes checkpoints: the best of each epoch (save_top_k=2) and last.ckpt.
    checkpoints = tmp_path / "run" / "checkpoints"
    names = [f"epoch{e:04d}.ckpt" for e in range(EPOCHS)] + ["last.ckpt"]
    expected = {str(checkpoints / name) for name in names}
    assert ranks[1]["saved"] == []
    assert set(ranks[0]["saved"]) == expected
    assert {str(p) for p in checkpoints.iterdir()} == expected
    assert result["best_checkpoint"] is not None and str(result["best_checkpoint"]) in expected

    # Optimizer steps: one per batch of a rank's shard (N = 49 windows: ceil(ceil(49 / 2) / 4) = 7 a
    # epoch), about half of the ceil(N / 4) a single process would take.
    steps_per_epoch = math.ceil(per_rank / BATCH_SIZE)
    assert steps_per_epoch < math.ceil(train_windows / BATCH_SIZE)
    last = torch.load(checkpoints / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == EPOCHS * steps_per_epoch
    assert last["epoch"] == EPOCHS - 1
    assert "val/loss" in result["metrics"] and math.isfinite(result["metrics"]["val/loss"])

    generator = a2a.load(checkpoints / "last.ckpt")
    assert generator.info["global_step"] == EPOCHS * steps_per_epoch
    initial = ranks[0]["initial_ema"]
    trained = generator.denoiser.state_dict()
    assert initial.keys() == trained.keys()
    moved = max((trained[k] - v).abs().max().item() for k, v in initial.items() if v.is_floating_point())
    assert moved > 1e-4
