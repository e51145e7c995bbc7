"""``train(cfg)``: the function behind ``python train.py``; tests call it directly."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from a2a.config import instantiate
from a2a.errors import A2AError

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, Any]:
    """Compose data, model, trainer, logger and callbacks from ``cfg``; fit; return where things went.

    Returns a dict with ``best_checkpoint``, ``last_checkpoint`` (paths or ``None``) and ``metrics``
    (the trainer's final callback metrics as floats).
    """
    OmegaConf.resolve(cfg)  # every interpolation fixed once, so checkpoints store plain values
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True)
    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)
    if model.hparams.window != datamodule.window_frames:
        raise A2AError(
            f"model.window ({model.hparams.window}) differs from the data windows "
            f"({datamodule.window_frames} frames)"
        )
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    checkpoint = trainer.checkpoint_callback
    best = getattr(checkpoint, "best_model_path", "") or None
    last = getattr(checkpoint, "last_model_path", "") or None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    log.info("best checkpoint: %s", best)
    return {
        "best_checkpoint": Path(best) if best else None,
        "last_checkpoint": Path(last) if last else None,
        "metrics": metrics,
    }
