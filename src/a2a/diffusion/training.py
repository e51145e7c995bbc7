"""Inputs and targets of the denoising training objective (the losses themselves live with the model).

One training step: ``x_t, t, noise = diffusion_training_inputs(x0, schedule, generator)``, run the
denoiser on ``(x_t, t, cond)`` with condition dropout, and compare its output with
``training_target(x0, noise, schedule.prediction)`` (EDGE: x0 target, t ~ U{0, …, T − 1}).
"""

from __future__ import annotations

import torch
from torch import Tensor

from a2a.diffusion.schedules import NoiseSchedule, check_prediction, standard_normal
from a2a.errors import A2AError


def sample_timesteps(
    batch: int,
    schedule: NoiseSchedule,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Uniform timesteps ``LongTensor[batch]`` in 0 … T − 1 (drawn on the generator's device, then moved)."""
    if isinstance(batch, bool) or int(batch) != batch or int(batch) < 1:
        raise A2AError(f"batch must be a positive integer, got {batch!r}")
    source = generator.device if generator is not None else torch.device(device or "cpu")
    t = torch.randint(0, schedule.num_steps, (int(batch),), generator=generator, device=source)
    return t.to(device) if device is not None else t


def diffusion_training_inputs(
    x0: Tensor, schedule: NoiseSchedule, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """Noise a clean batch ``x0 [B, T, D]`` to random levels.

    Returns:
        ``(x_t [B, T, D], t LongTensor[B], noise [B, T, D])`` on ``x0``'s device and dtype.
    """
    if x0.dim() < 2 or not x0.dtype.is_floating_point:
        raise A2AError(f"x0 must be a float tensor [B, T, D], got shape {tuple(x0.shape)} dtype {x0.dtype}")
    t = sample_timesteps(x0.shape[0], schedule, generator, device=x0.device)
    noise = standard_normal(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return schedule.q_sample(x0, t, noise), t, noise


def training_target(x0: Tensor, noise: Tensor, prediction: str) -> Tensor:
    """The denoiser's target ``[B, T, D]``: ``x0`` for prediction "x0" (EDGE), ``noise`` for "eps"."""
    if check_prediction(prediction) == "x0":
        return x0
    if noise.shape != x0.shape:
        raise A2AError(f"noise shape {tuple(noise.shape)} does not match x0 shape {tuple(x0.shape)}")
    return noise
