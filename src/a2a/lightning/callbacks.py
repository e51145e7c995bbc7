"""Lightning callbacks of a2a's training run (conf/train.yaml ``callbacks``).

- :class:`ResumeState`: a run resumed with ``ckpt_path=`` continues exactly as the uninterrupted run
  would have: the random-number generators and the position in the training data travel in the
  checkpoint (Lightning saves neither).
- :class:`ProgressLog`: progress as log lines, so a run without a terminal (nohup, SLURM, CI) shows
  what it is doing and the run's ``train.log`` records it.
"""

from __future__ import annotations

import logging
import random
import sys
import time
import warnings
from datetime import timedelta
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback

from a2a.errors import A2AError

log = logging.getLogger(__name__)


def rng_state() -> dict[str, Any]:
    """The global generators' state as tensors and plain values (readable with ``weights_only=True``)."""
    _, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.random.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.random.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            np_state["keys"].numpy().astype(np.uint32),
            np_state["pos"],
            np_state["has_gauss"],
            np_state["cached_gaussian"],
        )
    )
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


class ResumeState(Callback):
    """Saves the random-number state and the training-data position in every full checkpoint and puts
    them back when a run resumes from it.

    The position (epoch, batches done in it) goes to the datamodule's ``resume_at`` (see
    :class:`a2a.data.datamodule.EpochShuffleSampler`), so a run resumed part-way through an epoch continues
    with the windows it had not seen. The generators are restored at ``on_train_start``, after the sanity
    check and loader set-up and before the first training step — the point that matches where the
    interrupted run saved them.
    """

    def __init__(self) -> None:
        self._epoch = 0
        self._batches_done = 0
        self._pending_rng: dict[str, Any] | None = None
        self._trainer: pl.Trainer | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._trainer = trainer

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch, self._batches_done = trainer.current_epoch, 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # Runs before ModelCheckpoint's hook (Lightning orders checkpoint callbacks last), so a step-based
        # checkpoint records this batch as done. After the epoch's last batch the next position is the
        # next epoch's start (Lightning resumes such a checkpoint there).
        if batch_idx + 1 >= trainer.num_training_batches:
            self._epoch, self._batches_done = trainer.current_epoch + 1, 0
        else:
            self._batches_done = batch_idx + 1

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._epoch, self._batches_done = trainer.current_epoch + 1, 0

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self._epoch, "batches_done": self._batches_done, "rng": rng_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._epoch = int(state_dict["epoch"])
        self._batches_done = int(state_dict["batches_done"])
        self._pending_rng = state_dict["rng"]
        datamodule = getattr(self._trainer, "datamodule", None)
        if datamodule is not None and hasattr(datamodule, "resume_at"):
            datamodule.resume_at(self._epoch, self._batches_done)
            if self._trainer is not None and self._trainer.world_size == 1:
                # The datamodule skips the batches already done, which is what this warning asks for;
                # under DDP Lightning's DistributedSampler takes over and the warning stands.
                warnings.filterwarnings("ignore", message=r".*resuming from a checkpoint that ended before")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def _metric_text(metrics: dict[str, Any], names: tuple[str, ...]) -> str:
    parts = []
    for name in names:
        value = metrics.get(name)
        if value is not None:
            parts.append(f"{name} {float(value):.4g}")
    return ", ".join(parts)


class ProgressLog(Callback):
    """Training progress as log lines: one when training starts, one every ``every_seconds`` (epoch,
    step, loss, throughput, estimated time left), one per validation (its metrics) and one at the end.

    Without a terminal (nohup, SLURM, CI logs), where a progress bar prints nothing until the end, the
    lines go to the console and the run's ``train.log``. In a terminal with a progress bar, the bar is the
    console's view and the lines go to the log files only (a log line written under a live bar garbles it).

    Args:
        every_seconds: interval of the periodic lines (0: after every step).
    """

    def __init__(self, every_seconds: float = 60.0) -> None:
        if every_seconds < 0:
            raise A2AError(f"callbacks.progress_log.every_seconds must be >= 0, got {every_seconds}")
        self.every_seconds = float(every_seconds)
        self._files_only = False
        self._start = 0.0
        self._last = 0.0
        self._start_step = 0
        self._windows = 0

    def _emit(self, message: str, *args: Any) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        if not self._files_only:
            log.info(message, *args)
            return
        record = log.makeRecord(log.name, logging.INFO, __file__, 0, message, args, None)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.FileHandler):
                handler.handle(record)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._files_only = sys.stdout.isatty() and trainer.progress_bar_callback is not None
        self._start = self._last = time.monotonic()
        self._start_step = trainer.global_step
        self._windows = 0
        if trainer.is_global_zero:
            resumed = f", resuming at step {trainer.global_step}" if trainer.global_step else ""
            self._emit(
                "training: %s epochs of %s batches (%s steps)%s; run directory %s",
                trainer.max_epochs,
                trainer.num_training_batches,
                trainer.estimated_stepping_batches,
                resumed,
                trainer.default_root_dir,
            )

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        motion = batch.get("motion") if isinstance(batch, dict) else None
        self._windows += int(motion.shape[0]) if motion is not None else 0
        now = time.monotonic()
        if not trainer.is_global_zero or now - self._last < self.every_seconds:
            return
        self._last = now
        elapsed = now - self._start
        steps = trainer.global_step - self._start_step
        rate = steps / elapsed if elapsed > 0 else 0.0
        total = trainer.estimated_stepping_batches
        eta = ""
        if rate > 0 and total != float("inf"):
            eta = f", ETA {_clock((total - trainer.global_step) / rate)}"
        loss = _metric_text(trainer.callback_metrics, ("train/loss",))
        self._emit(
            "epoch %d/%s step %d/%s%s | %.3g steps/s, %.3g windows/s | elapsed %s%s",
            trainer.current_epoch + 1,
            trainer.max_epochs,
            trainer.global_step,
            total,
            f" | {loss}" if loss else "",
            rate,
            self._windows / elapsed if elapsed > 0 else 0.0,
            _clock(elapsed),
            eta,
        )

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = _metric_text(
            trainer.callback_metrics, ("train/loss", "val/loss", "val/validator_reward", "val/validator_rmse")
        )
        self._emit("epoch %d step %d: %s", trainer.current_epoch + 1, trainer.global_step, metrics or "-")

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        self._emit(
            "training finished after %d epochs, %d steps: %d steps in %s",
            trainer.current_epoch,
            trainer.global_step,
            trainer.global_step - self._start_step,
            _clock(time.monotonic() - self._start),
        )
