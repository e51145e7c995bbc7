"""Named conditions: per-key classifier-free-guidance dropout, keep masks, and mixing two values of a key.

A model family's batch carries ``cond: dict[str, Tensor]`` (``audio [B, T, F]``, ``style [B, S]``,
``seed [B, S, D]``, …), every tensor with the batch first. A denoiser reads the keys it consumes and
replaces, per sample, the ones it can drop (its ``droppable`` keys) with its learned null condition where
the keep mask says so. The keep mask passed to a denoiser (``keep_cond``) is one of:

- ``None``: keep everything;
- a ``BoolTensor[B]``: the same mask for every droppable key (plain classifier-free guidance);
- a mapping ``{key: BoolTensor[B]}``: per key; a key that is absent is kept.

Nothing here knows what the keys mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from a2a.errors import A2AError

KeepMask = Tensor | Mapping[str, Tensor] | None


def keep_mask(keep_cond: KeepMask, key: str, batch: int, device: torch.device | str) -> Tensor:
    """The ``BoolTensor[batch]`` a denoiser applies to condition ``key`` (True = keep it)."""
    if keep_cond is None:
        return torch.ones(batch, dtype=torch.bool, device=device)
    if isinstance(keep_cond, Mapping):
        mask = keep_cond.get(key)
        if mask is None:
            return torch.ones(batch, dtype=torch.bool, device=device)
    else:
        mask = keep_cond
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (batch,):
        shape = list(mask.shape) if isinstance(mask, Tensor) else type(mask).__name__
        dtype = mask.dtype if isinstance(mask, Tensor) else ""
        raise A2AError(f"keep_cond must be a bool tensor [B] = [{batch}], got {dtype} {shape}".strip())
    return mask.to(device)


def _check_probability(key: str, p: Any) -> float:
    try:
        value = float(p)
    except (TypeError, ValueError):
        raise A2AError(f"model.cond_drop.{key} must be a probability in [0, 1], got {p!r}") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise A2AError(f"model.cond_drop.{key} must be a probability in [0, 1], got {p!r}")
    return value


class ConditionDropout:
    """Classifier-free-guidance dropout of named conditions during training.

    Args:
        probabilities: ``{key: p}``, each condition dropped independently with probability p
            (EDGE: ``{audio: 0.25}``; DiffuseStyleGesture: ``{style: 0.1, seed: 0.1}``).

    :meth:`keep_masks` draws ``torch.rand(B) < 1 − p`` per key in the mapping's order; p = 0 keeps every
    row and p = 1 drops every row without drawing, so a single key reproduces EDGE's ``prob_mask_like``.
    """

    def __init__(self, probabilities: Mapping[str, float] | None = None) -> None:
        self.probabilities = {str(k): _check_probability(k, p) for k, p in (probabilities or {}).items()}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.probabilities)

    def keep_masks(
        self,
        batch: int,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> dict[str, Tensor]:
        """``{key: BoolTensor[batch]}``, True where the condition is kept."""
        masks = {}
        for key, drop in self.probabilities.items():
            keep = 1.0 - drop
            if keep == 1.0:
                masks[key] = torch.ones(batch, dtype=torch.bool, device=device)
            elif keep == 0.0:
                masks[key] = torch.zeros(batch, dtype=torch.bool, device=device)
            else:
                source = generator.device if generator is not None else device
                draws = torch.rand(batch, generator=generator, device=source)
                masks[key] = (draws < keep).to(device)
        return masks

    def __repr__(self) -> str:
        return f"ConditionDropout({self.probabilities})"


def cond_rows(cond: Any, index: slice | Tensor) -> Any:
    """Rows ``index`` of every tensor leaf of ``cond`` (a tensor, mapping, list/tuple or None)."""
    if isinstance(cond, Tensor):
        return cond[index]
    if isinstance(cond, Mapping):
        return {key: cond_rows(leaf, index) for key, leaf in cond.items()}
    if isinstance(cond, list | tuple):
        rows = [cond_rows(leaf, index) for leaf in cond]
        return type(cond)(*rows) if hasattr(cond, "_fields") else type(cond)(rows)
    return cond


def concat_conds(conds: Sequence[Any]) -> Any:
    """Concatenate several conditionings of the same structure along the batch, leaf by leaf."""
    first = conds[0]
    if isinstance(first, Tensor):
        return torch.cat(list(conds), dim=0)
    if isinstance(first, Mapping):
        return {key: concat_conds([c[key] for c in conds]) for key in first}
    if isinstance(first, list | tuple):
        joined = [concat_conds([c[i] for c in conds]) for i in range(len(first))]
        return type(first)(*joined) if hasattr(first, "_fields") else type(first)(joined)
    return first


def concat_keeps(keeps: Sequence[KeepMask], batch: int, device: torch.device | str) -> KeepMask:
    """Concatenate keep masks of several batch-``batch`` calls into one mask for the joined call."""
    if all(k is None for k in keeps):
        return None
    if all(k is None or isinstance(k, Tensor) for k in keeps):
        return torch.cat(
            [torch.ones(batch, dtype=torch.bool, device=device) if k is None else k.to(device) for k in keeps]
        )
    keys = list(dict.fromkeys(key for k in keeps if isinstance(k, Mapping) for key in k))
    if any(isinstance(k, Tensor) for k in keeps):
        raise A2AError("cannot join a keep mask for every key with per-key keep masks")
    return {key: torch.cat([keep_mask(k, key, batch, device) for k in keeps]) for key in keys}


class DenoiserWrapper(torch.nn.Module):
    """Base of modules that wrap a denoiser to change its conditions per call: they consume and can drop
    the same condition keys as the model they wrap, so guidance and wrappers above them see the model's."""

    def __init__(self, denoiser: Any) -> None:
        super().__init__()
        self.denoiser = denoiser

    @property
    def conditions(self) -> tuple[str, ...]:
        return tuple(getattr(self.denoiser, "conditions", ()))

    @property
    def droppable(self) -> tuple[str, ...]:
        return tuple(getattr(self.denoiser, "droppable", ()))


