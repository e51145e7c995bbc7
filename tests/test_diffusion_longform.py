"""Long-form generation: window planning, overlap-consistent sampling and stitching."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from a2a.diffusion import (
    Constraint,
    CosineSchedule,
    DDIMSampler,
    DDPMSampler,
    LongFormSampler,
    RampGuidance,
    WindowOverlap,
    plan_windows,
    slice_windows,
    stitch,
)
from a2a.errors import A2AError


class FrameMixer(nn.Module):
    """A conditional denoiser that mixes information across frames, so windows really interact."""

    def __init__(self, dim: int = 3, cond_dim: int = 2) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.proj = nn.Linear(2 * dim + cond_dim, dim)
        self.null_cond = nn.Parameter(torch.randn(cond_dim))

    def forward(self, x, t, cond, keep_cond=None):
        if keep_cond is not None:
            cond = torch.where(keep_cond[:, None, None], cond, self.null_cond.expand_as(cond))
        context = x.mean(dim=1, keepdim=True).expand_as(x)
        return torch.tanh(self.proj(torch.cat([x, context, cond], dim=-1)))


# -- planning ---------------------------------------------------------------------------------------------


def test_plan_windows_short_exact_one_more_and_long():
    short = plan_windows(100, 150, 75)
    assert list(short) == [(0, 150)] and short.padding == 50 and short.padded_frames == 150
    exact = plan_windows(150, 150, 75)
    assert list(exact) == [(0, 150)] and exact.padding == 0
    one_more = plan_windows(151, 150, 75)
    assert list(one_more) == [(0, 150), (75, 225)] and one_more.padding == 74
    edge_30s = plan_windows(900, 150)  # EDGE's default 30 s song: 11 slices, hop = window/2
    assert len(edge_30s) == 11 and edge_30s[-1] == (750, 900) and edge_30s.padding == 0
    long = plan_windows(1000, 150, 75)
    assert len(long) == 13 and long[-1] == (900, 1050) and long.padding == 50
    assert long.padded_frames == 150 + 75 * (len(long) - 1)
    odd = plan_windows(10, 4, 3)
    assert list(odd) == [(0, 4), (3, 7), (6, 10)] and odd.padding == 0
    tiny = plan_windows(1, 4, 1)
    assert list(tiny) == [(0, 4)] and tiny.padding == 3


def test_slice_windows_pads_the_conditioning():
    seq = torch.arange(11.0)[:, None]
    plan = plan_windows(11, 4, 2)
    assert list(plan) == [(0, 4), (2, 6), (4, 8), (6, 10), (8, 12)]
    windows = slice_windows(seq, plan)
    assert windows.shape == (5, 4, 1)
    assert windows[1, :, 0].tolist() == [2, 3, 4, 5]
    assert windows[-1, :, 0].tolist() == [8, 9, 10, 10]
    assert slice_windows(seq, plan, pad="zeros")[-1, :, 0].tolist() == [8, 9, 10, 0]
    with pytest.raises(A2AError, match="pad must be"):
        slice_windows(seq, plan, pad="reflect")
    with pytest.raises(A2AError, match="plan expects 11 frames"):
        slice_windows(seq[:5], plan)


# -- sampling ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("window", "hop"), [(8, 4), (8, 3), (8, 6)])
@pytest.mark.parametrize("inner", [DDIMSampler(steps=10, eta=1.0), DDPMSampler()], ids=["ddim", "ddpm"])
def test_longform_windows_overlap_exactly(inner, window, hop):
    schedule = CosineSchedule(num_steps=100)
    g = torch.Generator().manual_seed(0)
    n, dim = 5, 3
    cond = torch.randn(n, window, 2, generator=g)
    out = LongFormSampler(inner, hop=hop, constrain_final=True).sample(
        FrameMixer(), (n, window, dim), cond, schedule=schedule, generator=g, guidance=RampGuidance(2.0)
    )
    overlap = window - hop
    for i in range(n - 1):
        assert torch.equal(out[i, hop:], out[i + 1, :overlap])
    # by default (EDGE) the final x̂0 keeps each window's own overlap, for the stitch to blend
    free = LongFormSampler(inner, hop=hop).sample(
        FrameMixer(), (n, window, dim), cond, schedule=schedule, generator=torch.Generator().manual_seed(0),
        guidance=RampGuidance(2.0),
    )  # fmt: skip
    assert not torch.equal(free[0, hop:], free[1, :overlap])
    # the inner sampler alone gives windows that do not agree: the overlap copy is what joins them
    alone = inner.sample(FrameMixer(), (n, window, dim), cond, schedule=schedule, generator=g)
    assert not torch.allclose(alone[0, hop:], alone[1, :overlap], atol=1e-3)
    # overlapping windows agree, so stitching with any blend just lays the frames end to end (to rounding)
    full = stitch(out, hop)
    assert full.shape == (window + hop * (n - 1), dim)
    torch.testing.assert_close(full[:window], out[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(full[-window:], out[-1], atol=1e-6, rtol=0)


def test_longform_combines_with_a_user_constraint_and_is_deterministic():
    schedule, window, hop, n = CosineSchedule(num_steps=50), 6, 3, 4
    value = torch.zeros(n, window, 3)
    mask = torch.zeros(n, window, 3)
    mask[0, :2] = 1.0  # seed the first two frames of the song (continuation from a given start)
    sampler = LongFormSampler(DDIMSampler(steps=10), hop=hop, constrain_final=True)
    cond = torch.randn(n, window, 2, generator=torch.Generator().manual_seed(1))

    def run(seed):
        return sampler.sample(
            FrameMixer(), (n, window, 3), cond, schedule=schedule,
            generator=torch.Generator().manual_seed(seed), guidance=2.0, constraint=Constraint(mask, value),
        )  # fmt: skip

    a, b = run(3), run(3)
    assert torch.equal(a, b)
    assert torch.equal(a[0, :2], value[0, :2])
    assert all(torch.equal(a[i, hop:], a[i + 1, : window - hop]) for i in range(n - 1))
    assert not torch.equal(a, run(4))


def test_single_window_is_the_inner_sampler():
    schedule, cond = CosineSchedule(num_steps=50), torch.randn(1, 6, 2)
    inner = DDIMSampler(steps=5)
    a = LongFormSampler(inner, hop=3).sample(
        FrameMixer(), (1, 6, 3), cond, schedule=schedule, generator=torch.Generator().manual_seed(2)
    )
    b = inner.sample(
        FrameMixer(), (1, 6, 3), cond, schedule=schedule, generator=torch.Generator().manual_seed(2)
    )
    assert torch.equal(a, b)


def test_window_overlap_errors():
    with pytest.raises(A2AError, match="hop=9 exceeds the window length 8"):
        LongFormSampler(DDIMSampler(5), hop=9).sample(
            FrameMixer(), (2, 8, 3), torch.zeros(2, 8, 2), schedule=CosineSchedule(50)
        )
    with pytest.raises(A2AError, match="hop must be a positive integer"):
        WindowOverlap(0)
    with pytest.raises(A2AError, match="inner_sampler must be a Sampler"):
        LongFormSampler("ddim", hop=4)  # type: ignore[arg-type]


# -- stitching --------------------------------------------------------------------------------------------


def _cut(signal: torch.Tensor, window: int, hop: int) -> torch.Tensor:
    return torch.stack([signal[s : s + window] for s in range(0, signal.shape[0] - window + 1, hop)])


@pytest.mark.parametrize(("window", "hop"), [(150, 75), (8, 3), (8, 6), (5, 5)])
def test_stitch_reproduces_constant_and_linear_signals(window, hop):
    n = 6
    length = window + hop * (n - 1)
    constant = torch.full((length, 2), 0.37, dtype=torch.float64)
    torch.testing.assert_close(stitch(_cut(constant, window, hop), hop), constant)
    frames = torch.arange(length, dtype=torch.float64)
    linear = torch.stack([0.5 * frames - 3.0, -2.0 * frames + 1.0], dim=1)
    torch.testing.assert_close(stitch(_cut(linear, window, hop), hop), linear)
    torch.testing.assert_close(stitch(_cut(linear, window, hop), hop, total_frames=length - 7), linear[:-7])


def test_stitch_cross_fades_linearly():
    windows = torch.stack([torch.zeros(6, 1), torch.ones(6, 1)])
    assert stitch(windows, 3)[:, 0].tolist() == [0, 0, 0, 0, 0.5, 1, 1, 1, 1]


def test_stitch_matches_edge_root_fade():
    # EDGE render_sample (long mode): fade-out linspace(1, 0, half) on each slice's second half, fade-in
    # linspace(0, 1, half) on the first half, overlap-add with stride half
    g = torch.Generator().manual_seed(5)
    b, s, half = 4, 150, 75
    pos = torch.randn(b, s, 3, generator=g)
    faded = pos.clone()
    fade_out, fade_in = torch.ones(1, s, 1), torch.ones(1, s, 1)
    fade_out[:, half:, :] = torch.linspace(1, 0, half)[None, :, None]
    fade_in[:, :half, :] = torch.linspace(0, 1, half)[None, :, None]
    faded[:-1] *= fade_out
    faded[1:] *= fade_in
    edge = torch.zeros(s + half * (b - 1), 3)
    for k, piece in enumerate(faded):
        edge[k * half : k * half + s] += piece
    torch.testing.assert_close(stitch(pos, half), edge, atol=1e-6, rtol=1e-6)


def test_stitch_blend_hook_receives_overlaps_and_weights():
    # EDGE's rotation stitch: first half of slice 0, blend(q_i[half:], q_{i+1}[:half], linspace(0,1,half)),
    # then the second half of the last slice; here with a non-linear blend and [n, window, J, 4] windows
    g = torch.Generator().manual_seed(6)
    n, window, half = 3, 6, 3
    q = torch.randn(n, window, 2, 4, generator=g)
    seen = []

    def blend(a, b, w):
        seen.append((tuple(a.shape), tuple(b.shape), w.tolist()))
        return a + (b - a) * w[:, None, None] ** 2

    out = stitch(q, half, blend_fn=blend)
    w = torch.linspace(0, 1, half)[:, None, None]
    expected = torch.cat(
        [q[0, :half]]
        + [q[i, half:] + (q[i + 1, :half] - q[i, half:]) * w**2 for i in range(n - 1)]
        + [q[-1, half:]]
    )
    torch.testing.assert_close(out, expected)
    assert seen == [((3, 2, 4), (3, 2, 4), [0.0, 0.5, 1.0])] * 2


def test_stitch_errors():
    windows = torch.zeros(3, 8, 2)
    with pytest.raises(A2AError, match="total_frames must be an integer in 1..16"):
        stitch(windows, 4, total_frames=17)
    with pytest.raises(A2AError, match="hop must be an integer in 1..window"):
        stitch(windows, 9)
    with pytest.raises(A2AError, match="blend_fn returned shape"):
        stitch(windows, 4, blend_fn=lambda a, b, w: a[:1])
    with pytest.raises(A2AError, match="num_frames must be a positive integer"):
        plan_windows(0, 150, 75)
    with pytest.raises(A2AError, match="hop must be an integer in 1..window"):
        plan_windows(300, 150, 151)
