"""``train(cfg)``: the function behind ``python train.py``; tests call it directly."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.utilities import rank_zero_info

from a2a.config import instantiate
from a2a.errors import A2AError, CheckpointError

log = logging.getLogger(__name__)


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


def train(cfg: DictConfig) -> dict[str, Any]:
    """Compose data, model, trainer, logger and callbacks from ``cfg``; fit; return where things went.

    Returns a dict with ``best_checkpoint``, ``last_checkpoint`` (paths or ``None``) and ``metrics``
    (the trainer's final callback metrics as floats).
    """
    OmegaConf.resolve(cfg)  # every interpolation fixed once, so checkpoints store plain values
    if cfg.get("seed") is not None:
        pl.seed_everything(int(cfg.seed), workers=True)
    init = _initial_weights(cfg.get("init_from"))
    if init is None:
        datamodule = instantiate(cfg.data)
        model = instantiate(cfg.model)
    else:
        # Fine-tuning: the weights were trained in the source checkpoint's normalised space, so the data
        # must be normalised the same way.
        datamodule = instantiate(cfg.data, normalizer=init["a2a"]["normalizer"])
        model = instantiate(cfg.model)
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
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    checkpoint = trainer.checkpoint_callback
    best = getattr(checkpoint, "best_model_path", "") or None
    last = getattr(checkpoint, "last_model_path", "") or None
    if last is None and getattr(checkpoint, "dirpath", None):
        # Spawned DDP ranks send back only best_model_path; the file itself is where rank 0 left it.
        candidate = Path(checkpoint.dirpath) / "last.ckpt"
        last = str(candidate) if candidate.exists() else None
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    rank_zero_info(f"best checkpoint: {best}")
    return {
        "best_checkpoint": Path(best) if best else None,
        "last_checkpoint": Path(last) if last else None,
        "metrics": metrics,
    }


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
