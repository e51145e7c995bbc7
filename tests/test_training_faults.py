"""Training faults: exact resume (random state, data position, top-k in place), step-based checkpoints,
unreadable ``ckpt_path``, checkpoint sizes and no silent ``-v1`` files, progress log lines."""

from __future__ import annotations

import csv
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pytorch_lightning.callbacks import Callback

from a2a.errors import A2AError, CheckpointError
from a2a.train import train
from tests.conftest import REPO, compose_train

QUIET = ["~callbacks.progress", "+trainer.enable_progress_bar=false"]


def _tiny(root: Path, out: Path, *overrides: str):
    return compose_train(["experiment=tiny", f"data.source={root}", f"output_dir={out}", *QUIET, *overrides])


def _step_losses(run: Path) -> dict[int, float]:
    """train/loss per global step (0-based step of the batch) over every CSV log version of ``run``."""
    losses: dict[int, float] = {}
    for path in sorted(run.glob("tiny/version_*/metrics.csv")):
        with path.open() as handle:
            for row in csv.DictReader(handle):
                if row.get("train/loss"):
                    losses[int(row["step"])] = float(row["train/loss"])
    return losses


class Killed(Exception):
    pass


class _KillAt(Callback):
    """Stands in for a kill after ``step`` optimizer steps: the run dies mid-epoch, before any checkpoint
    hook of that batch runs (ModelCheckpoint saves only from its own hooks, not on exceptions)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise Killed


def test_resume_is_exact_and_continues_top_k_in_place(synthetic_root, tmp_path):
    full = train(_tiny(synthetic_root, tmp_path / "full", "trainer.max_epochs=3"))
    run = tmp_path / "run"
    train(_tiny(synthetic_root, run, "trainer.max_epochs=1"))
    resumed = train(
        _tiny(synthetic_root, run, "trainer.max_epochs=3", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}")
    )
    expected, got = _step_losses(tmp_path / "full"), _step_losses(run)
    assert sorted(got) == sorted(expected) == list(range(6))
    # Step 2 is the first step after the resume: same noise, same condition dropout, same batch.
    assert got[2] == pytest.approx(expected[2], rel=1e-6, abs=1e-7)
    for step in range(6):
        assert got[step] == pytest.approx(expected[step], rel=1e-5), step
    assert resumed["metrics"]["val/loss"] == pytest.approx(full["metrics"]["val/loss"], rel=1e-5)
    # Top-k tracking continued across the resume: the same two epochs survive in both runs.
    names = sorted(p.name for p in (run / "checkpoints").glob("*.ckpt"))
    assert names == sorted(p.name for p in (tmp_path / "full" / "checkpoints").glob("*.ckpt"))
    assert resumed["best_checkpoint"].name == full["best_checkpoint"].name


def test_step_checkpoints_lose_at_most_n_steps_and_resume_mid_epoch_exactly(synthetic_root, tmp_path):
    every = 2
    common = ["trainer.limit_train_batches=7", f"checkpoint_every_n_steps={every}"]
    train(_tiny(synthetic_root, tmp_path / "full", *common))
    run = tmp_path / "run"
    killed = _tiny(
        synthetic_root, run, *common, f"+callbacks.kill._target_={__name__}._KillAt", "+callbacks.kill.step=5"
    )
    with pytest.raises(Killed):
        train(killed)
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == 0 and 5 - every <= last["global_step"] < 5  # mid-epoch, at most N steps lost
    assert last["global_step"] == 4
    train(_tiny(synthetic_root, run, *common, f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"))
    expected, got = _step_losses(tmp_path / "full"), _step_losses(run)
    assert sorted(expected) == list(range(7))
    # The resumed run continues with the windows of batches 5-7, not the epoch's first ones again.
    for step in (4, 5, 6):
        assert got[step] == pytest.approx(expected[step], rel=1e-5), step


@pytest.mark.slow
def test_a_real_kill_mid_epoch_keeps_the_last_step_checkpoint(synthetic_root, tmp_path):
    """The process is SIGKILLed (no Python handler runs) after its 5th step."""
    run = tmp_path / "run"
    script = f"""
import os, signal
from pytorch_lightning.callbacks import Callback
from a2a.config import compose_config
from a2a.train import train

class Kill(Callback):
    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == 5:
            os.kill(os.getpid(), signal.SIGKILL)

cfg = compose_config("train", ["experiment=tiny", "data.source={synthetic_root}", "output_dir={run}",
    "~callbacks.progress", "+trainer.enable_progress_bar=false", "trainer.limit_train_batches=7",
    "checkpoint_every_n_steps=3", "+callbacks.kill._target_=__main__.Kill"])
