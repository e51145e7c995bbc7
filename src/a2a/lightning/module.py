"""``DiffusionModule``: trains any model family's denoiser with the shared diffusion core.

The module is built from plain config dicts (Hydra ``_target_`` nodes) — denoiser, schedule,
representation, loss, long-form strategy — which Lightning stores as ``hyper_parameters`` in every
checkpoint. Together with the normaliser statistics and the ``a2a`` block written in
:meth:`on_save_checkpoint` (:func:`a2a.checkpoint.metadata`), a checkpoint alone rebuilds its
generator — no pickled training classes. Nothing here is specific to one family: batches carry named
conditions, classifier-free-guidance dropout is per condition key, and the loss's named terms are
logged as they come.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf
from torch import Tensor
from torch.optim.swa_utils import get_ema_multi_avg_fn

from a2a.checkpoint.format import TRAINED_KIND, metadata, migrate
from a2a.config import config_source, instantiate
from a2a.diffusion.conditions import ConditionDropout, cond_rows
from a2a.diffusion.training import diffusion_training_inputs, training_target
from a2a.errors import A2AError
from a2a.motion.normalizer import Normalizer, normalizer_from_state_dict

log = logging.getLogger(__name__)

# The EMA copy of the denoiser is in eval mode on purpose; Lightning's start-of-fit warning about eval-mode
# modules would only alarm users.
warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode at the start of training.*")
# Lightning 2.6 builds torch pytree LeafSpecs, which torch 2.13 deprecates: noise no a2a user can act on.
warnings.filterwarnings(
    "ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning
)


def _no_lightning_tips(record: logging.LogRecord) -> bool:
    """Drop Lightning's "💡 Tip: try installing litlogger/litmodels" advertisements (every Trainer)."""
    return not record.getMessage().startswith("💡 Tip:")


for _name in ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero"):
    logging.getLogger(_name).addFilter(_no_lightning_tips)


def _plain(cfg: Any) -> Any:
    """Resolved plain containers from DictConfig/ListConfig (or containers that may hold them)."""
    if OmegaConf.is_config(cfg):
        return OmegaConf.to_container(cfg, resolve=True)
    return copy.deepcopy(cfg)


def _without_nulls(value: Any) -> Any:
    """A mapping without its ``None`` entries (anything else as it is)."""
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if item is not None}
    return value


def check_conditions(denoiser: Any, conditions: list[str], cond_drop: dict[str, float]) -> None:
    """The denoiser consumes only the model's conditions (``model.conditions``, which the data provides)
    and drops only conditions it can replace."""
    consumed = tuple(getattr(denoiser, "conditions", ()))
    droppable = tuple(getattr(denoiser, "droppable", ()))
    name = type(denoiser).__name__
    missing = [key for key in consumed if key not in conditions]
    if missing:
        raise A2AError(
            f"{config_source('model')}: model.denoiser {name} consumes condition(s) {', '.join(missing)}, "
            f"which the model is not trained on (model.conditions: {', '.join(conditions) or 'none'}); "
            "add it there"
        )
    extra = [key for key in cond_drop if key not in droppable]
    if extra:
        raise A2AError(
            f"{config_source('model')}: model.cond_drop names {', '.join(extra)}, but {name} has a null "
            f"condition only for {', '.join(droppable) or 'nothing'}"
        )


