"""Training losses of the model families: named terms and their weighted total.

A loss is chosen by config (``model.loss._target_``) and built with the model's representation. It
compares the denoiser's clean-motion estimate x̂0 with the clean windows x0 (normalised ``[B, T, D]``);
the reconstruction term compares the raw denoiser ``output`` with its training ``target`` (x0 for
x0-prediction, ε for ε-prediction — for x0-prediction they are x̂0 and x0). The training module logs
every term the loss returns. Nothing here knows about diffusion schedules.

- :class:`EdgeMotionLoss`: EDGE's reconstruction, velocity, forward-kinematics joint-position and
  foot-contact losses; weights from config (EDGE's paper values are the defaults of
  ``conf/model/edge.yaml``), joint indices from the representation's skeleton.
- :class:`SmoothL1MotionLoss`: DiffuseStyleGesture's only term, the Huber loss on normalised features.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F
from torch import Tensor

from a2a.errors import A2AError


class MotionLoss(ABC):
    """Base of every loss a model config can name."""

    @abstractmethod
    def __call__(
        self,
        x0_hat: Tensor,
        x0: Tensor,
        normalizer=None,
        *,
        output: Tensor | None = None,
        target: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Named terms and their weighted ``"total"`` for normalised clips ``x0_hat, x0 [B, T, D]``.

        Args:
            normalizer: the data's normaliser (``inverse(x)``), for losses in data units.
            output, target: the raw denoiser output and its training target (default ``x0_hat``, ``x0``).
        """


class EdgeMotionLoss(MotionLoss):
    """Weighted sum of EDGE's four losses on predicted vs target clips ``[B, T, D]``.

    - ``simple``: MSE over every channel.
    - ``velocity``: MSE of first time-differences over every channel but the contacts.
    - ``fk``: MSE of forward-kinematics joint positions.
    - ``foot``: mean squared FK displacement of the foot joints between frames, counted only where the
      **predicted** contact channel exceeds ``contact_threshold`` (feet said to be planted must not slide).

    Args:
        representation: supplies ``contacts`` (slice), ``foot_joints`` and ``joint_positions(x)``.
        simple, velocity, fk, foot: the weights (EDGE: 0.636, 2.964, 0.646, 10.942).
        contact_threshold: in the space the losses see (EDGE: 0.95 in normalised units).
        fk_on_normalized: EDGE runs FK on *normalised* root/6D values (its un-normalise lines are
            commented out); ``True`` reproduces that, ``False`` un-normalises first so FK sees metres.
    """

    def __init__(
        self,
        representation,
        simple: float = 0.636,
        velocity: float = 2.964,
        fk: float = 0.646,
        foot: float = 10.942,
        contact_threshold: float = 0.95,
        fk_on_normalized: bool = True,
    ) -> None:
        weights = {"simple": simple, "velocity": velocity, "fk": fk, "foot": foot}
        for name, w in weights.items():
            if not (isinstance(w, int | float) and w >= 0):
                raise A2AError(f"loss weight model.loss.{name} must be a non-negative number, got {w!r}")
        self.weights = weights
        self.representation = representation
        self.contact_threshold = float(contact_threshold)
        self.fk_on_normalized = bool(fk_on_normalized)

    def __call__(
        self,
        x0_hat: Tensor,
        x0: Tensor,
        normalizer=None,
        *,
        output: Tensor | None = None,
        target: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Loss terms and their weighted ``total`` for normalised clips ``x0_hat, x0 [B, T, D]``.

        ``simple`` is the MSE of ``output`` against ``target`` (x̂0 against x0 by default); ``normalizer``
        (with ``inverse(x)``) is needed only when ``fk_on_normalized`` is false.
        """
        pred = x0_hat
        if pred.shape != x0.shape:
            raise A2AError(f"prediction {tuple(pred.shape)} and target {tuple(x0.shape)} differ in shape")
        simple_out = pred if output is None else output
        simple_target = x0 if target is None else target
        target = x0
        contacts = self.representation.contacts
        terms: dict[str, Tensor] = {"simple": F.mse_loss(simple_out, simple_target)}
        non_contact = torch.ones(pred.shape[-1], dtype=torch.bool, device=pred.device)
        non_contact[contacts] = False
        terms["velocity"] = F.mse_loss(
            pred[:, 1:, non_contact] - pred[:, :-1, non_contact],
            target[:, 1:, non_contact] - target[:, :-1, non_contact],
        )
        # FK in fp32 even under mixed precision: small rotations compose badly in half precision.
        with torch.autocast(device_type=pred.device.type, enabled=False):
            fk_pred, fk_target = pred.float(), target.float()
            if not self.fk_on_normalized:
                if normalizer is None:
                    raise A2AError("fk_on_normalized=false needs the normalizer to un-normalise clips")
                fk_pred, fk_target = normalizer.inverse(fk_pred), normalizer.inverse(fk_target)
            joints_pred = self.representation.joint_positions(fk_pred)  # [B, T, J, 3]
            joints_target = self.representation.joint_positions(fk_target)
            terms["fk"] = F.mse_loss(joints_pred, joints_target)
            feet = list(self.representation.foot_joints)
            foot_velocity = joints_pred[:, 1:, feet] - joints_pred[:, :-1, feet]  # [B, T-1, 4, 3]
            planted = (pred[:, :-1, contacts] > self.contact_threshold).float().unsqueeze(-1)
            # EDGE: MSE-to-zero of the masked displacement averaged over all T frames (its last frame
            # has no displacement and counts as zero), so divide by T rather than T - 1.
            frames = pred.shape[1]
            terms["foot"] = (foot_velocity * planted).square().mean() * (frames - 1) / frames
        terms["total"] = sum(self.weights[name] * terms[name] for name in self.weights)
        return terms


class SmoothL1MotionLoss(MotionLoss):
    """DiffuseStyleGesture's loss: SmoothL1 (Huber, β = 1) of ``output`` against ``target``, averaged over
    every element (batch, frames — the seed frames included, as in DSG — and channels).

    Per element ``d = output − target``: ``0.5·d²/β`` where ``|d| < β``, else ``|d| − 0.5·β``. DSG computes
    it on normalised x̂0 against x0 (``masked_l2`` with ``nn.SmoothL1Loss(reduction="none")`` and an
    all-ones mask).

    Args:
        beta: the quadratic-to-linear threshold (DSG: 1).
        representation: accepted so that every loss config builds alike; not used.
    """

    def __init__(self, beta: float = 1.0, representation=None) -> None:
        if not (isinstance(beta, int | float) and not isinstance(beta, bool) and beta > 0):
            raise A2AError(f"model.loss.beta must be a positive number, got {beta!r}")
        self.beta = float(beta)

    def __call__(
        self,
        x0_hat: Tensor,
        x0: Tensor,
        normalizer=None,
        *,
        output: Tensor | None = None,
        target: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """``{"simple": loss, "total": loss}`` for ``output``/``target`` ``[B, T, D]`` (default: ``x0_hat``
        and ``x0``)."""
        prediction = x0_hat if output is None else output
        reference = x0 if target is None else target
        if prediction.shape != reference.shape:
            raise A2AError(
                f"prediction {tuple(prediction.shape)} and target {tuple(reference.shape)} differ in shape"
            )
        simple = F.smooth_l1_loss(prediction, reference, beta=self.beta)
        return {"simple": simple, "total": simple}
