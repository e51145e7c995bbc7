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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from a2a.diffusion.conditions import KeepMask, concat_conds, concat_keeps
from a2a.errors import A2AError

# A tensor with the batch first, a dict / list / tuple of such (batched leaf by leaf), or None for an
# unconditional model. Model families pass a dict of named conditions (see a2a.diffusion.conditions).
Conditioning = Tensor | Mapping[str, Any] | Sequence[Any] | None
# A guidance weight: None (no guidance), one number for all droppable conditions, or one per key.
GuidanceWeight = float | Mapping[str, float] | None


@runtime_checkable
class Denoiser(Protocol):
    """The network called by every sampler.

    ``denoiser(x [B, T, D], t LongTensor[B], cond, keep_cond) -> [B, T, D]``. ``cond`` holds the
    conditions (for model families a dict such as ``{"audio": [B, T, F], "style": [B, S]}``);
    ``keep_cond`` is ``None`` (keep all), a ``BoolTensor[B]`` for every droppable condition at once, or
    ``{key: BoolTensor[B]}`` (see :mod:`a2a.diffusion.conditions`); ``False`` entries use the model's
    learned null condition. The output is x̂0 or ε, as the schedule's ``prediction`` says.

    Model-family denoisers also declare ``conditions`` (the keys they consume) and ``droppable`` (the
    keys their null condition can replace), and may define ``prepare_conditions(cond) -> cond``: the
    work on the conditions that does not depend on ``x`` or ``t`` (an audio encoder), done once per
    request. Its result must be a conditioning with the same batch (tensor leaves, batch first, so
    guidance can repeat and join its rows) that the denoiser accepts in place of ``cond`` with the same
    output for every ``keep_cond``. Samplers call it through :func:`prepare_conditions`.
    """

    def __call__(self, x: Tensor, t: Tensor, cond: Conditioning, keep_cond: KeepMask = None) -> Tensor: ...


def prepare_conditions(denoiser: Denoiser, cond: Conditioning) -> Conditioning:
    """``denoiser.prepare_conditions(cond)`` when the denoiser defines it (its per-request condition
    cache), else ``cond`` unchanged. Wrappers that change a condition per call (e.g.
    :class:`~a2a.diffusion.ConditionMix`) do not forward it, so they never see a stale cache."""
    prepare = getattr(denoiser, "prepare_conditions", None)
    if prepare is None:
        return cond
    prepared = prepare(cond)
    batch = cond_batch_size(cond)
    if batch is not None:
        check_cond_batch(prepared, batch, f"{type(denoiser).__name__}.prepare_conditions(cond)")
    return prepared


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


def guided_output(
    denoiser: Denoiser, x: Tensor, t: Tensor, cond: Conditioning, weight: GuidanceWeight
) -> Tensor:
    """Classifier-free-guided model output ``[B, T, D]``.

    Args:
        x: ``[B, T, D]`` noisy input.
        t: ``LongTensor[B]``.
        cond: conditioning with batch ``B``.
        weight: ``None`` calls the denoiser once with the condition kept (``keep_cond=None``), exactly as
            an unguided model. A number w guides every droppable condition together:
            ``unc + (cond − unc)·w``. A mapping ``{key: w_key}`` guides key by key, nested in the
            mapping's order: with e_0 every listed key dropped and e_i the first i keys kept,
            ``e_0 + Σ_i w_i·(e_i − e_{i−1})`` (one key reduces to plain guidance; equal weights to the
            joint guidance of all listed keys). Unlisted keys stay as they are in every evaluation.
            All evaluations run as ONE batched call.
    """
    batch = x.shape[0]
    if isinstance(weight, Mapping):
        out = _per_key_guidance(denoiser, x, t, cond, weight)
    elif weight is None:
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
        both = denoiser(torch.cat([x, x], dim=0), torch.cat([t, t], dim=0), concat_conds([cond, cond]), keep)
        if both.shape[0] != 2 * batch:
            raise A2AError(f"denoiser returned batch {both.shape[0]} for a doubled input batch {2 * batch}")
        conditional, unconditional = both[:batch], both[batch:]
        out = unconditional + (conditional - unconditional) * weight
    if out.shape != x.shape:
        raise A2AError(
            f"denoiser output shape {tuple(out.shape)} does not match its input shape {tuple(x.shape)}"
        )
    return out


