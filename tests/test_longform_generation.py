"""Long-form generation against a hand-built run of the same windows (EDGE's algorithm written out
independently: two-pass guidance, window by window slicing, overlap copies, the final cross-fade), the
audio each window sees, the reduce=medoid choice, and that windows join without seams."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import a2a
from a2a.diffusion import CosineSchedule, DDIMSampler, OverlapStitch
from a2a.motion.rotations import axis_angle_to_quaternion, quaternion_slerp, quaternion_to_axis_angle

SR = 22050


def _song(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (0.5 + beat) + 0.1 * np.sin(2 * np.pi * 97 * t)).astype(
        np.float32
    )


def _ddim_reference(gen, cond_windows: torch.Tensor, seed: int, steps: int, weight: float):
    """EDGE's long_ddim_sample written out: windows [n, W, D], guidance ramp, overlap copies after every
    step but the last, two separate guidance passes."""
    denoiser, schedule = gen.denoiser, gen.schedule
    n, window = cond_windows.shape[:2]
    hop = window // 2
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, window, gen.representation.dim), generator=g)
    times = torch.linspace(-1, schedule.num_steps - 1, steps=steps + 1).int().tolist()[::-1]
    ramp = np.clip(np.linspace(0, 2 * weight, steps), None, weight) if n > 1 else [weight] * steps
    abar = schedule.alphas_cumprod
    with torch.no_grad():
        for k, (t, t_next) in enumerate(itertools.pairwise(times)):
            tt = torch.full((n,), t, dtype=torch.long)
            cond = denoiser(x, tt, {"audio": cond_windows}, torch.ones(n, dtype=torch.bool))
            unc = denoiser(x, tt, {"audio": cond_windows}, torch.zeros(n, dtype=torch.bool))
            x0 = (unc + (cond - unc) * float(ramp[k])).clamp(-1, 1)
            if t_next < 0:
                x = x0
                break
            eps = (x / math.sqrt(abar[t]) - x0) / math.sqrt(1 / abar[t] - 1)
            x = math.sqrt(abar[t_next]) * x0 + math.sqrt(1 - abar[t_next]) * eps  # eta = 0
            x[1:, : window - hop] = x[:-1, hop:].clone()
    return x


def _stitch_reference(gen, x: torch.Tensor, frames: int):
    """Decode each window and cross-fade the half overlaps: linear root, slerp per joint."""
    poses, trans = gen.representation.decode(gen.normalizer.inverse(x.double()))
    quats = axis_angle_to_quaternion(poses)
    window = x.shape[1]
    hop = window // 2
    w = torch.linspace(0, 1, window - hop, dtype=torch.float64)
    out_q, out_t = quats[0], trans[0]
    for i in range(1, x.shape[0]):
        keep_q, keep_t = out_q[: len(out_q) - (window - hop)], out_t[: len(out_t) - (window - hop)]
        tail_q, tail_t = out_q[-(window - hop) :], out_t[-(window - hop) :]
        blend_t = tail_t * (1 - w[:, None]) + trans[i, : window - hop] * w[:, None]
        blend_q = quaternion_slerp(tail_q, quats[i, : window - hop], w[:, None].expand(-1, 24))
        out_q = torch.cat([keep_q, blend_q, quats[i, window - hop :]])
        out_t = torch.cat([keep_t, blend_t, trans[i, window - hop :]])
    return quaternion_to_axis_angle(out_q[:frames]).numpy(), out_t[:frames].numpy()


def test_generate_equals_a_hand_built_run_of_the_windows(tiny_checkpoint):
    gen = a2a.load(tiny_checkpoint)
    assert gen.window == 60 and gen.sampler_config == {
        "_target_": "a2a.diffusion.DDIMSampler",
        "steps": 5,
        "eta": 0.0,
    }
    wave = _song(5.3)
    feats, frames = gen.audio_features(wave, sr=SR)
    assert frames == 159
    hop = gen.window // 2
    n = 1 + math.ceil((frames - gen.window) / hop)
    padded = torch.cat(
        [torch.from_numpy(feats), torch.from_numpy(feats[-1:]).expand(n * hop + hop - frames, -1)]
    )
    windows = torch.stack([padded[k * hop : k * hop + gen.window] for k in range(n)])
    x = _ddim_reference(gen, windows, seed=3, steps=5, weight=gen.guidance_weight)
    poses, trans = _stitch_reference(gen, x, frames)
    motion = gen.generate(wave, sr=SR, seed=3)
    reference = a2a.motion.Motion(poses, trans, 30.0)
    np.testing.assert_allclose(motion.joints(), reference.joints(), atol=1e-5, rtol=0)


class _Spy(torch.nn.Module):
    """Wraps a denoiser and records the audio condition of every call."""

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner, self.seen = inner, []
        self.conditions, self.droppable = inner.conditions, inner.droppable

    def forward(self, x, t, cond, keep_cond=None):
        self.seen.append(cond["audio"].clone())
        return self.inner(x, t, cond, keep_cond)


@pytest.mark.parametrize("windowing", ["per_song", "per_slice"])
def test_window_k_hears_the_audio_of_its_own_frames(tiny_checkpoint, windowing):
    gen = a2a.load(tiny_checkpoint)
    gen.windowing = windowing
    spy = gen.denoiser = gen.model = _Spy(gen.denoiser)
    wave = _song(5.3)
    gen.generate(wave, sr=SR, seed=0, steps=1, guidance=1.0)
    audio = spy.seen[0]  # [n, W, F], one window per row
    hop, window = gen.window // 2, gen.window
    if windowing == "per_song":
        song = gen.features(wave, SR, num_frames=159)
        for k in range(audio.shape[0]):
            expected = song[k * hop : k * hop + window]
            np.testing.assert_array_equal(audio[k, : len(expected)].numpy(), expected)
    else:
        # each window's audio extracted on its own: the slice of samples its frames span
        for k in range(audio.shape[0]):
            first = round(k * hop * SR / 30)
            piece = wave[first : first + round(window * SR / 30)]
            np.testing.assert_allclose(
                audio[k].numpy(), gen.features(piece, SR, num_frames=window), atol=1e-6
            )


def test_medoid_keeps_the_draw_closest_to_the_others(tiny_checkpoint):
    gen = a2a.load(tiny_checkpoint)
    wave = _song(2.5)
    feats, frames = gen.audio_features(wave, sr=SR)
    draws = gen.generate_features(feats, frames=frames, seed=5, samples=4)
    joints = np.stack([d.joints() for d in draws])
    cost = [sum(np.linalg.norm(joints[i] - joints[j], axis=-1).mean() for j in range(4)) for i in range(4)]
    medoid = gen.generate(wave, sr=SR, seed=5, samples=4, reduce="medoid")
    np.testing.assert_array_equal(medoid.poses, draws[int(np.argmin(cost))].poses)
    assert len({round(c, 9) for c in cost}) == 4  # the draws differ, so the choice is meaningful


class _WindowOffsetDenoiser(torch.nn.Module):
    """x̂0 = a smooth ramp over the window plus a per-window offset (from the window's audio): windows
    disagree on their overlaps by a constant, as a trained model's windows disagree on details."""

    conditions = droppable = ("audio",)

    def forward(self, x, t, cond, keep_cond=None):
        frames = torch.linspace(0, 0.2, x.shape[1])[None, :, None]
        return (frames + cond["audio"][:, :1, :1]).expand_as(x).clone()


@pytest.mark.parametrize("constrain_final", [True, False, None])
def test_overlap_stitch_has_no_seam_unless_the_final_copy_is_forced(constrain_final):
    """``None``: the class default, which must be EDGE's seamless long form."""
    window, frames = 20, 70
    strategy = OverlapStitch() if constrain_final is None else OverlapStitch(constrain_final=constrain_final)
    offsets = torch.arange(frames, dtype=torch.float32)[:, None] // 10 * 0.3  # a step every 10 frames
    out = strategy.sample(
        DDIMSampler(3, eta=0.0),
        _WindowOffsetDenoiser(),
        frames=frames,
        window=window,
        dim=1,
        frame_cond={"audio": offsets},
        static_cond={},
        schedule=CosineSchedule(100, clip_x0=False),
        guidance=None,
        generator=torch.Generator().manual_seed(0),
    )
    joined = strategy.join(out, frames)[:, 0]
    steps = (joined[1:] - joined[:-1]).abs()
    boundaries = [
        window + k * (window // 2) - 1 for k in range(5) if window + k * (window // 2) - 1 < frames - 1
    ]
    if constrain_final:
        # the windows switch hard where each window's own frames begin: a jump of the offset change
        # (0.3) less the ramp's half window (0.105), against 0.0105 inside a window
        assert steps[boundaries].min() > 0.15
    else:
        # the disagreement is spread over the overlap: no step larger than a tenth of the offset jump
        assert steps.max() < 0.06
