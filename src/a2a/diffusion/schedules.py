"""Gaussian noise schedules: the forward process q(x_t | x_0) and the posterior q(x_{t-1} | x_t, x_0).

A schedule is independent of the network and of the sampler. It owns the betas, the cumulative
products ᾱ_t (kept in float64, cast to the data's dtype only when applied), the conversions between
the model's x̂0 and ε parameterisations, and two config fields a checkpoint is trained with:
``prediction`` ("x0" as in EDGE, or "eps") and ``clip_x0`` (clamp x̂0 to [-1, 1] while sampling,
EDGE: on, because its data are min–max normalised to [-1, 1]).

Timesteps are integers 0 … num_steps − 1 (0 = least noise). Every method accepts ``t`` either as a
Python ``int`` (one level for the whole batch, used by samplers) or a ``LongTensor[B]`` (one level per
sample, used in training).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from a2a.errors import A2AError

PREDICTIONS = ("x0", "eps")

# Posterior variance is exactly 0 at t = 0; its log is clamped here as in DDPM/EDGE.
POSTERIOR_LOG_VARIANCE_FLOOR = 1e-20


def check_prediction(prediction: str, option: str = "prediction") -> str:
    """Return ``prediction`` if it is "x0" or "eps", else raise :class:`A2AError` naming ``option``."""
    if prediction not in PREDICTIONS:
        raise A2AError(f"{option} must be one of {PREDICTIONS}, got {prediction!r}")
    return prediction


def standard_normal(
    shape: tuple[int, ...] | torch.Size,
    *,
    generator: torch.Generator | None,
    device: torch.device | str,
    dtype: torch.dtype,
) -> Tensor:
    """Draw N(0, I) noise of ``shape`` onto ``device``.

    The draw happens on the generator's own device and is then moved, so a CPU generator with a fixed
    seed gives the same numbers whether the sampler runs on CPU or GPU.
    """
    source = generator.device if generator is not None else torch.device(device)
    return torch.randn(tuple(shape), generator=generator, device=source, dtype=dtype).to(device)


# Diffusion models train with 1000 steps (EDGE, DSG); a bound keeps a stored config from allocating the
# per-step tables without limit (they hold a handful of float64 values per step).
MAX_NUM_STEPS = 100_000


def _check_num_steps(num_steps: int) -> None:
    if not 1 <= int(num_steps) <= MAX_NUM_STEPS:
        raise A2AError(f"num_steps must lie in 1..{MAX_NUM_STEPS}, got {num_steps}")


class NoiseSchedule:
    """Discrete variance-preserving schedule defined by ``betas[num_steps]``.

    Args:
        betas: ``[num_steps]`` values in (0, 1).
        prediction: what the denoiser outputs, "x0" (EDGE) or "eps".
        clip_x0: clamp x̂0 to [-1, 1] during sampling (EDGE: True).
    """

    def __init__(self, betas: Tensor, prediction: str = "x0", clip_x0: bool = True) -> None:
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if betas.numel() < 1:
            raise A2AError("num_steps must be at least 1")
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise A2AError("betas must lie in (0, 1); check beta_start/beta_end/max_beta")
        self.prediction = check_prediction(prediction)
        self.clip_x0 = bool(clip_x0)
        self.betas = betas
        self.alphas = 1.0 - betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.alphas_cumprod_prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.sqrt_alphas_cumprod = self.alphas_cumprod.sqrt()
        self.sqrt_one_minus_alphas_cumprod = (1.0 - self.alphas_cumprod).sqrt()
        self.sqrt_recip_alphas_cumprod = (1.0 / self.alphas_cumprod).sqrt()
        self.sqrt_recipm1_alphas_cumprod = (1.0 / self.alphas_cumprod - 1.0).sqrt()
        self.posterior_variance = betas * (1.0 - self.alphas_cumprod_prev) / (1.0 - self.alphas_cumprod)
        self.posterior_log_variance_clipped = self.posterior_variance.clamp(
            min=POSTERIOR_LOG_VARIANCE_FLOOR
        ).log()
        self.posterior_mean_coef1 = betas * self.alphas_cumprod_prev.sqrt() / (1.0 - self.alphas_cumprod)
        self.posterior_mean_coef2 = (
            (1.0 - self.alphas_cumprod_prev) * self.alphas.sqrt() / (1.0 - self.alphas_cumprod)
        )
        self._device_cache: dict[tuple[str, torch.device], Tensor] = {}

    @property
    def num_steps(self) -> int:
        """Number of diffusion steps T (valid timesteps are 0 … T − 1)."""
        return int(self.betas.numel())

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_steps={self.num_steps}, prediction={self.prediction!r}, "
            f"clip_x0={self.clip_x0})"
        )

    # -- indexing -------------------------------------------------------------------------------------

    def _at(self, name: str, t: int | Tensor, like: Tensor) -> float | Tensor:
        """Value of the float64 table ``name`` at ``t``, shaped to broadcast against ``like`` [B, ...].

        An ``int`` gives a Python float (double precision scalar arithmetic); a ``LongTensor[B]`` gives
        ``[B, 1, ..., 1]`` in ``like``'s dtype and device.
        """
        table: Tensor = getattr(self, name)
        if isinstance(t, int):
            if not 0 <= t < self.num_steps:
                raise A2AError(f"timestep t={t} is outside 0..{self.num_steps - 1}")
            return float(table[t])
        if not isinstance(t, Tensor) or t.dtype.is_floating_point or t.dtype == torch.bool:
            raise A2AError(f"timestep t must be an int or an integer tensor, got {type(t).__name__}")
        key = (name, t.device)
        on_device = self._device_cache.get(key)
        if on_device is None:
            on_device = table.to(t.device)
            self._device_cache[key] = on_device
        values = on_device[t.long()].to(like.dtype)
        return values.reshape(values.shape + (1,) * (like.dim() - values.dim()))

    # -- forward process ------------------------------------------------------------------------------

    def q_sample(self, x0: Tensor, t: int | Tensor, noise: Tensor) -> Tensor:
        """Noise clean data to level ``t``: √ᾱ_t·x0 + √(1 − ᾱ_t)·noise.

        Args:
            x0: ``[B, T, D]`` (any shape with batch first).
            t: int or ``LongTensor[B]``.
            noise: same shape as ``x0``.
        """
        if noise.shape != x0.shape:
            raise A2AError(f"noise shape {tuple(noise.shape)} does not match x0 shape {tuple(x0.shape)}")
        return (
            self._at("sqrt_alphas_cumprod", t, x0) * x0
            + self._at("sqrt_one_minus_alphas_cumprod", t, x0) * noise
        )

    def posterior_mean_variance(
        self, x0: Tensor, x_t: Tensor, t: int | Tensor
    ) -> tuple[Tensor, float | Tensor, float | Tensor]:
        """q(x_{t-1} | x_t, x0): ``(mean [B, T, D], variance, log-variance clamped at 1e-20)``.

        The variance terms are Python floats for an ``int`` t and ``[B, 1, 1]`` tensors otherwise.
        """
        mean = self._at("posterior_mean_coef1", t, x_t) * x0 + self._at("posterior_mean_coef2", t, x_t) * x_t
        return (
            mean,
            self._at("posterior_variance", t, x_t),
            self._at("posterior_log_variance_clipped", t, x_t),
        )

    # -- parameterisation conversions ------------------------------------------------------------------

    def x0_from_eps(self, x_t: Tensor, t: int | Tensor, eps: Tensor) -> Tensor:
        """x0 = x_t/√ᾱ_t − √(1/ᾱ_t − 1)·ε.  ``[B, T, D]``."""
        return (
            self._at("sqrt_recip_alphas_cumprod", t, x_t) * x_t
            - self._at("sqrt_recipm1_alphas_cumprod", t, x_t) * eps
        )

    def eps_from_x0(self, x_t: Tensor, t: int | Tensor, x0: Tensor) -> Tensor:
        """ε = (x_t/√ᾱ_t − x0) / √(1/ᾱ_t − 1).  ``[B, T, D]``."""
        return (self._at("sqrt_recip_alphas_cumprod", t, x_t) * x_t - x0) / self._at(
            "sqrt_recipm1_alphas_cumprod", t, x_t
        )

    def predict_x0(
        self, x_t: Tensor, t: int | Tensor, model_out: Tensor, prediction: str | None = None
    ) -> Tensor:
        """x̂0 from a model output of kind ``prediction`` (default: this schedule's). Not clamped."""
        kind = check_prediction(self.prediction if prediction is None else prediction)
        return model_out if kind == "x0" else self.x0_from_eps(x_t, t, model_out)

    def predict_eps(
        self, x_t: Tensor, t: int | Tensor, model_out: Tensor, prediction: str | None = None
    ) -> Tensor:
        """ε̂ from a model output of kind ``prediction`` (default: this schedule's)."""
        kind = check_prediction(self.prediction if prediction is None else prediction)
        return model_out if kind == "eps" else self.eps_from_x0(x_t, t, model_out)


class CosineSchedule(NoiseSchedule):
    """Nichol & Dhariwal cosine schedule, exactly EDGE's ``make_beta_schedule("cosine")``.

    ᾱ(t) ∝ cos²(((t/T) + s)/(1 + s)·π/2); betas = 1 − ᾱ(t+1)/ᾱ(t), clipped to [0, max_beta].
    """

    def __init__(
        self,
        num_steps: int = 1000,
        s: float = 0.008,
        max_beta: float = 0.999,
        prediction: str = "x0",
        clip_x0: bool = True,
    ) -> None:
        _check_num_steps(num_steps)
        if not 0.0 < max_beta < 1.0:
            raise A2AError(f"max_beta must lie in (0, 1), got {max_beta}")
        if s < 0:
            raise A2AError(f"s must be non-negative, got {s}")
        steps = torch.arange(int(num_steps) + 1, dtype=torch.float64) / int(num_steps) + s
        f = torch.cos(steps / (1 + s) * math.pi / 2).pow(2)
        f = f / f[0]
        betas = (1 - f[1:] / f[:-1]).clamp(min=0.0, max=max_beta)
        super().__init__(betas, prediction=prediction, clip_x0=clip_x0)


class LinearSchedule(NoiseSchedule):
    """Linear beta schedule (Ho et al. 2020): betas = linspace(beta_start, beta_end, num_steps).

    ``spacing="sqrt"`` gives linspace(√beta_start, √beta_end)², which is what EDGE's (and latent
    diffusion's) ``make_beta_schedule("linear")`` actually computes.
    """

    def __init__(
        self,
        num_steps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 2e-2,
        spacing: str = "linear",
        prediction: str = "x0",
        clip_x0: bool = True,
    ) -> None:
        _check_num_steps(num_steps)
        if not 0.0 < beta_start <= beta_end < 1.0:
            raise A2AError(
                f"need 0 < beta_start <= beta_end < 1, got beta_start={beta_start}, beta_end={beta_end}"
            )
        if spacing == "linear":
            betas = torch.linspace(beta_start, beta_end, int(num_steps), dtype=torch.float64)
        elif spacing == "sqrt":
            betas = torch.linspace(beta_start**0.5, beta_end**0.5, int(num_steps), dtype=torch.float64) ** 2
        else:
            raise A2AError(f"spacing must be 'linear' or 'sqrt', got {spacing!r}")
        super().__init__(betas, prediction=prediction, clip_x0=clip_x0)