train(cfg)
"""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 3  # saved at step 3; steps 4 and 5 lost (< N = 3)


@pytest.mark.parametrize("content", [b"", b"just some text\n", "truncated"])
def test_unreadable_ckpt_path_fails_before_data_setup(
    synthetic_root, tiny_checkpoint, tmp_path, content, monkeypatch
):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(tiny_checkpoint.read_bytes()[:5000] if content == "truncated" else content)
    opened = []
    monkeypatch.setattr("a2a.data.datamodule.open_source", lambda *a, **k: opened.append(a))
    with pytest.raises(CheckpointError, match=r"^ckpt_path=.*bad\.ckpt: not a readable checkpoint"):
        train(_tiny(synthetic_root, tmp_path / "run", f"ckpt_path={bad}"))
    assert opened == []
    with pytest.raises(CheckpointError, match=r"ckpt_path=.*nothing\.ckpt: no such checkpoint file"):
        train(_tiny(synthetic_root, tmp_path / "run", f"ckpt_path={tmp_path / 'nothing.ckpt'}"))


def test_top_k_checkpoints_are_weights_only_and_still_load(synthetic_root, tmp_path):
    import a2a

    result = train(_tiny(synthetic_root, tmp_path / "run", "trainer.max_epochs=2"))
    best, last = result["best_checkpoint"], result["last_checkpoint"]
    assert best.name == "epoch0001.ckpt" and last.name == "last.ckpt"
    top = torch.load(best, map_location="cpu", weights_only=True)
    full = torch.load(last, map_location="cpu", weights_only=True)
    assert "optimizer_states" not in top and "callbacks" not in top
    assert full["optimizer_states"][0]["state"] and "ResumeState" in full["callbacks"]
    # Adam keeps two moments per live weight: the top-k file is smaller by about that much.
    moments = sum(v.numel() for k, v in top["state_dict"].items() if k.startswith("denoiser.")) * 2 * 4
    assert best.stat().st_size < last.stat().st_size - 0.9 * moments
    assert a2a.load(best).info["global_step"] == 4  # the generator loader reads weights-only files
    with pytest.raises(CheckpointError, match="holds weights only, nothing to resume.*init_from="):
        train(_tiny(synthetic_root, tmp_path / "run2", f"ckpt_path={best}"))


def test_a_second_fresh_run_into_the_same_folder_is_refused_not_versioned(synthetic_root, tmp_path):
    train(_tiny(synthetic_root, tmp_path / "run"))
    with pytest.raises(
        A2AError, match=r"already holds checkpoints of an earlier run \(epoch0000.ckpt, last.ckpt\)"
    ):
        train(_tiny(synthetic_root, tmp_path / "run"))
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "epoch0000.ckpt",
        "last.ckpt",
    ]


def _hydra_view(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("train", overrides=overrides, return_hydra_config=True)


def test_resume_run_dir_is_the_checkpoints_run(tmp_path):
    run = tmp_path / "outputs" / "train" / "2024-01-01_00-00-00"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    ckpt = run / "checkpoints" / "last.ckpt"
    resumed = _hydra_view([f"ckpt_path={ckpt}"])
    assert resumed.hydra.run.dir == str(run)
    assert resumed.hydra.output_subdir.startswith(".hydra/resumed-")
    fresh = _hydra_view([])
    assert fresh.hydra.run.dir.startswith("outputs/train/") and fresh.hydra.output_subdir == ".hydra"
    elsewhere = _hydra_view([f"ckpt_path={tmp_path / 'copy.ckpt'}"])
    assert elsewhere.hydra.run.dir.startswith("outputs/train/")


def test_progress_lines_are_logged(synthetic_root, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="a2a.lightning.callbacks")
    train(
        _tiny(
            synthetic_root,
            tmp_path / "run",
            "callbacks.progress_log.every_seconds=0",
        )
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "a2a.lightning.callbacks"]
    assert lines[0].startswith("training: 1 epochs of 2 batches (2 steps)")
    periodic = [line for line in lines if line.startswith("epoch 1/1 step ")]
    assert [line.split()[3] for line in periodic] == ["1/2", "2/2"]
    assert "train/loss" in periodic[-1] and "windows/s" in periodic[-1] and "ETA 0:00:00" in periodic[-1]
    assert any(line.startswith("epoch 1 step 2: ") and "val/loss" in line for line in lines)
    assert lines[-1].startswith("training finished")


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_demo_trains_into_a_fresh_directory_and_evaluates_that_run(tmp_path):
    demo = tmp_path / "demo"
    dry = subprocess.run(
        ["make", "-n", "demo", f"VENV={tmp_path / 'venv'}", f"DEMO_OUT={demo}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    train_at = next(i for i, line in enumerate(dry) if " train.py " in line)
    run_dir = re.search(r"hydra\.run\.dir=(\S+)", dry[train_at]).group(1)
    assert run_dir == f"{demo}/train"
    # The previous demo's run is removed before training (train.py would refuse its checkpoints) ...
    assert any(line.startswith("rm -rf") and run_dir in line.split() for line in dry[:train_at])
    # ... and evaluation reads the checkpoint this training run wrote.
    evaluate = next(line for line in dry[train_at:] if " evaluate.py " in line)
    assert re.search(r"ckpt=(\S+)", evaluate).group(1) == f"{run_dir}/checkpoints/last.ckpt"


def test_in_a_terminal_progress_lines_go_to_the_log_file_only(synthetic_root, tmp_path, caplog, monkeypatch):
    """A log line printed under a live progress bar garbles it; the bar is the terminal's view."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    log_file = tmp_path / "train.log"
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    caplog.set_level(logging.INFO, logger="a2a.lightning.callbacks")
    try:
        cfg = compose_train(
            [
                "experiment=tiny",
                f"data.source={synthetic_root}",
                f"output_dir={tmp_path / 'run'}",
                "callbacks.progress_log.every_seconds=0",
            ]
        )
        train(cfg)
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert not [r for r in caplog.records if r.name == "a2a.lightning.callbacks"]
    text = log_file.read_text()
    assert "training: 1 epochs of 2 batches" in text and "epoch 1/1 step 2/2" in text
    assert "val/loss" in text and "training finished after 1 epochs, 2 steps" in text
