"""Constraints imposed on the sample after every denoising step (inpainting, editing, continuation).

A sampler calls ``constraint.apply(x, t_next, schedule, generator)`` after each step, where ``x`` is the
new sample at noise level ``t_next`` and ``t_next = -1`` marks the final, clean output. Several
constraints are applied in order.

:class:`Constraint` is replace-style inpainting (RePaint without resampling, EDGE ``inpaint_loop``):
known values are re-noised to the current level and pasted into the masked region. Unlike EDGE, the
final step pastes the clean values, so the output equals ``value`` wherever ``mask`` is 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from a2a.diffusion.schedules import NoiseSchedule, standard_normal
from a2a.errors import A2AError

FINAL_STEP = -1  # ``t_next`` passed with the sampler's final, clean output


@runtime_checkable
class StepConstraint(Protocol):
    """Anything a sampler can impose after each step."""

    def check(self, shape: tuple[int, int, int]) -> None:
        """Raise :class:`A2AError` if the constraint cannot apply to samples of ``shape`` [B, T, D]."""
        ...

    def apply(
        self, x: Tensor, t_next: int, schedule: NoiseSchedule, generator: torch.Generator | None
    ) -> Tensor:
        """Return the constrained sample ``[B, T, D]`` at noise level ``t_next`` (−1: final output)."""
        ...


def _broadcastable(tensor: Tensor, shape: tuple[int, ...]) -> bool:
    try:
        torch.broadcast_shapes(tuple(tensor.shape), shape)
    except RuntimeError:
        return False
    return torch.broadcast_shapes(tuple(tensor.shape), shape) == torch.Size(shape)


class Constraint:
    """Keep ``value`` where ``mask`` is 1: ``x = q_sample(value, t_next)·mask + (1 − mask)·x``.

    Args:
        mask: ``[B, T, D]`` or broadcastable to it (e.g. ``[1, T, 1]`` for whole frames, ``[D]`` for
            channels); bool or float in [0, 1] (fractional values blend).
        value: ``[B, T, D]`` or broadcastable; the known data in the sampler's (normalised) space.
            Entries outside the mask are ignored.
    """

    def __init__(self, mask: Tensor, value: Tensor) -> None:
        mask = torch.as_tensor(mask)
        value = torch.as_tensor(value)
        if not value.dtype.is_floating_point:
            raise A2AError(f"constraint value must be a float tensor, got {value.dtype}")
        mask = mask.to(value.dtype)
        if mask.numel() and not bool(((mask >= 0) & (mask <= 1)).all()):
            raise A2AError("constraint mask values must lie in [0, 1]")
        self.mask = mask
        self.value = value

    def check(self, shape: tuple[int, int, int]) -> None:
        if not _broadcastable(self.mask, shape):
            raise A2AError(
                f"constraint mask shape {tuple(self.mask.shape)} does not broadcast to the sample shape "
                f"{shape}"
            )
        if not _broadcastable(self.value, shape):
            raise A2AError(
                f"constraint value shape {tuple(self.value.shape)} does not broadcast to the sample shape "
                f"{shape}"
            )

    def apply(
        self, x: Tensor, t_next: int, schedule: NoiseSchedule, generator: torch.Generator | None
    ) -> Tensor:
        mask = self.mask.to(device=x.device, dtype=x.dtype)
        value = self.value.to(device=x.device, dtype=x.dtype).expand_as(x)
        if t_next == FINAL_STEP:
            known = value
        else:
            noise = standard_normal(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            known = schedule.q_sample(value, t_next, noise)
        return known * mask + (1.0 - mask) * x


def as_constraint_list(
    constraint: StepConstraint | Sequence[StepConstraint] | None,
) -> list[StepConstraint]:
    """Normalise the samplers' ``constraint`` argument to a list (applied in order)."""
    if constraint is None:
        return []
    items = [constraint] if isinstance(constraint, StepConstraint) else list(constraint)
    for item in items:
        if not isinstance(item, StepConstraint):
            raise A2AError(
                f"constraint must provide check(shape) and apply(x, t_next, schedule, generator); "
                f"got {type(item).__name__}"
            )
    return items
