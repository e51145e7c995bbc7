"""Classifier-free guidance: the denoiser protocol, guided predictions and per-step guidance weights.

Guided output (Ho & Salimans; EDGE ``guided_forward``): ``unc + (cond − unc)·w`` on the raw model
output (x̂0 or ε, before any clamp). Unlike EDGE, which runs two full passes, the conditional and
unconditional predictions come from ONE forward pass on a doubled batch with
``keep_cond = [True]*B + [False]*B``. w = 1 needs only the conditional pass and w = 0 only the
unconditional one, so those weights cost a single B-sized pass.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from a2a.errors import A2AError

# A tensor with the batch first, a dict / list / tuple of such (batched leaf by leaf), or None for an
# unconditional model.
Conditioning = Tensor | Mapping[str, Any] | Sequence[Any] | None


@runtime_checkable
class Denoiser(Protocol):
    """The network called by every sampler.

    ``denoiser(x [B, T, D], t LongTensor[B], cond [B, ...], keep_cond BoolTensor[B] | None) -> [B, T, D]``.
    ``keep_cond=None`` keeps the condition for all samples; ``False`` entries must use the model's
    learned null condition. The output is x̂0 or ε, as the schedule's ``prediction`` says.
    """

    def __call__(
        self, x: Tensor, t: Tensor, cond: Conditioning, keep_cond: Tensor | None = None
    ) -> Tensor: ...


def cond_batch_size(cond: Conditioning) -> int | None:
    """Batch size of the first tensor leaf of ``cond`` (None when it holds no tensor)."""
    if isinstance(cond, Tensor):
        return int(cond.shape[0]) if cond.dim() > 0 else None
    if isinstance(cond, Mapping):
        leaves = cond.values()
    elif isinstance(cond, (list, tuple)):
        leaves = cond
    else:
        return None
    for leaf in leaves:
        size = cond_batch_size(leaf)
        if size is not None:
            return size
    return None


def check_cond_batch(cond: Conditioning, batch: int, option: str = "cond") -> None:
    """Raise :class:`A2AError` unless every tensor leaf of ``cond`` has ``batch`` rows."""
    if isinstance(cond, Tensor):
        if cond.dim() == 0 or cond.shape[0] != batch:
            raise A2AError(
                f"{option} has shape {tuple(cond.shape)}; its first dim must be the batch size {batch}"
            )
    elif isinstance(cond, Mapping):
        for key, leaf in cond.items():
            check_cond_batch(leaf, batch, f"{option}[{key!r}]")
    elif isinstance(cond, (list, tuple)):
        for i, leaf in enumerate(cond):
            check_cond_batch(leaf, batch, f"{option}[{i}]")


def double_cond(cond: Conditioning) -> Conditioning:
    """Concatenate ``cond`` with itself along the batch: ``[B, ...] -> [2B, ...]`` for every tensor leaf."""
    if isinstance(cond, Tensor):
        return torch.cat([cond, cond], dim=0)
    if isinstance(cond, Mapping):
        return {key: double_cond(leaf) for key, leaf in cond.items()}
    if isinstance(cond, (list, tuple)):
        doubled = [double_cond(leaf) for leaf in cond]
        return type(cond)(*doubled) if hasattr(cond, "_fields") else type(cond)(doubled)
    return cond


def guided_output(
    denoiser: Denoiser, x: Tensor, t: Tensor, cond: Conditioning, weight: float | None
) -> Tensor:
    """Classifier-free-guided model output ``[B, T, D]``.

    Args:
        x: ``[B, T, D]`` noisy input.
        t: ``LongTensor[B]``.
        cond: conditioning with batch ``B``.
        weight: guidance weight w; ``None`` calls the denoiser once with the condition kept
            (``keep_cond=None``), exactly as an unguided model.
    """
    batch = x.shape[0]
    if weight is None:
        out = denoiser(x, t, cond, None)
    elif weight == 1.0:
        out = denoiser(x, t, cond, torch.ones(batch, dtype=torch.bool, device=x.device))
    elif weight == 0.0:
        out = denoiser(x, t, cond, torch.zeros(batch, dtype=torch.bool, device=x.device))
    else:
        keep = torch.cat(
            [
                torch.ones(batch, dtype=torch.bool, device=x.device),
                torch.zeros(batch, dtype=torch.bool, device=x.device),
            ]
        )
        both = denoiser(torch.cat([x, x], dim=0), torch.cat([t, t], dim=0), double_cond(cond), keep)
        if both.shape[0] != 2 * batch:
            raise A2AError(f"denoiser returned batch {both.shape[0]} for a doubled input batch {2 * batch}")
        conditional, unconditional = both[:batch], both[batch:]
        out = unconditional + (conditional - unconditional) * weight
    if out.shape != x.shape:
        raise A2AError(
            f"denoiser output shape {tuple(out.shape)} does not match its input shape {tuple(x.shape)}"
        )
    return out


def _check_weight(weight: float) -> float:
    weight = float(weight)
    if not math.isfinite(weight) or weight < 0:
        raise A2AError(f"guidance weight must be a finite number >= 0, got {weight}")
    return weight


class GuidanceSchedule(ABC):
    """Guidance weight per sampler step: ``weights(n)[k]`` is used at step k (k = 0 is the noisiest)."""

    @abstractmethod
    def weights(self, num_steps: int) -> list[float]:
        """``num_steps`` guidance weights, one per model evaluation step of the sampler."""


class ConstantGuidance(GuidanceSchedule):
    """The same weight at every step (EDGE ``ddim_sample``/``p_sample_loop``: w = 2)."""

    def __init__(self, weight: float = 2.0) -> None:
        self.weight = _check_weight(weight)

    def weights(self, num_steps: int) -> list[float]:
        return [self.weight] * int(num_steps)

    def __repr__(self) -> str:
        return f"ConstantGuidance(weight={self.weight})"


class RampGuidance(GuidanceSchedule):
    """EDGE's long-form ramp: ``clip(linspace(start, start + 2(w − start), n), max=w)``.

    With the default ``start=0`` this is exactly EDGE's ``clip(linspace(0, 2w, n), max=w)``: the first
    step is unconditional and w is reached half-way. ``start=1`` begins fully conditional instead.
    """

    def __init__(self, weight: float = 2.0, start: float = 0.0) -> None:
        self.weight = _check_weight(weight)
        self.start = _check_weight(start)
        if self.start > self.weight:
            raise A2AError(f"RampGuidance start ({self.start}) must not exceed weight ({self.weight})")

    def weights(self, num_steps: int) -> list[float]:
        ramp = np.linspace(self.start, self.start + 2.0 * (self.weight - self.start), int(num_steps))
        return [float(w) for w in np.clip(ramp, None, self.weight)]

    def __repr__(self) -> str:
        return f"RampGuidance(weight={self.weight}, start={self.start})"


def as_guidance_schedule(guidance: float | GuidanceSchedule | None) -> GuidanceSchedule | None:
    """Accept a number (constant weight), a schedule, or None (no guidance: plain conditional calls)."""
    if guidance is None or isinstance(guidance, GuidanceSchedule):
        return guidance
    if isinstance(guidance, (int, float)) and not isinstance(guidance, bool):
        return ConstantGuidance(guidance)
    raise A2AError(f"guidance must be a number, a GuidanceSchedule or None, got {type(guidance).__name__}")