def _per_key_guidance(
    denoiser: Denoiser, x: Tensor, t: Tensor, cond: Conditioning, weights: Mapping[str, float]
) -> Tensor:
    keys = list(weights)
    if not keys:
        return denoiser(x, t, cond, None)
    batch, device = x.shape[0], x.device
    ones = torch.ones(batch, dtype=torch.bool, device=device)
    zeros = torch.zeros(batch, dtype=torch.bool, device=device)
    # evaluation i keeps the first i keys and drops the rest of the listed ones
    keeps = [{key: ones if j < i else zeros for j, key in enumerate(keys)} for i in range(len(keys) + 1)]
    count = len(keeps)
    joined = denoiser(
        torch.cat([x] * count, dim=0),
        torch.cat([t] * count, dim=0),
        concat_conds([cond] * count),
        concat_keeps(keeps, batch, device),
    )
    if joined.shape[0] != count * batch:
        raise A2AError(f"denoiser returned batch {joined.shape[0]} for an input batch of {count * batch}")
    parts = joined.split(batch)
    out = parts[0]
    for i, key in enumerate(keys, start=1):
        out = out + (parts[i] - parts[i - 1]) * float(weights[key])
    return out


def _check_weight(weight: float) -> float:
    weight = float(weight)
    if not math.isfinite(weight) or weight < 0:
        raise A2AError(f"guidance weight must be a finite number >= 0, got {weight}")
    return weight


def check_guidance_weight(weight: float | Mapping[str, float]) -> float | dict[str, float]:
    """A valid guidance weight: a finite number >= 0, or a mapping of such per condition key."""
    if isinstance(weight, Mapping):
        return {str(key): _check_weight(w) for key, w in weight.items()}
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise A2AError(f"guidance weight must be a number or a mapping key → number, got {weight!r}")
    return _check_weight(weight)


def map_weight(weight: float | Mapping[str, float], fn: Callable[[float], float]) -> float | dict[str, float]:
    """Apply ``fn`` to a guidance weight, key by key for a per-key mapping."""
    if isinstance(weight, Mapping):
        return {key: fn(w) for key, w in weight.items()}
    return fn(weight)


class GuidanceSchedule(ABC):
    """Guidance weight per sampler step: ``weights(n)[k]`` is used at step k (k = 0 is the noisiest).

    A weight is one number, or a mapping key → number for per-condition guidance (each key follows the
    schedule on its own).
    """

    @abstractmethod
    def weights(self, num_steps: int) -> list[float | dict[str, float]]:
        """``num_steps`` guidance weights, one per model evaluation step of the sampler."""


class ConstantGuidance(GuidanceSchedule):
    """The same weight at every step (EDGE ``ddim_sample``/``p_sample_loop``: w = 2)."""

    def __init__(self, weight: float | Mapping[str, float] = 2.0) -> None:
        self.weight = check_guidance_weight(weight)

    def weights(self, num_steps: int) -> list[float | dict[str, float]]:
        return [self.weight] * int(num_steps)

    def __repr__(self) -> str:
        return f"ConstantGuidance(weight={self.weight})"


class RampGuidance(GuidanceSchedule):
    """EDGE's long-form ramp: ``clip(linspace(start, start + 2(w − start), n), max=w)``.

    With the default ``start=0`` this is exactly EDGE's ``clip(linspace(0, 2w, n), max=w)``: the first
    step is unconditional and w is reached half-way. ``start=1`` begins fully conditional instead. A
    per-key weight ramps every key from ``start`` to its own w. A single step (a one-step sampler such as
    :class:`~a2a.diffusion.PosteriorMeanSampler`) gets the full weight w: the formula would give it
    ``start``, leaving the only model evaluation unguided.
    """

    def __init__(self, weight: float | Mapping[str, float] = 2.0, start: float = 0.0) -> None:
        self.weight = check_guidance_weight(weight)
        self.start = _check_weight(start)
        low = min(self.weight.values(), default=self.start) if isinstance(self.weight, dict) else self.weight
        if self.start > low:
            raise A2AError(f"RampGuidance start ({self.start}) must not exceed weight ({self.weight})")

    def _ramp(self, weight: float, num_steps: int) -> list[float]:
        if int(num_steps) == 1:
            return [weight]
        ramp = np.linspace(self.start, self.start + 2.0 * (weight - self.start), int(num_steps))
        return [float(w) for w in np.clip(ramp, None, weight)]

    def weights(self, num_steps: int) -> list[float | dict[str, float]]:
        if isinstance(self.weight, dict):
            per_key = {key: self._ramp(w, num_steps) for key, w in self.weight.items()}
            return [{key: ramp[i] for key, ramp in per_key.items()} for i in range(int(num_steps))]
        return list(self._ramp(self.weight, num_steps))

    def __repr__(self) -> str:
        return f"RampGuidance(weight={self.weight}, start={self.start})"


def as_guidance_schedule(
    guidance: float | Mapping[str, float] | GuidanceSchedule | None,
) -> GuidanceSchedule | None:
    """Accept a number or per-key mapping (constant weight), a schedule, or None (no guidance)."""
    if guidance is None or isinstance(guidance, GuidanceSchedule):
        return guidance
    if isinstance(guidance, Mapping) or (
        isinstance(guidance, int | float) and not isinstance(guidance, bool)
    ):
        return ConstantGuidance(guidance)
    raise A2AError(
        f"guidance must be a number, a mapping key → number, a GuidanceSchedule or None, "
        f"got {type(guidance).__name__}"
    )