class ConditionMix(DenoiserWrapper):
    """A denoiser whose output mixes two values of one condition: ``γ·D(c[key]=a) + (1 − γ)·D(c[key]=b)``.

    DiffuseStyleGesture's style interpolation (``b`` another style, 0 ≤ γ ≤ 1) and extrapolation away from
    the null style (``b = None``: the model's null condition for ``key``, γ > 1). Both evaluations run as
    one batched call. Rows whose keep mask drops ``key`` see the null condition in both halves, so the
    mix composes with classifier-free guidance on any key.

    Args:
        denoiser: the model (``denoiser(x, t, cond, keep_cond)``).
        key: the condition to mix (e.g. ``"style"``).
        other: the second value, shaped like one row of ``cond[key]`` (``[...]``, the same for every row,
            so the wrapper works inside guidance's enlarged batches), or ``None`` for the null.
        gamma: weight of the value in ``cond[key]``.
    """

    def __init__(self, denoiser: Any, key: str, other: Tensor | None, gamma: float) -> None:
        super().__init__(denoiser)
        if not math.isfinite(float(gamma)):
            raise A2AError(f"mix weight must be a finite number, got {gamma!r}")
        self.key = key
        self.other = other
        self.gamma = float(gamma)

    def forward(self, x: Tensor, t: Tensor, cond: Mapping[str, Tensor], keep_cond: KeepMask = None) -> Tensor:
        batch = x.shape[0]
        if not isinstance(cond, Mapping) or self.key not in cond:
            raise A2AError(f"mixing condition {self.key!r} needs a conditioning mapping with that key")
        first_keep = keep_mask(keep_cond, self.key, batch, x.device)
        second = dict(cond)
        if self.other is None:
            second_keep = torch.zeros_like(first_keep)
        else:
            second[self.key] = self.other.to(cond[self.key]).expand_as(cond[self.key])
            second_keep = first_keep
        base = dict(keep_cond) if isinstance(keep_cond, Mapping) else {}
        if isinstance(keep_cond, Tensor):
            # One mask for every droppable key: keep it for the others, per half for the mixed key.
            base = {k: keep_cond for k in self.droppable if k != self.key}
        keeps = [{**base, self.key: first_keep}, {**base, self.key: second_keep}]
        both = self.denoiser(
            torch.cat([x, x]),
            torch.cat([t, t]),
            concat_conds([cond, second]),
            concat_keeps(keeps, batch, x.device),
        )
        return self.gamma * both[:batch] + (1.0 - self.gamma) * both[batch:]
