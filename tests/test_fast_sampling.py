"""Reward-optimal and faster sampling: the posterior-mean sampler, the per-request condition cache,
option checks, and the bf16 path (issue 16)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra.errors import MissingConfigException
from torch import nn

from a2a.config import compose_config, group_member
from a2a.diffusion import (
    CosineSchedule,
    DDIMSampler,
    OverlapStitch,
    PosteriorMeanSampler,
    RampGuidance,
    prepare_conditions,
    stitch,
)
from a2a.errors import A2AError
from a2a.models import EdgeDenoiser
from a2a.models.edge import ENCODED, MEMORY
from a2a.runtime import (
    check_precision,
    cpu_bf16_instructions,
    physical_cores,
    precision_context,
    resolve_threads,
)
from tests.test_diffusion import COSINE, GaussianDenoiser, TinyDenoiser

EDGE_TINY = {
    "nfeats": 12,
    "seq_len": 20,
    "latent_dim": 32,
    "ff_size": 64,
    "num_layers": 2,
    "num_heads": 4,
    "cond_feature_dim": 5,
    "music_layers": 1,
}


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _edge(seed: int = 0, **overrides) -> EdgeDenoiser:
    torch.manual_seed(seed)
    return EdgeDenoiser(**{**EDGE_TINY, **overrides}).eval()


class Uncached(nn.Module):
    """The same denoiser without ``prepare_conditions``: every call encodes the music again."""

    def __init__(self, denoiser: nn.Module) -> None:
        super().__init__()
        self.denoiser = denoiser

    def forward(self, x, t, cond, keep_cond=None):
        return self.denoiser(x, t, cond, keep_cond)


class Counting(nn.Module):
    """Records the batch size of every call to the wrapped denoiser."""

    def __init__(self, denoiser) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.batches: list[int] = []

    def forward(self, x, t, cond, keep_cond=None):
        self.batches.append(x.shape[0])
        return self.denoiser(x, t, cond, keep_cond)


# --- the posterior-mean sampler ------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, 16])
def test_posterior_mean_is_the_analytic_conditional_mean_averaged_over_k_draws(k):
    schedule = CosineSchedule(1000, prediction="x0", clip_x0=False)
    mu, sigma = torch.tensor([0.3, -0.2, 0.5]), torch.tensor([0.5, 1.0, 0.2])
    batch, frames = 2, 4
    x_T = torch.randn(k * batch, frames, 3, generator=_gen(k))
    got = PosteriorMeanSampler(k=k).sample(
        GaussianDenoiser(mu, sigma, schedule), (batch, frames, 3), None, schedule=schedule, x_T=x_T
    )
    # E[x0 | x_T] for x0 ~ N(μ, σ²) at t = T − 1, by hand: μ + gain·(x_T − √ᾱ μ), gain = √ᾱσ²/(ᾱσ² + 1 − ᾱ)
    abar = schedule.alphas_cumprod[-1].to(torch.float32)
    gain = abar.sqrt() * sigma**2 / (abar * sigma**2 + 1 - abar)
    per_draw = mu + gain * (x_T - abar.sqrt() * mu)  # [k·B, T, D], draw-major
    expected = per_draw.reshape(k, batch, frames, 3).mean(dim=0)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_posterior_mean_draws_come_from_the_generator_in_one_batch():
    den = Counting(TinyDenoiser())
    cond = torch.randn(2, 4, 2)
    got = PosteriorMeanSampler(k=3).sample(
        den, (2, 4, 3), cond, schedule=COSINE, generator=_gen(5), guidance=2.0
    )
    assert den.batches == [12]  # 3 draws × 2 rows × (conditional + unconditional), one call
    x_T = torch.randn(6, 4, 3, generator=_gen(5))
    again = PosteriorMeanSampler(k=3).sample(
        TinyDenoiser(), (2, 4, 3), cond, schedule=COSINE, x_T=x_T, guidance=2.0
    )
    torch.testing.assert_close(got, again, rtol=0, atol=0)
    single = [
        DDIMSampler(steps=1).sample(
            TinyDenoiser(), (2, 4, 3), cond, schedule=COSINE, x_T=x_T[2 * j : 2 * j + 2], guidance=2.0
        )
        for j in range(3)
    ]
    torch.testing.assert_close(got, torch.stack(single).mean(dim=0), rtol=0, atol=1e-6)


def test_posterior_mean_with_k_1_is_one_ddim_step():
    cond = torch.randn(2, 4, 2)
    kwargs = {"schedule": COSINE, "guidance": 2.5}
    got = PosteriorMeanSampler().sample(TinyDenoiser(), (2, 4, 3), cond, generator=_gen(3), **kwargs)
    ddim = DDIMSampler(steps=1).sample(TinyDenoiser(), (2, 4, 3), cond, generator=_gen(3), **kwargs)
    torch.testing.assert_close(got, ddim, rtol=0, atol=0)


def test_a_one_step_ramp_uses_the_full_weight():
    assert RampGuidance(2.0).weights(1) == [2.0]
    assert RampGuidance({"audio": 3.0}).weights(1) == [{"audio": 3.0}]
    assert RampGuidance(2.0).weights(3) == [0.0, 2.0, 2.0]  # EDGE's ramp unchanged otherwise
    assert PosteriorMeanSampler().plan(COSINE, RampGuidance(2.0)) == [(999, -1, 2.0)]


def test_long_form_posterior_mean_windows_agree_or_blend():
    den = _edge()
    frames, window = 50, 20  # hop 10: 4 windows
    feats = torch.randn(frames, 5, generator=_gen(1))
    common = {
        "frames": frames,
        "window": window,
        "dim": 12,
        "frame_cond": {"audio": feats},
        "static_cond": {},
        "schedule": COSINE,
        "guidance": 2.0,
    }
    hop, overlap = 10, 10
    agreeing = OverlapStitch(constrain_final=True).sample(
        PosteriorMeanSampler(k=2), den, generator=_gen(2), **common
    )
    assert agreeing.shape == (4, window, 12)
    torch.testing.assert_close(agreeing[1:, :overlap], agreeing[:-1, hop:], rtol=0, atol=0)

    strategy = OverlapStitch(constrain_final=False)
    own = strategy.sample(PosteriorMeanSampler(k=2), den, generator=_gen(2), **common)
    # one model evaluation: each window is the posterior mean of its own audio, ramp or not (full weight)
    plan = strategy.plan(frames, window)
    for i, (start, end) in enumerate(plan):
        cond = {"audio": feats[start:end][None]} if end <= frames else None
        if cond is None:
            continue
        alone = PosteriorMeanSampler(k=2).sample(
            den,
            (1, window, 12),
            cond,
            schedule=COSINE,
            guidance=2.0,
            x_T=torch.randn(8, window, 12, generator=_gen(2)).reshape(2, 4, window, 12)[:, i],
        )
        torch.testing.assert_close(own[i], alone[0], rtol=0, atol=1e-5)
    joined = strategy.join(own, frames)
    fade = torch.linspace(0, 1, overlap)[:, None]
    torch.testing.assert_close(joined[hop:window], own[0, hop:] * (1 - fade) + own[1, :overlap] * fade)
    torch.testing.assert_close(joined, stitch(own, hop, frames))


# --- option checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: DDIMSampler(steps=0),
            r"^sampler\.steps must be a positive integer \(model evaluations\), got 0$",
        ),
        (lambda: DDIMSampler(steps=2.5), r"^sampler\.steps must be a positive integer .*, got 2\.5$"),
        (
            lambda: PosteriorMeanSampler(k=0),
            r"^sampler\.k must be a positive integer \(noise draws averaged\), got 0$",
        ),
        (lambda: PosteriorMeanSampler(k=True), r"^sampler\.k must be a positive integer .*, got True$"),
        (
            lambda: PosteriorMeanSampler(k=65),
            r"^sampler\.k must lie in 1\.\.64 \(noise draws averaged\), got 65$",
        ),
        (
            lambda: DDIMSampler(steps=1001).timestep_pairs(COSINE),
            r"^sampler\.steps=1001 exceeds the schedule's num_steps=1000; use 1\.\.1000$",
        ),
    ],
)
def test_bad_sampler_options_name_the_option(make, message):
    with pytest.raises(A2AError, match=message):
        make()


@pytest.mark.parametrize("door", ["evaluate", "mine", "train"])
def test_an_unknown_sampler_lists_the_group_at_every_door(door):
    overrides = ["sampler=posterior_means"] + ([] if door == "train" else ["ckpt=x.ckpt"])
    with pytest.raises(MissingConfigException) as missing:
        compose_config(door, overrides)
    text = str(missing.value)
    assert "Could not find 'sampler/posterior_means'" in text
    listed = text.split("Available options in 'sampler':")[1].split("Config search path")[0].split()
    assert listed == [
        "checkpoint",
        "ddim",
        "ddim_2",
        "ddim_20",
        "ddim_5",
        "ddim_50",
        "ddpm",
        "posterior_mean",
        "tiny",
    ]


@pytest.mark.parametrize("name", ["posterior_mean", "ddim_2", "ddim_5", "ddim_20", "ddim_50"])
def test_sweep_members_compose_and_build(name):
    from a2a.config import instantiate

    sampler = instantiate(compose_config("evaluate", ["ckpt=x.ckpt", f"sampler={name}"]).sampler)
    expected = 1 if name == "posterior_mean" else int(name.split("_")[1])
    assert len(sampler.timestep_pairs(COSINE)) == expected


def test_generator_checks_sampler_overrides_before_sampling(tiny_checkpoint):
    import a2a

    generator = a2a.load(tiny_checkpoint)
    posterior = {"_target_": "a2a.diffusion.PosteriorMeanSampler", "k": 2}
    with pytest.raises(
        A2AError, match=r"^steps=5: the sampler a2a\.diffusion\.PosteriorMeanSampler has no 'steps'"
    ):
        generator.sampler_for(posterior, steps=5)
    with pytest.raises(A2AError, match=r"^sampler\.steps=5000 exceeds the schedule's num_steps=1000"):
        generator.sampler_for(None, steps=5000)
    with pytest.raises(A2AError, match=r"^requested sampler: sampler\.k must be a positive integer"):
        generator.sampler_for({**posterior, "k": 0})
    assert repr(generator.sampler_for(posterior)) == "PosteriorMeanSampler(k=2)"
    # the group's members by name, as at the three doors
    assert repr(generator.sampler_for("posterior_mean")) == "PosteriorMeanSampler(k=1)"
    assert repr(generator.sampler_for("ddim_2")) == repr(
        generator.sampler_for(group_member("sampler", "ddim_2"))
    )
    assert generator.sampler_for("checkpoint") is generator.sampler
    with pytest.raises(
        A2AError, match=r"^no sampler named 'nope'; the sampler group has checkpoint, ddim, ddim_2"
    ):
        generator.sampler_for("nope")
    wave = np.sin(np.linspace(0, 400, 22050 * 3)).astype(np.float32)
    by_name = generator.generate(wave, sr=22050, seed=0, sampler="ddim_2")
    by_config = generator.generate(wave, sr=22050, seed=0, sampler=group_member("sampler", "ddim_2"))
    np.testing.assert_array_equal(by_name.poses, by_config.poses)


def test_generator_posterior_mean_is_one_batched_call(tiny_checkpoint):
    import a2a

    generator = a2a.load(tiny_checkpoint)
    counting = Counting(generator.model)
    generator.model = counting
    feats = torch.randn(400, generator.info["feature_dim"], generator=_gen(0)).numpy()
    windows = len(generator.longform.plan(400, generator.window))
    assert windows > 1
    generator.generate_features(
        feats, seed=0, sampler={"_target_": "a2a.diffusion.PosteriorMeanSampler", "k": 3}
    )
    assert counting.batches == [windows * 3 * 2]  # windows × draws × (conditional + unconditional)


# --- the condition cache -------------------------------------------------------------------------------


def test_prepared_conditions_give_the_same_output_for_any_keep_mask():
    den = _edge(3)
    g = _gen(4)
    x, audio = torch.randn(4, 20, 12, generator=g), torch.randn(4, 20, 5, generator=g)
    t = torch.tensor([999, 500, 3, 0])
    with torch.no_grad():
        prepared = den.prepare_conditions({"audio": audio, "other": torch.zeros(4)})
        assert set(prepared) == {"audio", "other", ENCODED, MEMORY} and len(prepared[MEMORY]) == 4
        for keep in (
            None,
            torch.tensor([True, False, True, False]),
            {"audio": torch.zeros(4, dtype=torch.bool)},
        ):
            torch.testing.assert_close(den(x, t, prepared, keep), den(x, t, audio, keep), rtol=0, atol=1e-6)
        with pytest.raises(A2AError, match="must come from EdgeDenoiser.prepare_conditions"):
            den(x, t, {**prepared, MEMORY: prepared[MEMORY][:2]})


@pytest.mark.parametrize("use_rotary", [True, False])
def test_prepared_conditions_match_without_rotary_too(use_rotary):
    den = _edge(5, use_rotary=use_rotary)
    x, audio = torch.randn(2, 20, 12), torch.randn(2, 20, 5)
    t = torch.tensor([10, 900])
    keep = torch.tensor([False, True])
    with torch.no_grad():
        torch.testing.assert_close(
            den(x, t, den.prepare_conditions(audio), keep), den(x, t, audio, keep), rtol=0, atol=1e-6
        )


@pytest.mark.parametrize("frames", [20, 55], ids=["one window", "four windows"])
@pytest.mark.parametrize("guidance", [None, 2.0], ids=["unguided", "guided"])
def test_cached_sampling_equals_uncached(frames, guidance):
    den = _edge(6)
    feats = torch.randn(frames, 5, generator=_gen(7))
    outputs, calls = [], []
    hook = den.music_encoder[0].register_forward_hook(lambda *_: calls.append(1))
    for model in (den, Uncached(den)):
        calls.clear()
        with torch.inference_mode():
            outputs.append(
                OverlapStitch().sample(
                    DDIMSampler(steps=6, eta=1.0),
                    model,
                    frames=frames,
                    window=20,
                    dim=12,
                    frame_cond={"audio": feats},
                    static_cond={},
                    schedule=COSINE,
                    guidance=guidance,
                    generator=_gen(8),
                )
            )
        assert len(calls) == (1 if model is den else 6)  # encoded once per request, not once per step
    hook.remove()
    torch.testing.assert_close(outputs[0], outputs[1], rtol=0, atol=1e-5)
    assert outputs[0].abs().max() > 0.1


def test_prepare_conditions_is_skipped_for_denoisers_without_it():
    cond = {"audio": torch.randn(2, 4, 2)}
    assert prepare_conditions(TinyDenoiser(), cond) is cond
    assert prepare_conditions(Uncached(_edge()), cond) is cond


def test_a_cache_with_the_wrong_batch_is_refused():
    class Broken(nn.Module):
        def prepare_conditions(self, cond):
            return {"audio": cond["audio"][:1]}

    with pytest.raises(A2AError, match=r"Broken.prepare_conditions\(cond\)\['audio'\] has shape \(1, 4, 2\)"):
        prepare_conditions(Broken(), {"audio": torch.randn(2, 4, 2)})


# --- precision, threads --------------------------------------------------------------------------------


def test_precision_checks_name_the_option(tmp_path):
    assert check_precision("fp32", "cpu") == "fp32"
    with pytest.raises(A2AError, match=r"^mine\.precision='bf32': choose one of fp32, bf16, fp16$"):
        check_precision("bf32", "cpu", "mine.precision")
    with pytest.raises(A2AError, match=r"^precision=fp16: not supported on cpu; use precision=fp32$"):
        check_precision("fp16", "cpu")
    if not cpu_bf16_instructions():
        with pytest.raises(A2AError, match=r"^precision=bf16: this CPU has no native bf16 instructions"):
            check_precision("bf16", "cpu")


def test_cpu_bf16_detection_reads_the_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert cpu_bf16_instructions(info) == ("amx_bf16", "avx512_bf16")
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma\n")
    assert cpu_bf16_instructions(info) == ()
    assert cpu_bf16_instructions(tmp_path / "missing") == ()
    info.write_text("flags\t\t: avx512_bf16\n")
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert cpu_bf16_instructions(info) == ()  # torch's kernels would not use the instructions


def test_threads_default_to_physical_cores():
    assert resolve_threads(3) == 3
    assert resolve_threads(None) == physical_cores()
    assert 1 <= physical_cores() <= len(os.sched_getaffinity(0))
    with pytest.raises(A2AError, match=r"^mine\.threads=0: must be a positive integer or null"):
        resolve_threads(0, "mine.threads")


@pytest.mark.skipif(not cpu_bf16_instructions(), reason="this CPU has no native bf16 (AVX512-BF16/AMX)")
def test_bf16_on_cpu_runs_and_stays_close():
    den = _edge(9, latent_dim=64, ff_size=128)
    feats = torch.randn(55, 5, generator=_gen(10))
    outputs = {}
    for precision in ("fp32", "bf16"):
        with torch.inference_mode(), precision_context(precision, "cpu"):
            outputs[precision] = OverlapStitch().sample(
                PosteriorMeanSampler(k=2),
                den,
                frames=55,
                window=20,
                dim=12,
                frame_cond={"audio": feats},
                static_cond={},
                schedule=COSINE,
                guidance=2.0,
                generator=_gen(11),
            )
    assert outputs["bf16"].dtype == torch.float32
    # bf16 keeps 8 significant bits (relative rounding 2^-9 ≈ 0.2 %); the x̂0 passes ~15 matmuls of
    # activations of order 1, so errors of a few 0.1 % per layer add up to ~1e-2. 0.05 allows that and still
    # catches a wrong result (a dropped condition or a missing cast changes the output by O(0.1–1)).
    difference = (outputs["bf16"] - outputs["fp32"]).abs().max()
    assert 0 < difference < 0.05


# --- the doors check the new settings before any long work ---------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["sampler=posterior_mean", "sampler.k=0"],
            r"^requested sampler: sampler\.k must be a positive integer",
        ),
        (
            ["sampler=posterior_mean", "steps=5"],
            r"^steps=5: the sampler a2a\.diffusion\.PosteriorMeanSampler",
        ),
        (
            ["sampler=ddim", "sampler.steps=1001"],
            r"^sampler\.steps=1001 exceeds the schedule's num_steps=1000",
        ),
        (["precision=fp16"], r"^precision=fp16: not supported on cpu; use precision=fp32$"),
    ],
)
def test_evaluate_refuses_bad_speed_settings_before_reading_data(
    tiny_checkpoint, tmp_path, overrides, message
):
    from a2a.evaluate import evaluate

    missing = tmp_path / "no-such-data"  # reading it would fail with another message
    cfg = compose_config(
        "evaluate",
        [f"ckpt={tiny_checkpoint}", f"data.source={missing}", f"output_dir={tmp_path}", *overrides],
    )
    with pytest.raises(A2AError, match=message):
        evaluate(cfg)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("mine.precision=fp16", r"^mine\.precision=fp16: not supported on cpu; use mine\.precision=fp32$"),
        ("mine.threads=0", r"^mine\.threads=0: must be a positive integer or null \(physical cores\)$"),
    ],
)
def test_mine_refuses_bad_speed_settings_at_start(tmp_path, override, message):
    from a2a.mining.service import serve

    ckpt = tmp_path / "best.ckpt"
    ckpt.write_bytes(b"never loaded: the settings are checked first")
    overrides = [f"ckpt={ckpt}", "offline=true", "mine.device=cpu", f"wallet.path={tmp_path / 'w'}", override]
    with pytest.raises(A2AError, match=message):
        serve(compose_config("mine", overrides))


def test_cli_generate_refuses_a_precision_the_device_lacks(tiny_checkpoint, tmp_path, capsys):
    from a2a.cli import main

    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(22050, dtype=np.float32), 22050)
    assert (
        main(["generate", str(tiny_checkpoint), str(wav), str(tmp_path / "o.bvh"), "--precision", "fp16"])
        == 2
    )
    assert capsys.readouterr().err.strip() == (
        "a2a generate: error: precision=fp16: not supported on cpu; use precision=fp32"
    )


@pytest.mark.slow
def test_compiled_denoiser_samples_like_the_eager_one():
    """torch.compile (dynamic shapes) gives the eager result for two window counts without recompiling
    per count; the compiled module still offers prepare_conditions."""
    from a2a.runtime import compile_denoiser

    den = _edge(12)
    compiled = compile_denoiser(den)
    assert compiled.prepare_conditions.__self__ is den
    for frames in (55, 95):
        feats = torch.randn(frames, 5, generator=_gen(frames))
        outputs = []
        for model in (den, compiled):
            with torch.inference_mode():
                outputs.append(
                    OverlapStitch().sample(
                        DDIMSampler(steps=3),
                        model,
                        frames=frames,
                        window=20,
                        dim=12,
                        frame_cond={"audio": feats},
                        static_cond={},
                        schedule=COSINE,
                        guidance=2.0,
                        generator=_gen(13),
                    )
                )
        torch.testing.assert_close(outputs[1], outputs[0], rtol=0, atol=1e-4)


def test_miner_default_sampler_is_the_sweeps_winner_and_null_keeps_the_checkpoints():
    from a2a.mining.service import settings_from_config

    default = settings_from_config(compose_config("mine", ["ckpt=x.ckpt"]))
    ddim_2 = {"_target_": "a2a.diffusion.DDIMSampler", "steps": 2, "eta": 1.0}
    assert default.generate_kwargs["sampler"] == ddim_2
    own = settings_from_config(compose_config("mine", ["ckpt=x.ckpt", "sampler=checkpoint"]))
    assert "sampler" not in own.generate_kwargs
    swapped = settings_from_config(compose_config("mine", ["ckpt=x.ckpt", "sampler=posterior_mean"]))
    assert swapped.generate_kwargs["sampler"]["_target_"] == "a2a.diffusion.PosteriorMeanSampler"


def test_the_checkpoint_member_keeps_the_stored_sampler_and_train_refuses_it(tiny_checkpoint, tmp_path):
    import a2a
    from a2a.train import train

    generator = a2a.load(tiny_checkpoint)
    assert generator.sampler_for(group_member("sampler", "checkpoint")) is generator.sampler
    cfg = compose_config("train", ["experiment=tiny", "sampler=checkpoint", f"output_dir={tmp_path}"])
    with pytest.raises(A2AError, match=r"^sampler=checkpoint \(conf/sampler/checkpoint\.yaml\): train\.py"):
        train(cfg)