class DiffusionModule(pl.LightningModule):
    """Diffusion training of a motion denoiser with EMA, per-condition CFG dropout and a configured loss.

    Args:
        denoiser: ``_target_`` config of the network (follows :class:`a2a.diffusion.Denoiser`; declares
            the ``conditions`` it consumes and the ``droppable`` ones it has a null condition for).
        schedule: ``_target_`` config of the noise schedule.
        representation: ``_target_`` config of the motion representation (e.g. EDGE's 151-d).
        loss: ``_target_`` config of an :class:`a2a.losses.MotionLoss` (built with the representation).
        optimizer: ``_target_`` config of a torch optimizer, ``_partial_: true`` (params come later).
        sampler: ``_target_`` config of the default sampler stored for generation.
        longform: ``_target_`` config of the :class:`a2a.diffusion.LongFormStrategy` generation uses.
        conditions: the condition keys the data provides (``data.conditions``), stored for generation.
        cond_drop: ``{key: probability}`` of training a sample without that condition (classifier-free
            guidance; EDGE: ``{audio: 0.25}``).
        guidance_weight: default CFG weight at generation (a number, or ``{key: weight}``).
        ema_decay: EMA decay; the EMA weights are what generation uses.
        ema_warmup: ramp the decay as ``min(decay, (1 + step) / (10 + step))`` (off in EDGE; useful for
            short runs, where a 0.9999 EMA would still be the random initialisation).
        fps, window: frames per second and frames per training window (for the checkpoint).
        features: the audio-feature config (stored so generation extracts the same features).
        validation: ``every_n_epochs``, ``windows``, ``sampler`` (a cheaper sampler config): every N
            epochs, score a few generated windows against ground truth with the subnet-25 validator.
    """

    def __init__(
        self,
        denoiser: dict,
        schedule: dict,
        representation: dict,
        loss: dict,
        optimizer: dict,
        sampler: dict,
        longform: dict | None = None,
        conditions: list[str] | None = None,
        cond_drop: dict[str, float] | None = None,
        guidance_weight: float | dict[str, float] = 2.0,
        ema_decay: float = 0.9999,
        ema_warmup: bool = False,
        fps: float = 30.0,
        window: int = 150,
        features: dict | None = None,
        validation: dict | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(
            {
                "denoiser": _plain(denoiser),
                "schedule": _plain(schedule),
                "representation": _plain(representation),
                "loss": _plain(loss),
                "optimizer": _plain(optimizer),
                "sampler": _plain(sampler),
                "longform": _plain(longform or {"_target_": "a2a.diffusion.OverlapStitch"}),
                "conditions": list(_plain(conditions) or ["audio"]),
                # a null entry removes one inherited from a parent config (dsg_dance: style → genre)
                "cond_drop": _without_nulls(_plain(cond_drop) or {}),
                "guidance_weight": _without_nulls(_plain(guidance_weight)),
                "ema_decay": float(ema_decay),
                "ema_warmup": bool(ema_warmup),
                "fps": float(fps),
                "window": int(window),
                "features": _plain(features or {}),
                "validation": _plain(validation or {}),
            }
        )
        if not 0.0 <= ema_decay < 1.0:
            raise A2AError(f"model.ema_decay must be in [0, 1), got {ema_decay}")
        self.condition_dropout = ConditionDropout(self.hparams.cond_drop)
        self.denoiser = instantiate(self.hparams.denoiser)
        check_conditions(self.denoiser, self.hparams.conditions, self.hparams.cond_drop)
        self.ema_denoiser = copy.deepcopy(self.denoiser).requires_grad_(False).eval()
        self.schedule = instantiate(self.hparams.schedule)
        self.representation = instantiate(self.hparams.representation)
        self.motion_loss = instantiate(self.hparams.loss, representation=self.representation)
        self.normalizer: Normalizer | None = None
        # values of the categorical conditions (style, genre) in one-hot order, from the data
        self.vocabularies: dict[str, list[str]] = {}

    # --- normaliser -----------------------------------------------------------------------------

    def set_normalizer(self, normalizer: Normalizer) -> None:
        """Adopt the training-split normaliser; it travels in every checkpoint from then on."""
        if normalizer.num_channels != self.representation.dim:
            raise A2AError(
                f"normaliser has {normalizer.num_channels} channels, "
                f"representation has {self.representation.dim}"
            )
        self.normalizer = normalizer

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if self.normalizer is None and datamodule is not None and getattr(datamodule, "normalizer", None):
            self.set_normalizer(datamodule.normalizer)
        if datamodule is not None and hasattr(datamodule, "vocabularies") and not self.vocabularies:
            self.vocabularies = datamodule.vocabularies()

    # --- training -------------------------------------------------------------------------------

    def _step_losses(self, batch: dict[str, Any], denoiser: torch.nn.Module, keep_cond: Any):
        x0, cond = batch["motion"], batch["cond"]
        x_t, t, noise = diffusion_training_inputs(x0, self.schedule)
        out = denoiser(x_t, t, cond, keep_cond)
        prediction = self.schedule.prediction
        x0_hat = out if prediction == "x0" else self.schedule.predict_x0(x_t, t, out)
        target = training_target(x0, noise, prediction)
        return self.motion_loss(x0_hat, x0, self.normalizer, output=out, target=target)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        batch_size = batch["motion"].shape[0]
        keep = self.condition_dropout.keep_masks(batch_size, device=self.device)
        terms = self._step_losses(batch, self.denoiser, keep)
        self.log("train/loss", terms["total"], prog_bar=True, batch_size=batch_size)
        for name, value in terms.items():
            if name != "total":
                self.log(f"train/{name}", value, batch_size=batch_size)
        return terms["total"]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        decay = self.hparams.ema_decay
        if self.hparams.ema_warmup:
            step = self.global_step
            decay = min(decay, (1 + step) / (10 + step))
        with torch.no_grad():
            # torch.optim.swa_utils' EMA update on the parameter lists (keeps the EMA copy a plain module,
            # so its state-dict keys are the denoiser's own); buffers are copied, not averaged.
            ema_update = get_ema_multi_avg_fn(decay)
            ema_update(list(self.ema_denoiser.parameters()), list(self.denoiser.parameters()), None)
            for b_ema, b in zip(self.ema_denoiser.buffers(), self.denoiser.buffers(), strict=True):
                b_ema.copy_(b)

    # --- validation -----------------------------------------------------------------------------

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        # Fixed noise per batch index so validation loss curves are comparable across epochs.
        state = torch.random.get_rng_state()
        torch.manual_seed(1234 + batch_idx)
        try:
            terms = self._step_losses(batch, self.ema_denoiser, None)
        finally:
            torch.random.set_rng_state(state)
        self.log(
            "val/loss", terms["total"], prog_bar=True, batch_size=batch["motion"].shape[0], sync_dist=True
        )
        if batch_idx == 0 and self._validator_due():
            reward, rmse = self._validator_score(batch)
            self.log("val/validator_reward", reward, batch_size=1, sync_dist=True)
            self.log("val/validator_rmse", rmse, batch_size=1, sync_dist=True)

    def _validator_due(self) -> bool:
        every = int(self.hparams.validation.get("every_n_epochs", 0) or 0)
        # the validator scores SMPL-24 joints: other rigs (gestures) have no validator score
        return (
            every > 0
            and (self.current_epoch + 1) % every == 0
            and self.normalizer is not None
            and self.representation.validator_rig
        )

    @torch.no_grad()
    def _validator_score(self, batch: dict[str, Any]) -> tuple[float, float]:
        """Generate the first few windows of the batch and score them against ground truth exactly as
        the subnet-25 validator would (BVH export → world positions → RMSE → correctness); speed is
        left out (it measures the miner, not the model), so the reward uses correctness at t = 0."""
        from a2a.metrics.validator import score
        from a2a.motion.bvh import motion_to_bvh, read_bvh

        n = min(int(self.hparams.validation.get("windows", 4)), batch["motion"].shape[0])
        sampler = instantiate(self.hparams.validation.get("sampler") or self.hparams.sampler)
        generator = torch.Generator(device="cpu").manual_seed(0)
        x = sampler.sample(
            self.ema_denoiser,
            tuple(batch["motion"][:n].shape),
            cond_rows(batch["cond"], slice(0, n)),
            schedule=self.schedule,
            generator=generator,
            guidance=self.hparams.guidance_weight,
        )
        assert self.normalizer is not None
        rewards, rmses = [], []
        fps = self.hparams.fps
        for pred, truth in zip(
            self.normalizer.inverse(x.double().cpu()),
            self.normalizer.inverse(batch["motion"][:n].double().cpu()),
            strict=True,
        ):
            pred_bvh = read_bvh(motion_to_bvh(self.representation.decode_motion(pred, fps)))
            ref_bvh = read_bvh(motion_to_bvh(self.representation.decode_motion(truth, fps)))
            result = score(pred_bvh, ref_bvh, process_time=0.0, joint_map="edge_edge")
            rewards.append(result["reward"])
            rmses.append(result["rmse"])
        return sum(rewards) / n, sum(rmses) / n

    # --- optimisation ---------------------------------------------------------------------------

    def configure_optimizers(self):
        factory = instantiate(self.hparams.optimizer)
        return factory(params=self.denoiser.parameters())

    # --- checkpoints ----------------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.normalizer is None:
            raise A2AError(
                "cannot save a checkpoint before the normaliser is set (train on a datamodule first)"
            )
        checkpoint["a2a"] = metadata(
            kind=TRAINED_KIND,
            normalizer=self.normalizer.state_dict(),
            representation=self.representation.config(),
            fps=self.hparams.fps,
            window=self.hparams.window,
            vocabularies=self.vocabularies,
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = checkpoint.get("a2a")
        if meta is None or "normalizer" not in meta:
            raise A2AError("checkpoint has no 'a2a' block with normaliser statistics: not an a2a checkpoint")
        checkpoint.update(migrate(checkpoint, "ckpt_path"))
        self.normalizer = normalizer_from_state_dict(checkpoint["a2a"]["normalizer"])
        self.vocabularies = dict(checkpoint["a2a"].get("vocabularies") or {})
