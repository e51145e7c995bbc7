"""``ClassifierModule``: trains a classifier of a categorical condition (the genre) from audio features.

``python train.py model=genre_classifier data=aistpp``: the same data, features and windows as the dance
models; the label is the batch's one-hot condition ``target`` (``genre``). Its checkpoint carries the network
config, the label vocabulary and the feature config, so ``a2a attach-classifier`` can put it into a
genre-conditioned model's checkpoint, whose generator then picks the genre the music implies
(``style="auto"``).
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor

from a2a.checkpoint.format import metadata
from a2a.config import instantiate
from a2a.errors import A2AError
from a2a.lightning.module import _plain

CLASSIFIER_KIND = "classifier"


class ClassifierModule(pl.LightningModule):
    """Cross-entropy training of ``network`` on ``cond["audio"]`` windows, labels from ``cond[target]``.

    Args:
        network: ``_target_`` config of the classifier (``a2a.models.classifier.AudioClassifier``).
        optimizer: ``_target_`` config of a torch optimizer, ``_partial_: true``.
        conditions: what the data must provide (``[audio, genre]``).
        target: the categorical condition to predict.
        fps, window, features: as the diffusion models' (stored for generation-time use).
        representation: the motion encoding the data uses (not used by the classifier).
    """

    def __init__(
        self,
        network: dict,
        optimizer: dict,
        conditions: list[str] | None = None,
        target: str = "genre",
        fps: float = 30.0,
        window: int = 150,
        features: dict | None = None,
        representation: dict | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            {
                "network": _plain(network),
                "optimizer": _plain(optimizer),
                "conditions": list(_plain(conditions) or ["audio", target]),
                "target": str(target),
                "fps": float(fps),
                "window": int(window),
                "features": _plain(features or {}),
                "representation": _plain(representation or {}),
            }
        )
        if target not in self.hparams.conditions:
            raise A2AError(
                f"model.target={target!r} must be one of model.conditions {self.hparams.conditions}"
            )
        self.network = instantiate(self.hparams.network)
        self.vocabularies: dict[str, list[str]] = {}

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "vocabularies") and not self.vocabularies:
            self.vocabularies = datamodule.vocabularies()

    def _step(self, batch: dict[str, Any]) -> tuple[Tensor, Tensor, int]:
        one_hot = batch["cond"][self.hparams.target]  # [B, C]; all zeros for an unknown label
        labelled = one_hot.sum(dim=-1) > 0
        logits = self.network(batch["cond"]["audio"][labelled])
        labels = one_hot[labelled].argmax(dim=-1)
        if len(labels) == 0:
            return logits.sum() * 0.0, torch.zeros((), device=logits.device), 0
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=-1) == labels).float().mean()
        return loss, accuracy, len(labels)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        loss, accuracy, count = self._step(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=max(count, 1))
        self.log("train/accuracy", accuracy, batch_size=max(count, 1))
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        loss, accuracy, count = self._step(batch)
        self.log("val/loss", loss, prog_bar=True, batch_size=max(count, 1), sync_dist=True)
        self.log("val/accuracy", accuracy, prog_bar=True, batch_size=max(count, 1), sync_dist=True)

    def configure_optimizers(self):
        return instantiate(self.hparams.optimizer)(params=self.network.parameters())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        labels = self.vocabularies.get(self.hparams.target)
        if not labels:
            raise A2AError(
                "cannot save a classifier before its labels are known (train on a datamodule first)"
            )
        checkpoint["a2a"] = metadata(
            kind=CLASSIFIER_KIND,
            normalizer={},
            representation={},
            fps=self.hparams.fps,
            window=self.hparams.window,
            vocabularies=self.vocabularies,
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.vocabularies = dict((checkpoint.get("a2a") or {}).get("vocabularies") or {})
