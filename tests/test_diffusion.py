"""Schedules, samplers, guidance, constraints and training inputs of the motion-agnostic diffusion core.

Samplers are checked against analytic denoisers: for data that is one known point the ideal x0-denoiser
is constant; for Gaussian data N(μ, σ²) the ideal denoiser is E[x0 | x_t] in closed form.
"""

from __future__ import annotations

import collections
import itertools
import math

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from a2a.diffusion import (
    ConditionDropout,
    ConditionMix,
    ConstantGuidance,
    Constraint,
    CosineSchedule,
    DDIMSampler,
    DDPMSampler,
    Denoiser,
    LinearSchedule,
    LongFormSampler,
    NoiseSchedule,
    RampGuidance,
    diffusion_training_inputs,
    guided_output,
    keep_mask,
    sample_timesteps,
    training_target,
)
from a2a.errors import A2AError

COSINE = CosineSchedule()


def _table(schedule: NoiseSchedule, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return getattr(schedule, name)[t].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


class PointDenoiser:
    """Ideal denoiser when the data distribution is the single point ``x0_star`` [D]."""

    def __init__(self, x0_star: torch.Tensor, schedule: NoiseSchedule) -> None:
        self.x0_star = x0_star
        self.schedule = schedule

    def __call__(self, x, t, cond, keep_cond=None):
        x0 = self.x0_star.expand_as(x)
        if self.schedule.prediction == "x0":
            return x0
        abar = _table(self.schedule, "alphas_cumprod", t, x)
        return (x - abar.sqrt() * x0) / (1 - abar).sqrt()


class GaussianDenoiser:
    """Ideal denoiser for data x0 ~ N(μ, diag σ²): E[x0 | x_t] (or the matching E[ε | x_t])."""

    def __init__(self, mu: torch.Tensor, sigma: torch.Tensor, schedule: NoiseSchedule) -> None:
        self.mu, self.sigma, self.schedule = mu, sigma, schedule

    def __call__(self, x, t, cond, keep_cond=None):
        abar = _table(self.schedule, "alphas_cumprod", t, x)
        gain = abar.sqrt() * self.sigma**2 / (abar * self.sigma**2 + 1 - abar)
        x0 = self.mu + gain * (x - abar.sqrt() * self.mu)
        if self.schedule.prediction == "x0":
            return x0
        return (x - abar.sqrt() * x0) / (1 - abar).sqrt()


class TinyDenoiser(nn.Module):
    """A small conditional network with a learned null condition; records every call."""

    def __init__(self, dim: int = 3, cond_dim: int = 2) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = nn.Linear(dim + cond_dim + 1, dim)
        self.null_cond = nn.Parameter(torch.randn(cond_dim))
        self.calls: list[tuple[int, torch.Tensor, torch.Tensor | None]] = []

    def forward(self, x, t, cond, keep_cond=None):
        self.calls.append((x.shape[0], t.clone(), None if keep_cond is None else keep_cond.clone()))
        c = cond.mean(dim=1)
        if keep_cond is not None:
            c = torch.where(keep_cond[:, None], c, self.null_cond.expand_as(c))
        frames = x.shape[1]
        h = torch.cat(
            [x, c[:, None].expand(-1, frames, -1), (t.float() / 1000)[:, None, None].expand(-1, frames, 1)],
            -1,
        )
        return torch.tanh(self.proj(h))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- schedules --------------------------------------------------------------------------------------------


def test_cosine_schedule_matches_edge_values():
    abar = COSINE.alphas_cumprod
    assert abar.dtype == torch.float64 and COSINE.num_steps == 1000
    expected = {0: 0.99996, 99: 0.972, 499: 0.494, 899: 0.0241, 999: 2.4e-9}
    for t, value in expected.items():
        assert float(abar[t]) == pytest.approx(value, rel=0.02), t
    # independent evaluation of the Nichol–Dhariwal formula: ᾱ_t = f(t+1)/f(0) until the beta clip bites
    s, steps = 0.008, np.arange(1001) / 1000
    f = np.cos((steps + s) / (1 + s) * np.pi / 2) ** 2
    np.testing.assert_allclose(abar[:998].numpy(), f[1:999] / f[0], rtol=1e-10)
    assert float(COSINE.betas.max()) == pytest.approx(0.999)
    assert float(abar[999]) == pytest.approx(float(abar[998]) * (1 - 0.999), rel=1e-12)


def test_cosine_schedule_is_dsgs_discretised_alpha_bar():
    # DiffuseStyleGesture (guided-diffusion's betas_for_alpha_bar): β_i = min(1 − ᾱ((i+1)/T)/ᾱ(i/T), 0.999)
    # with ᾱ(u) = cos²((u + 0.008)/1.008 · π/2), evaluated in double precision scalars.
    def alpha_bar(u: float) -> float:
        return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = [min(1 - alpha_bar((i + 1) / 1000) / alpha_bar(i / 1000), 0.999) for i in range(1000)]
    dsg = CosineSchedule(num_steps=1000, prediction="x0", clip_x0=False)
    np.testing.assert_allclose(dsg.betas.numpy(), betas, rtol=1e-12, atol=1e-15)
    assert dsg.prediction == "x0" and dsg.clip_x0 is False


def test_linear_schedules():
    lin = LinearSchedule()
    assert float(lin.betas[0]) == pytest.approx(1e-4)
    assert float(lin.betas[-1]) == pytest.approx(2e-2)
    assert float(lin.betas[500]) == pytest.approx(1e-4 + (2e-2 - 1e-4) * 500 / 999)
    assert float(lin.alphas_cumprod[-1]) == pytest.approx(4.04e-5, rel=0.01)  # DDPM's known ᾱ_T
    edge_linear = LinearSchedule(spacing="sqrt")
    k = 300
    root = math.sqrt(1e-4) + k * (math.sqrt(2e-2) - math.sqrt(1e-4)) / 999
    assert float(edge_linear.betas[k]) == pytest.approx(root**2)


def test_q_sample_statistics_and_exact_formula():
    x0 = torch.full((40000, 1, 1), 0.7)
    t = 499
    xt = COSINE.q_sample(x0, t, torch.randn(x0.shape, generator=_gen(1)))
    abar = float(COSINE.alphas_cumprod[t])
    assert float(xt.mean()) == pytest.approx(math.sqrt(abar) * 0.7, abs=0.015)
    assert float(xt.std()) == pytest.approx(math.sqrt(1 - abar), rel=0.02)
    x0 = torch.tensor([[[0.5]], [[0.5]]], dtype=torch.float64)
    noise = torch.tensor([[[2.0]], [[-1.0]]], dtype=torch.float64)
    out = COSINE.q_sample(x0, torch.tensor([0, 999]), noise)
    a0, a1 = float(COSINE.alphas_cumprod[0]), float(COSINE.alphas_cumprod[999])
    assert float(out[0]) == pytest.approx(math.sqrt(a0) * 0.5 + math.sqrt(1 - a0) * 2.0, rel=1e-12)
    assert float(out[1]) == pytest.approx(math.sqrt(a1) * 0.5 - math.sqrt(1 - a1), rel=1e-12)


@pytest.mark.parametrize("t", [0, 1, 250, 700, 999])
def test_x0_eps_round_trip(t):
    g = _gen(2)
    x0 = torch.rand(4, 5, 3, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(4, 5, 3, generator=g, dtype=torch.float64)
    xt = COSINE.q_sample(x0, t, eps)
    torch.testing.assert_close(COSINE.x0_from_eps(xt, t, eps), x0, atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(COSINE.eps_from_x0(xt, t, x0), eps, atol=1e-7, rtol=1e-7)
    t_batch = torch.full((4,), t)
    torch.testing.assert_close(COSINE.predict_x0(xt, t_batch, eps, "eps"), x0, atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(COSINE.predict_eps(xt, t_batch, x0, "x0"), eps, atol=1e-7, rtol=1e-7)
    assert COSINE.predict_x0(xt, t, x0) is x0  # schedule default prediction: x0
    assert COSINE.predict_eps(xt, t, eps, "eps") is eps


def test_posterior_is_consistent_with_the_marginals():
    # if x_t ~ q(x_t | x0) and x_{t-1} ~ q(x_{t-1} | x_t, x0), then x_{t-1} ~ N(√ᾱ_{t-1} x0, 1 − ᾱ_{t-1})
    s = COSINE
    abar, abar_prev = s.alphas_cumprod[1:], s.alphas_cumprod[:-1]
    c1, c2 = s.posterior_mean_coef1[1:], s.posterior_mean_coef2[1:]
    torch.testing.assert_close(c1 + c2 * abar.sqrt(), abar_prev.sqrt())
    torch.testing.assert_close(c2**2 * (1 - abar) + s.posterior_variance[1:], 1 - abar_prev)
    assert float(s.posterior_variance[0]) == 0.0
    assert float(s.posterior_log_variance_clipped[0]) == pytest.approx(math.log(1e-20))
    x0, xt = torch.ones(2, 3, 1), torch.zeros(2, 3, 1)
    mean, var, logvar = s.posterior_mean_variance(x0, xt, torch.tensor([5, 600]))
    assert mean.shape == (2, 3, 1) and var.shape == (2, 1, 1)
    assert float(mean[1, 0, 0]) == pytest.approx(float(s.posterior_mean_coef1[600]), rel=1e-6)
    assert float(logvar[0, 0, 0]) == pytest.approx(math.log(float(s.posterior_variance[5])), rel=1e-6)


# -- samplers on analytic denoisers -----------------------------------------------------------------------

POINT = torch.tensor([0.25, -0.6, 0.9])


@pytest.mark.parametrize("prediction", ["x0", "eps"])
@pytest.mark.parametrize(
    "sampler",
    [
        DDIMSampler(steps=50, eta=0.0),
        DDIMSampler(steps=50, eta=1.0),
        DDIMSampler(steps=7, eta=0.3),
        DDPMSampler(),
    ],
    ids=repr,
)
def test_point_mass_is_recovered_exactly(sampler, prediction):
    schedule = CosineSchedule(prediction=prediction)
    out = sampler.sample(
        PointDenoiser(POINT, schedule), (6, 4, 3), None, schedule=schedule, generator=_gen(3)
    )
    torch.testing.assert_close(out, POINT.expand(6, 4, 3), atol=1e-5, rtol=0)


def test_point_mass_outside_the_clamp_is_clamped():
    target = torch.tensor([1.5, -3.0, 0.5])
    out = DDIMSampler(10).sample(
        PointDenoiser(target, COSINE), (2, 3, 3), None, schedule=COSINE, generator=_gen()
    )
    torch.testing.assert_close(out, torch.tensor([1.0, -1.0, 0.5]).expand(2, 3, 3))
    unclipped = CosineSchedule(clip_x0=False)
    out = DDIMSampler(10).sample(PointDenoiser(target, unclipped), (2, 3, 3), None, schedule=unclipped)
    torch.testing.assert_close(out, target.expand(2, 3, 3))


MU = torch.tensor([0.3, -0.2])
SIGMA = torch.tensor([0.5, 0.3])


def _gaussian_output_moments(
    sampler, schedule: NoiseSchedule, mu: float, sigma: float
) -> tuple[float, float]:
    """Exact mean and std of a sampler's output for data N(mu, sigma²) and the ideal denoiser.

    Every step is affine in x plus independent Gaussian noise, so the moments of x ~ N(m, v) propagate in
    closed form (float64, written out independently of the sampler code).
    """
    abar = schedule.alphas_cumprod.tolist()
    m, v = 0.0, 1.0  # x_T ~ N(0, 1)
    for t, t_next in sampler.timestep_pairs(schedule):
        a = abar[t]
        k = math.sqrt(a) * sigma**2 / (a * sigma**2 + 1 - a)  # x̂0 = mu + k (x − √a mu)
        x0_gain, x0_off = k, mu - k * math.sqrt(a) * mu
        if t_next < 0:
            return x0_gain * m + x0_off, abs(x0_gain) * math.sqrt(v)
        a_next = abar[t_next]
        if isinstance(sampler, DDPMSampler):
            c1 = (1 - a / a_next) * math.sqrt(a_next) / (1 - a)
            c2 = (1 - a_next) * math.sqrt(a / a_next) / (1 - a)
            gain, off, noise_var = c1 * x0_gain + c2, c1 * x0_off, (1 - a / a_next) * (1 - a_next) / (1 - a)
        else:
            noise_var = sampler.eta**2 * (1 - a / a_next) * (1 - a_next) / (1 - a)
            c = math.sqrt(1 - a_next - noise_var)
            eps_gain, eps_off = (
                (1 - math.sqrt(a) * x0_gain) / math.sqrt(1 - a),
                -math.sqrt(a) * x0_off / math.sqrt(1 - a),
            )
            gain = math.sqrt(a_next) * x0_gain + c * eps_gain
            off = math.sqrt(a_next) * x0_off + c * eps_off
        if t == 0:  # DDPM's last step adds no noise
            noise_var = 0.0
        m, v = gain * m + off, gain**2 * v + noise_var
    return m, math.sqrt(v)


@pytest.mark.parametrize(
    ("sampler", "prediction", "bias"),
    [
        (DDIMSampler(steps=50, eta=0.0), "x0", 0.05),
        (DDIMSampler(steps=50, eta=0.0), "eps", 0.05),
        (DDIMSampler(steps=50, eta=1.0), "x0", 0.1),
        (DDIMSampler(steps=1000, eta=0.0), "x0", 0.01),
        (DDPMSampler(), "x0", 0.01),
    ],
    ids=["ddim50-eta0-x0", "ddim50-eta0-eps", "ddim50-eta1-x0", "ddim1000-eta0", "ddpm-x0"],
)
def test_gaussian_data_mean_and_std_are_reproduced(sampler, prediction, bias):
    # no clamp: the tails of N(0.3, 0.5²) pass ±1. 50 steps have a real discretisation bias: the exact
    # output std is 3.1 % / 4.6 % below σ = 0.5 / 0.3 for eta 0 (14 % at σ = 0.1, partly because the last
    # step returns E[x0 | x_19]) and 6.5 % / 9.3 % for eta 1; 1000 steps bring it under 1 %. Samples must
    # match the exact moments within sampling error, and those must match the data within the known bias.
    schedule = CosineSchedule(prediction=prediction, clip_x0=False)
    den = GaussianDenoiser(MU, SIGMA, schedule)
    batch = 4000 if len(sampler.timestep_pairs(schedule)) <= 50 else 1500
    out = sampler.sample(den, (batch, 2, 2), None, schedule=schedule, generator=_gen(4)).reshape(-1, 2)
    for d in range(2):
        mean, std = _gaussian_output_moments(sampler, schedule, float(MU[d]), float(SIGMA[d]))
        assert mean == pytest.approx(float(MU[d]), abs=1e-4)
        assert std == pytest.approx(float(SIGMA[d]), rel=bias)
        assert float(out[:, d].mean()) == pytest.approx(mean, abs=0.05 * std)
        assert float(out[:, d].std()) == pytest.approx(std, rel=0.04)


def test_ddim_eta0_on_gaussian_data_is_the_exact_affine_map():
    # with the ideal Gaussian denoiser every deterministic DDIM step is affine in x, so the whole sampler is
    # x_T ↦ A·x_T + b with A, b computable in float64 by hand from ᾱ
    schedule, sampler = CosineSchedule(clip_x0=False), DDIMSampler(steps=20, eta=0.0)
    mu, sigma = 0.3, 0.5
    gain, offset = 1.0, 0.0  # x = gain·x_T + offset
    for t, t_next in sampler.timestep_pairs(schedule):
        a = float(schedule.alphas_cumprod[t])
        k = math.sqrt(a) * sigma**2 / (a * sigma**2 + 1 - a)
        x0_gain, x0_offset = k * gain, mu + k * (offset - math.sqrt(a) * mu)
        if t_next < 0:
            gain, offset = x0_gain, x0_offset
            break
        eps_gain = (gain - math.sqrt(a) * x0_gain) / math.sqrt(1 - a)
        eps_offset = (offset - math.sqrt(a) * x0_offset) / math.sqrt(1 - a)
        an = float(schedule.alphas_cumprod[t_next])
        gain = math.sqrt(an) * x0_gain + math.sqrt(1 - an) * eps_gain
        offset = math.sqrt(an) * x0_offset + math.sqrt(1 - an) * eps_offset
    x_T = torch.randn(64, 3, 1, generator=_gen(6), dtype=torch.float64)
    den = GaussianDenoiser(
        torch.tensor([mu], dtype=torch.float64), torch.tensor([sigma], dtype=torch.float64), schedule
    )
    out = sampler.sample(den, (64, 3, 1), None, schedule=schedule, x_T=x_T)
    torch.testing.assert_close(out, gain * x_T + offset, atol=1e-9, rtol=1e-9)
    assert 0.45 < gain < 0.5  # the map is a real contraction towards σ, not the identity


def test_ddim_timesteps_match_edge():
    pairs = DDIMSampler(steps=50).timestep_pairs(COSINE)
    times = list(range(999, 0, -20)) + [-1]
    assert pairs == list(itertools.pairwise(times))
    assert pairs[0] == (999, 979) and pairs[-1] == (19, -1)
    full = DDIMSampler(steps=1000).timestep_pairs(COSINE)
    assert full == [(t, t - 1) for t in range(999, -1, -1)]
    assert DDPMSampler().timestep_pairs(COSINE) == full


def test_sampling_is_deterministic_for_a_seed():
    den, cond = TinyDenoiser(), torch.randn(3, 4, 2, generator=_gen(5))
    for sampler in (DDIMSampler(steps=10, eta=1.0), DDPMSampler()):
        schedule = CosineSchedule(num_steps=100)
        a = sampler.sample(den, (3, 4, 3), cond, schedule=schedule, generator=_gen(7), guidance=2.0)
        b = sampler.sample(den, (3, 4, 3), cond, schedule=schedule, generator=_gen(7), guidance=2.0)
        c = sampler.sample(den, (3, 4, 3), cond, schedule=schedule, generator=_gen(8), guidance=2.0)
        assert torch.equal(a, b)
        assert not torch.allclose(a, c)


def test_ddim_eta0_is_a_deterministic_map_of_x_T():
    den, cond = TinyDenoiser(), torch.randn(2, 4, 2)
    x_T = torch.randn(2, 4, 3, generator=_gen(9))
    a = DDIMSampler(steps=20, eta=0.0).sample(
        den, (2, 4, 3), cond, schedule=COSINE, x_T=x_T, generator=_gen(1)
    )
    b = DDIMSampler(steps=20, eta=0.0).sample(
        den, (2, 4, 3), cond, schedule=COSINE, x_T=x_T, generator=_gen(2)
    )
    assert torch.equal(a, b)
    assert torch.equal(x_T, torch.randn(2, 4, 3, generator=_gen(9)))  # x_T itself untouched


# -- classifier-free guidance -----------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [0.5, 2.0, 3.7])
def test_batched_guidance_equals_two_passes(weight):
    den = TinyDenoiser()
    g = _gen(10)
    x, cond, t = (
        torch.randn(4, 5, 3, generator=g),
        torch.randn(4, 5, 2, generator=g),
        torch.tensor([3, 50, 500, 999]),
    )
    unc = den(x, t, cond, torch.zeros(4, dtype=torch.bool))
    cnd = den(x, t, cond, torch.ones(4, dtype=torch.bool))
    den.calls.clear()
    out = guided_output(den, x, t, cond, weight)
    torch.testing.assert_close(out, unc + (cnd - unc) * weight, atol=1e-6, rtol=1e-6)
    assert len(den.calls) == 1
    batch, t_seen, keep = den.calls[0]
    assert batch == 8 and torch.equal(t_seen, torch.cat([t, t]))
    assert keep.tolist() == [True] * 4 + [False] * 4


def test_guidance_weight_one_equals_conditional_and_zero_unconditional():
    den = TinyDenoiser()
    x, cond, t = torch.randn(2, 5, 3), torch.randn(2, 5, 2), torch.tensor([10, 900])
    assert torch.equal(guided_output(den, x, t, cond, 1.0), den(x, t, cond))
    assert torch.equal(guided_output(den, x, t, cond, 0.0), den(x, t, cond, torch.zeros(2, dtype=torch.bool)))
    assert not torch.allclose(den(x, t, cond), den(x, t, cond, torch.zeros(2, dtype=torch.bool)))
    a = DDIMSampler(10).sample(den, (2, 5, 3), cond, schedule=COSINE, generator=_gen(), guidance=1.0)
    b = DDIMSampler(10).sample(den, (2, 5, 3), cond, schedule=COSINE, generator=_gen(), guidance=None)
    assert torch.equal(a, b)


def test_guidance_schedules():
    assert ConstantGuidance(2.5).weights(3) == [2.5, 2.5, 2.5]
    ramp = RampGuidance(2.0).weights(50)
    np.testing.assert_allclose(ramp, np.clip(np.linspace(0, 4, 50), None, 2.0))
    assert ramp[0] == 0.0 and ramp[24] == pytest.approx(4 * 24 / 49) and ramp[25] == 2.0 and ramp[-1] == 2.0
    assert RampGuidance(3.0, start=1.0).weights(5) == [1.0, 2.0, 3.0, 3.0, 3.0]
    plan = LongFormSampler(DDIMSampler(50), hop=75).plan(COSINE, RampGuidance(2.0))
    assert [w for _, _, w in plan] == ramp


def test_ddpm_caps_guidance_below_a_tenth_of_the_schedule():
    plan = DDPMSampler().plan(COSINE, 2.0)
    assert all(w == (1.0 if t < 100 else 2.0) for t, _, w in plan)
    assert all(w == 2.0 for _, _, w in DDPMSampler(cap_guidance_below=0).plan(COSINE, 2.0))
    assert all(w == 2.0 for _, _, w in DDIMSampler().plan(COSINE, 2.0))  # EDGE's DDIM does not cap
    # the cap changes the calls: one B-sized conditional pass below t = 10 of 100, a 2B pass above
    den = TinyDenoiser()
    DDPMSampler().sample(den, (2, 3, 3), torch.randn(2, 3, 2), schedule=CosineSchedule(100), guidance=2.0)
    sizes = {int(t[0]): batch for batch, t, _ in den.calls}
    assert all(sizes[t] == (2 if t < 10 else 4) for t in range(100))


def test_dict_conditioning_is_doubled_leaf_by_leaf():
    seen = {}

    def den(x, t, cond, keep_cond=None):
        seen["shapes"] = {k: tuple(v.shape) for k, v in cond.items()}
        return x * 0

    guided_output(den, torch.zeros(3, 4, 2), torch.zeros(3, dtype=torch.long), {"a": torch.ones(3, 7)}, 2.0)
    assert seen["shapes"] == {"a": (6, 7)}
    Pair = collections.namedtuple("Pair", "audio style")

    def den_pair(x, t, cond, keep_cond=None):
        seen["pair"] = (type(cond), cond.audio.shape[0], cond.style.shape[0])
        return x * 0

    cond = Pair(torch.ones(3, 5), torch.ones(3, 2))
    guided_output(den_pair, torch.zeros(3, 4, 2), torch.zeros(3, dtype=torch.long), cond, 2.0)
    assert seen["pair"] == (Pair, 6, 6)
    assert isinstance(TinyDenoiser(), Denoiser)


# -- constraints ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sampler", [DDIMSampler(steps=20, eta=1.0), DDIMSampler(steps=20, eta=0.0), DDPMSampler()]
)
def test_constraint_is_imposed_exactly_at_the_end(sampler):
    schedule = CosineSchedule(num_steps=200)
    den, g = TinyDenoiser(), _gen(11)
    value = torch.rand(2, 6, 3, generator=g) * 2 - 1
    mask = torch.zeros(2, 6, 3, dtype=torch.bool)
    mask[:, :2] = True  # two known frames (in-betweening style)
    mask[:, :, 1] = True  # and one channel everywhere
    out = sampler.sample(
        den, (2, 6, 3), torch.randn(2, 6, 2, generator=g), schedule=schedule, generator=g,
        guidance=2.0, constraint=Constraint(mask, value),
    )  # fmt: skip
    assert torch.equal(out[mask], value[mask])
    assert not torch.allclose(out[~mask], value[~mask], atol=1e-3)


def test_constraint_step_renoises_known_values():
    value, x = torch.full((1, 4, 2), 0.5), torch.full((1, 4, 2), -9.0)
    mask = torch.tensor([1.0, 0.0, 1.0, 0.0]).view(1, 4, 1)
    out = Constraint(mask, value).apply(x, 300, COSINE, _gen(12))
    expected_known = COSINE.q_sample(value, 300, torch.randn(1, 4, 2, generator=_gen(12)))
    torch.testing.assert_close(out[:, [0, 2]], expected_known[:, [0, 2]])
    assert torch.equal(out[:, [1, 3]], x[:, [1, 3]])
    assert torch.equal(Constraint(mask, value).apply(x, -1, COSINE, None)[:, [0, 2]], value[:, [0, 2]])


# -- training inputs --------------------------------------------------------------------------------------


def test_training_inputs():
    x0 = torch.rand(5000, 2, 3, generator=_gen(13)) * 2 - 1
    xt, t, noise = diffusion_training_inputs(x0, COSINE, _gen(14))
    assert t.dtype == torch.long and int(t.min()) >= 0 and int(t.max()) <= 999
    assert float(t.float().mean()) == pytest.approx(499.5, abs=15)
    assert float(noise.std()) == pytest.approx(1.0, abs=0.02)
    assert torch.equal(xt, COSINE.q_sample(x0, t, noise))
    again = diffusion_training_inputs(x0, COSINE, _gen(14))
    assert all(torch.equal(a, b) for a, b in zip((xt, t, noise), again, strict=True))
    assert training_target(x0, noise, "x0") is x0
    assert training_target(x0, noise, "eps") is noise
    assert sample_timesteps(7, CosineSchedule(10), _gen()).max() < 10


# -- configuration and bad input --------------------------------------------------------------------------


def test_hydra_instantiation():
    sampler = instantiate({"_target_": "a2a.diffusion.DDIMSampler", "steps": 20, "eta": 0.0})
    assert isinstance(sampler, DDIMSampler) and sampler.steps == 20 and sampler.eta == 0.0
    long = instantiate(
        {
            "_target_": "a2a.diffusion.LongFormSampler",
            "hop": 75,
            "inner_sampler": {"_target_": "a2a.diffusion.DDPMSampler"},
        }
    )
    assert isinstance(long.inner_sampler, DDPMSampler) and long.hop == 75
    schedule = instantiate(
        {"_target_": "a2a.diffusion.CosineSchedule", "num_steps": 100, "prediction": "eps"}
    )
    assert schedule.num_steps == 100 and schedule.prediction == "eps"
    assert instantiate({"_target_": "a2a.diffusion.RampGuidance", "weight": 2.0}).weights(3) == [
        0.0,
        2.0,
        2.0,
    ]


def _raises(match: str):
    return pytest.raises(A2AError, match=match)


def test_bad_arguments_name_the_option():
    den, cond = TinyDenoiser(), torch.randn(2, 4, 2)
    with _raises("steps=2000 exceeds"):
        DDIMSampler(steps=2000).sample(den, (2, 4, 3), cond, schedule=COSINE)
    with _raises("steps must be a positive integer"):
        DDIMSampler(steps=0)
    with _raises("eta must lie in"):
        DDIMSampler(eta=-0.1)
    with _raises("prediction must be one of"):
        CosineSchedule(prediction="v")
    with _raises("prediction must be one of"):
        COSINE.predict_x0(torch.zeros(1, 1, 1), 3, torch.zeros(1, 1, 1), "velocity")
    with _raises("prediction must be one of"):
        training_target(torch.zeros(1), torch.zeros(1), "v")
    with _raises("spacing must be"):
        LinearSchedule(spacing="cubic")
    with _raises("x_T shape"):
        DDIMSampler(5).sample(den, (2, 4, 3), cond, schedule=COSINE, x_T=torch.zeros(2, 4, 4))
    with _raises("cond has shape"):
        DDIMSampler(5).sample(den, (3, 4, 3), cond, schedule=COSINE)
    with _raises("shape must be"):
        DDIMSampler(5).sample(den, (2, 4), cond, schedule=COSINE)
    with _raises("constraint mask shape"):
        DDIMSampler(5).sample(
            den,
            (2, 4, 3),
            cond,
            schedule=COSINE,
            constraint=Constraint(torch.ones(4, 4), torch.zeros(2, 4, 3)),
        )
    with _raises("constraint value shape"):
        Constraint(torch.ones(1, 4, 1), torch.zeros(2, 5, 3)).check((2, 4, 3))
    with _raises("noise shape"):
        COSINE.q_sample(torch.zeros(2, 3, 1), 4, torch.zeros(2, 3, 2))
    with _raises("guidance weight"):
        ConstantGuidance(-1.0)
    with _raises("guidance must be"):
        DDIMSampler(5).plan(COSINE, "strong")
    with _raises("cap_guidance_below"):
        DDPMSampler(cap_guidance_below=1.5)
    with _raises("timestep t=1000"):
        COSINE.q_sample(torch.zeros(1), 1000, torch.zeros(1))
    with _raises("max_beta"):
        CosineSchedule(max_beta=1.0)
    with _raises("denoiser output shape"):
        guided_output(
            lambda x, t, c, k=None: x[:, :1], torch.zeros(1, 2, 3), torch.zeros(1, dtype=torch.long), None, 2
        )


# -- named conditions -------------------------------------------------------------------------------------


def test_condition_dropout_draws_like_edge_prob_mask_like():
    dropout = ConditionDropout({"audio": 0.25})
    masks = dropout.keep_masks(20000, generator=_gen(3))
    # EDGE: prob_mask_like(shape, 1 - p) = torch.zeros(shape).float().uniform_(0, 1) < 1 - p
    expected = torch.rand(20000, generator=_gen(3)) < 0.75
    assert masks["audio"].dtype == torch.bool and torch.equal(masks["audio"], expected)
    assert abs(masks["audio"].float().mean().item() - 0.75) < 0.015
    assert ConditionDropout({"audio": 0.0}).keep_masks(5)["audio"].tolist() == [True] * 5
    assert ConditionDropout({"audio": 1.0}).keep_masks(5)["audio"].tolist() == [False] * 5
    # several keys are independent and drawn in the mapping's order
    two = ConditionDropout({"style": 0.1, "seed": 0.5}).keep_masks(20000, generator=_gen(4))
    g = _gen(4)
    assert torch.equal(two["style"], torch.rand(20000, generator=g) < 0.9)
    assert torch.equal(two["seed"], torch.rand(20000, generator=g) < 0.5)
    both_dropped = (~two["style"] & ~two["seed"]).float().mean().item()
    assert abs(both_dropped - 0.05) < 0.01
    with pytest.raises(A2AError, match=r"model.cond_drop.audio must be a probability in \[0, 1\], got 1.5"):
        ConditionDropout({"audio": 1.5})


class KeyedDenoiser(nn.Module):
    """Output depends linearly-but-not-additively on two droppable keys, so guidance formulas differ."""

    conditions = ("audio", "style")
    droppable = ("audio", "style")

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def forward(self, x, t, cond, keep_cond=None):
        self.calls.append(x.shape[0])
        a = keep_mask(keep_cond, "audio", x.shape[0], x.device)[:, None, None]
        s = keep_mask(keep_cond, "style", x.shape[0], x.device)[:, None, None]
        audio = torch.where(a, cond["audio"], torch.full_like(cond["audio"], -0.5))
        style = torch.where(s, cond["style"][:, None, :], torch.zeros_like(cond["style"][:, None, :]))
        return x * 0.5 + audio * (1 + style) + 1e-4 * t.view(-1, 1, 1)


def _keyed_inputs():
    g = _gen(11)
    x = torch.randn(3, 4, 2, generator=g)
    cond = {"audio": torch.randn(3, 4, 2, generator=g), "style": torch.randn(3, 2, generator=g)}
    return x, torch.tensor([5, 60, 900]), cond


def test_per_key_guidance_is_nested_and_batched():
    den = KeyedDenoiser()
    x, t, cond = _keyed_inputs()
    ones, zeros = torch.ones(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)
    e0 = den(x, t, cond, {"audio": zeros, "style": zeros})
    e1 = den(x, t, cond, {"audio": ones, "style": zeros})
    e2 = den(x, t, cond, {"audio": ones, "style": ones})
    den.calls.clear()
    out = guided_output(den, x, t, cond, {"audio": 2.0, "style": 3.0})
    torch.testing.assert_close(out, e0 + 2.0 * (e1 - e0) + 3.0 * (e2 - e1))
    assert den.calls == [9]  # three evaluations, one batched call
    # one key: plain guidance on that key, the other kept
    s0 = den(x, t, cond, {"style": zeros})
    torch.testing.assert_close(guided_output(den, x, t, cond, {"style": 4.0}), s0 + 4.0 * (e2 - s0))
    # equal weights: the joint guidance of both keys (a number guides all droppable keys together)
    torch.testing.assert_close(
        guided_output(den, x, t, cond, {"audio": 2.5, "style": 2.5}), guided_output(den, x, t, cond, 2.5)
    )


def test_per_key_guidance_through_samplers_and_schedules():
    den = KeyedDenoiser()
    _, _, cond = _keyed_inputs()
    plan = DDPMSampler().plan(CosineSchedule(100), {"style": 3.0})
    assert plan[0][2] == {"style": 3.0} and plan[-1][2] == {"style": 1.0}  # EDGE's cap, per key
    ramp = RampGuidance({"audio": 2.0, "style": 4.0}).weights(5)
    assert [w["style"] for w in ramp] == RampGuidance(4.0).weights(5)
    assert [w["audio"] for w in ramp] == RampGuidance(2.0).weights(5)
    free = CosineSchedule(clip_x0=False)
    a = DDIMSampler(4).sample(den, (3, 4, 2), cond, schedule=free, generator=_gen(), guidance={"style": 2.0})
    b = DDIMSampler(4).sample(den, (3, 4, 2), cond, schedule=free, generator=_gen(), guidance=None)
    assert a.shape == b.shape and not torch.allclose(a, b)


def test_condition_mix_interpolates_and_extrapolates():
    den = KeyedDenoiser()
    x, t, cond = _keyed_inputs()
    other = torch.randn(2, generator=_gen(5))  # one style for every row
    with_a, with_b = den(x, t, cond), den(x, t, {**cond, "style": other.expand(3, 2)})
    no_style = den(x, t, cond, {"style": torch.zeros(3, dtype=torch.bool)})
    den.calls.clear()
    torch.testing.assert_close(
        ConditionMix(den, "style", other, 0.3)(x, t, cond), 0.3 * with_a + 0.7 * with_b
    )
    assert den.calls == [6]
    # extrapolation away from the null style (gamma > 1)
    torch.testing.assert_close(
        ConditionMix(den, "style", None, 1.5)(x, t, cond), 1.5 * with_a - 0.5 * no_style
    )
    # composes with guidance: dropped rows see the null style in both halves
    mixed = ConditionMix(den, "style", other, 0.3)
    uncond = mixed(x, t, cond, torch.zeros(3, dtype=torch.bool))
    torch.testing.assert_close(uncond, den(x, t, cond, torch.zeros(3, dtype=torch.bool)))
    guided = guided_output(mixed, x, t, cond, 2.0)
    torch.testing.assert_close(guided, uncond + 2.0 * (mixed(x, t, cond) - uncond))
