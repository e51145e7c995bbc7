"""``train(cfg)``: the function behind ``python train.py`` (through :func:`train_command`); tests call it
directly."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.errors import InstantiationException
from lightning_fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_info

from a2a.config import config_source, instantiate
from a2a.doors import FailedRunCleanup, check_accelerator, one_line_errors
from a2a.errors import A2AError, CheckpointError

log = logging.getLogger(__name__)

# A fresh run refuses a folder that holds checkpoints (see _refuse_stale_checkpoints), so Lightning's warning
# about a non-empty checkpoint folder only fires when a run resumes in place, where it is expected.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


def _initial_weights(path: str | None) -> dict[str, Any] | None:
    """An a2a checkpoint (e.g. converted EDGE weights) to start from: weights and normaliser only."""
    if not path:
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # missing, truncated, foreign pickles alike
        raise CheckpointError(f"init_from={path}: not a readable checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "normalizer" not in ckpt.get("a2a", {}):
        raise CheckpointError(
            f"init_from={path}: not an a2a checkpoint (needs state_dict and a2a.normalizer)"
        )
    return ckpt


def check_resume_checkpoint(path: str | None) -> None:
    """Refuse a ``ckpt_path`` that cannot resume a run — missing, truncated, not a checkpoint, or weights
    only — before any data is read. Tensors are memory-mapped, so a large checkpoint costs no copy."""
    if not path:
        return
    if not Path(path).is_file():
        raise CheckpointError(f"ckpt_path={path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # empty, truncated, text and foreign pickles alike
        raise CheckpointError(f"ckpt_path={path}: not a readable checkpoint ({exc})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "normalizer" not in ckpt.get("a2a", {}):
        raise CheckpointError(
            f"ckpt_path={path}: not an a2a checkpoint (needs state_dict and a2a.normalizer)"
        )
    if "optimizer_states" not in ckpt or "loops" not in ckpt:
        raise CheckpointError(
            f"ckpt_path={path}: holds weights only, nothing to resume (no optimizer state); resume from "
            f"the run's last.ckpt, or start from these weights with init_from={path}"
        )


def _checkpoint_callbacks(callbacks: list[Any]) -> list[ModelCheckpoint]:
    return [c for c in callbacks if isinstance(c, ModelCheckpoint)]


def _refuse_stale_checkpoints(callbacks: list[ModelCheckpoint]) -> None:
    """A fresh run must not write into a folder that holds another run's checkpoints: Lightning would add
    ``last-v1.ckpt`` beside the stale ``last.ckpt`` and rank its top-k among the old files."""
    for callback in callbacks:
        if callback.dirpath is None:
            continue
        stale = sorted(p.name for p in Path(callback.dirpath).glob("*.ckpt"))
        if stale:
            listed = ", ".join(stale[:3]) + (", ..." if len(stale) > 3 else "")
            raise A2AError(
                f"{callback.dirpath} already holds checkpoints of an earlier run ({listed}): resume it "
                f"with ckpt_path={callback.dirpath}/last.ckpt, or train into a new hydra.run.dir"
            )


def _build_trainer(cfg: DictConfig, callbacks: list[Any], logger: Any) -> pl.Trainer:
    try:
        return instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    except InstantiationException as exc:
        if isinstance(exc.__cause__, MisconfigurationException):
            raise A2AError(f"trainer: {exc.__cause__}") from None
        raise


def check_model_conditions(cfg: DictConfig) -> None:
    """The data provides every condition the model is trained on (``model.conditions`` ⊆
    ``data.provides``), named with both config files. Runs before the config is resolved, so a model
    paired with the wrong kind of data fails here rather than on an interpolation it cannot resolve."""
    wanted = list(cfg.model.get("conditions") or [])
    provided = cfg.data.get("provides")
    if provided is None:  # a data config that declares nothing is checked by its datamodule
        return
    missing = [key for key in wanted if key not in provided]
    if missing:
        raise A2AError(
            f"{config_source('model')}: the model is trained on condition(s) {', '.join(missing)}, which "
            f"{config_source('data')} does not provide (data.provides: {', '.join(provided) or 'none'})"
        )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Compose data, model, trainer, logger and callbacks from ``cfg``; fit; return where things went.

    Returns a dict with ``best_checkpoint``, ``last_checkpoint`` (paths or ``None``) and ``metrics``
    (the trainer's final callback metrics as floats).
    """
    check_model_conditions(cfg)
    OmegaConf.resolve(cfg)  # every interpolation fixed once, so checkpoints store plain values
    # Everything a user can get wrong in a path or device fails here, before any data is read.
    check_resume_checkpoint(cfg.get("ckpt_path"))
    check_accelerator(cfg.trainer.get("accelerator"))
    init = _initial_weights(cfg.get("init_from"))
    if not cfg.get("sampler"):
        raise A2AError(
            f"{config_source('sampler')}: train.py stores its sampler in the checkpoint, so it needs one "
            "that builds (e.g. sampler=ddim)"
        )
    # Fine-tuning: the weights were trained in the source checkpoint's normalised space, so the data must
    # be normalised the same way.
    datamodule = (
        instantiate(cfg.data) if init is None else instantiate(cfg.data, normalizer=init["a2a"]["normalizer"])
    )
    _ = datamodule.source  # opens the dataset: a wrong data.source fails now
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    checkpointers = _checkpoint_callbacks(callbacks)
    if not cfg.get("ckpt_path"):
        _refuse_stale_checkpoints(checkpointers)
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True)
    model = instantiate(cfg.model)
    if init is not None:
        try:
            model.load_state_dict(init["state_dict"])
        except RuntimeError as exc:
            raise A2AError(
                f"init_from={cfg.init_from}: weights do not fit model={cfg.model._target_}: {exc}"
            ) from None
        model.set_normalizer(datamodule.normalizer)
    if model.hparams.window != datamodule.window_frames:
        raise A2AError(
            f"model.window ({model.hparams.window}) differs from the data windows "
            f"({datamodule.window_frames} frames)"
        )
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer = _build_trainer(cfg, callbacks, logger)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    ranked = [c for c in checkpointers if c.monitor and c.save_top_k != 0]
    best = (ranked[0].best_model_path if ranked else "") or None
    # last.ckpt comes from the checkpoint callbacks without a monitor (conf/train.yaml `last`, `last_steps`).
    newest = [c for c in checkpointers if not c.monitor]
    last = next((c.best_model_path for c in newest if c.best_model_path), None)
    if last is None:
        # Spawned DDP ranks send back only best_model_path; the file itself is where rank 0 left it.
        for callback in newest:
            candidate = Path(callback.dirpath or "") / "last.ckpt"
            if candidate.exists():
                last = str(candidate)
                break
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    rank_zero_info(f"best checkpoint: {best}")
    return {
        "best_checkpoint": Path(best) if best else None,
        "last_checkpoint": Path(last) if last else None,
        "metrics": metrics,
    }


def train_command(cfg: DictConfig) -> None:
    """``python train.py``: :func:`train` in Hydra's run directory.

    a2a's user errors print one line and exit with status 2. A run that fails before writing any
    checkpoint removes the run directory it created, so failed attempts leave no empty timestamped
    folders; a failed resume removes only the config folder it added to the original run
    (``.hydra/resumed-*``). A directory that held anything else beforehand is left alone.
    """
    with one_line_errors("train"), FailedRunCleanup(keep_checkpoints=True):
        train(cfg)


def train_tiny(source: str | Path, output_dir: str | Path, overrides: tuple[str, ...] = ()) -> Path:
    """A real checkpoint in seconds: ``experiment=tiny`` (two steps of edge_tiny) on the dataset at
    ``source``. For tests, benchmarks and notebooks; returns the ``last.ckpt`` path."""
    from a2a.config import compose_config

    cfg = compose_config(
        "train",
        [
            "experiment=tiny",
            f"data.source={source}",
            f"output_dir={output_dir}",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
            *overrides,
        ],
    )
    last = train(cfg)["last_checkpoint"]
    if last is None:
        raise A2AError(f"tiny training in {output_dir} wrote no checkpoint")
    return last
