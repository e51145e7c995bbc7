"""DSGDenoiser: parity with a functional rebuild of DiffuseStyleGesture's MDM, conditions, local attention,
rotary code, input checks."""

from __future__ import annotations

import math

import pytest
import torch

from a2a.checkpoint.dsg_names import (
    a2a_state_dict_to_dsg,
    dsg_config_from_state_dict,
    dsg_state_dict_to_a2a,
)
from a2a.errors import A2AError, CheckpointError
from a2a.models import DSGDenoiser
from a2a.models.local_attention import LocalSelfAttention, local_causal_mask, rotate_groups
from tests.dsg_reference import ZEGGS, original_forward, original_state_dict, parameter_count

TINY = {
    "nfeats": 13,
    "latent": 32,
    "layers": 2,
    "ff": 48,
    "audio_dim": 16,
    "audio_latent": 8,
    "style_dim": 3,
    "style_latent": 8,
    "n_seed": 2,
    "groups": 4,
}
TINY_MODEL = {
    "nfeats": 13,
    "latent_dim": 32,
    "num_layers": 2,
    "num_heads": 2,
    "ff_size": 48,
    "audio_dim": 16,
    "audio_latent": 8,
    "style_dim": 3,
    "style_latent": 8,
    "n_seed": 2,
    "groups": 4,
    "seq_len": 44,
}


def converted(sd: dict[str, torch.Tensor], *, num_heads: int, seq_len: int) -> DSGDenoiser:
    weights = dsg_state_dict_to_a2a(sd)
    latent = sd["input_process.poseEmbedding.weight"].shape[0]
    groups = latent // (2 * sd["rel_pos.inv_freq"].numel())
    model = DSGDenoiser(**dsg_config_from_state_dict(weights, groups), num_heads=num_heads, seq_len=seq_len)
    model.load_state_dict(weights)
    return model.eval()


def inputs(model: DSGDenoiser, batch: int, frames: int, seed: int = 3) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, model.nfeats, generator=g)
    audio = torch.randn(batch, frames, model.audio_dim, generator=g)
    style = torch.rand(batch, model.style_dim, generator=g) * 2  # scaled/mixed styles, not only one-hot
    seed_frames = torch.randn(batch, model.n_seed, model.nfeats, generator=g)
    t = torch.linspace(0, 999, batch).long()
    return x, t, audio, style, seed_frames


def compare(model, sd, batch, frames, dtype, drop_style=None, drop_seed=None) -> float:
    """Max |a2a − original| for the same inputs, the original fed in its [B, D, 1, T] layout."""
    x, t, audio, style, seed_frames = (
        v.to(dtype) if v.is_floating_point() else v for v in inputs(model, batch, frames)
    )
    keep = {}
    if drop_style is not None:
        keep["style"] = ~drop_style
    if drop_seed is not None:
        keep["seed"] = ~drop_seed
    ours = model.to(dtype)(x, t, {"audio": audio, "style": style, "seed": seed_frames}, keep or None)
    y = {
        "audio": audio,
        "style": style,
        "seed": seed_frames.transpose(1, 2).unsqueeze(2),
        "mask_local": torch.ones(batch, frames, dtype=torch.bool),
    }
    reference = original_forward(
        {k: v.to(dtype) for k, v in sd.items()},
        x.transpose(1, 2).unsqueeze(2),
        t,
        y,
        num_heads=model.encoder.layers[0].self_attn.num_heads,
        window=model.local_window,
        drop_style=drop_style,
        drop_seed=drop_seed,
    )
    return (ours - reference.squeeze(2).transpose(1, 2)).abs().max().item()


DROPS = {
    "keep-all": (None, None),
    "drop-style": (torch.tensor([True, False, True]), None),
    "drop-seed": (None, torch.tensor([False, True, True])),
    "drop-both": (torch.tensor([True, True, False]), torch.tensor([True, False, False])),
}


@pytest.fixture(scope="module")
def zeggs_sd() -> dict[str, torch.Tensor]:
    return original_state_dict(**ZEGGS, seed=1)


@pytest.fixture(scope="module")
def tiny_sd() -> dict[str, torch.Tensor]:
    return original_state_dict(**TINY, seed=2)


def test_zeggs_size_has_the_original_parameter_count(zeggs_sd):
    assert parameter_count(zeggs_sd) == 9_001_781
    model = DSGDenoiser()
    assert sum(p.numel() for p in model.parameters()) == 9_001_781
    # The seed embedding alone: 1141 · 8 inputs → 192 outputs.
    assert sum(p.numel() for p in model.seed_embedding.parameters()) == 9128 * 192 + 192


@pytest.mark.parametrize("drop", list(DROPS), ids=list(DROPS))
def test_tiny_forward_matches_the_original(tiny_sd, drop):
    model = converted(tiny_sd, num_heads=2, seq_len=44)
    drop_style, drop_seed = DROPS[drop]
    assert compare(model, tiny_sd, 3, 44, torch.float32, drop_style, drop_seed) < 1e-5
    assert compare(model, tiny_sd, 3, 44, torch.float64, drop_style, drop_seed) < 1e-12


@pytest.mark.parametrize("drop", ["keep-all", "drop-style", "drop-seed"])
def test_zeggs_forward_matches_the_original(zeggs_sd, drop):
    model = converted(zeggs_sd, num_heads=4, seq_len=88)
    drop_style, drop_seed = DROPS[drop]
    with torch.no_grad():  # eval without grad also takes torch's fused encoder-layer path
        assert compare(model, zeggs_sd, 3, 88, torch.float32, drop_style, drop_seed) < 1e-5
    assert compare(model, zeggs_sd, 3, 88, torch.float64, drop_style, drop_seed) < 1e-12


def test_any_whole_number_of_local_windows_matches_the_original(tiny_sd):
    model = converted(tiny_sd, num_heads=2, seq_len=44)
    for frames in (11, 22, 99):
        assert compare(model, tiny_sd, 2, frames, torch.float64) < 1e-12


def test_state_dict_names_round_trip(zeggs_sd):
    weights = dsg_state_dict_to_a2a(zeggs_sd)
    assert "seed_embedding.weight" in weights and "encoder.layers.7.norm2.bias" in weights
    assert not any("pe" in k.split(".") or "inv_freq" in k for k in weights)
    back = a2a_state_dict_to_dsg(weights, groups=8)
    assert list(back) != [] and set(back) == set(zeggs_sd)
    for key, value in zeggs_sd.items():
        assert torch.equal(back[key], value), key
    model = DSGDenoiser()
    assert set(a2a_state_dict_to_dsg(model.state_dict(), 8)) == set(zeggs_sd)


def test_config_is_read_off_the_weights(zeggs_sd, tiny_sd):
    assert dsg_config_from_state_dict(dsg_state_dict_to_a2a(zeggs_sd), 8) == {
        "nfeats": 1141,
        "latent_dim": 256,
        "num_layers": 8,
        "ff_size": 1024,
        "audio_dim": 1024,
        "audio_latent": 64,
        "style_dim": 6,
        "style_latent": 64,
        "n_seed": 8,
        "groups": 8,
    }
    tiny = dsg_config_from_state_dict(dsg_state_dict_to_a2a(tiny_sd), 4)
    assert (tiny["n_seed"], tiny["num_layers"], tiny["style_latent"]) == (2, 2, 8)


def test_names_refuse_unknown_keys_and_altered_tables(tiny_sd):
    with pytest.raises(
        CheckpointError, match=r"2 keys match no DSG denoiser module: 'clip_model.w', 'embed_style.scale'"
    ):
        dsg_state_dict_to_a2a(
            {**tiny_sd, "clip_model.w": torch.zeros(1), "embed_style.scale": torch.zeros(1)}
        )
    bad_pe = tiny_sd["sequence_pos_encoder.pe"] + 0.01
    with pytest.raises(
        CheckpointError, match=r"'sequence_pos_encoder.pe' is not the standard sinusoidal table"
    ):
        dsg_state_dict_to_a2a({**tiny_sd, "sequence_pos_encoder.pe": bad_pe})
    with pytest.raises(
        CheckpointError, match=r"'rel_pos.inv_freq' is not the standard rotary frequency table"
    ):
        dsg_state_dict_to_a2a({**tiny_sd, "rel_pos.inv_freq": tiny_sd["rel_pos.inv_freq"] * 2})
    with pytest.raises(CheckpointError, match=r"entry 'embed_style.bias' is a int, not a tensor"):
        dsg_state_dict_to_a2a({**tiny_sd, "embed_style.bias": 3})


# ------------------------------------------------------------------------------------------ conditions


def tiny_model(**overrides: object) -> DSGDenoiser:
    torch.manual_seed(0)
    return DSGDenoiser(**{**TINY_MODEL, **overrides}).eval()


def test_dropped_style_is_a_zero_style_embedding_and_ignores_the_style():
    model = tiny_model()
    x, t, audio, style, seed_frames = inputs(model, 3, 44)
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    dropped = model(x, t, cond, {"style": torch.zeros(3, dtype=torch.bool)})
    other = model(x, t, {**cond, "style": torch.randn(3, 3)}, {"style": torch.zeros(3, dtype=torch.bool)})
    torch.testing.assert_close(dropped, other, rtol=0, atol=0)
    # Same as keeping a style whose embedding (weight and bias) is zero.
    with torch.no_grad():
        model.style_embedding.weight.zero_()
        model.style_embedding.bias.zero_()
    torch.testing.assert_close(model(x, t, cond), dropped, rtol=0, atol=0)


def test_dropped_seed_is_a_zero_seed_input():
    model = tiny_model()
    x, t, audio, style, seed_frames = inputs(model, 3, 44)
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    dropped = model(x, t, cond, {"seed": torch.tensor([False, True, False])})
    zero_seed = model(x, t, {**cond, "seed": torch.zeros_like(seed_frames)})
    kept = model(x, t, cond)
    torch.testing.assert_close(dropped[[0, 2]], zero_seed[[0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(dropped[1], kept[1], rtol=0, atol=0)
    assert (dropped[0] - kept[0]).abs().max() > 1e-3


def test_one_keep_mask_drops_style_and_seed_together():
    model = tiny_model()
    x, t, audio, style, seed_frames = inputs(model, 3, 44)
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    keep = torch.tensor([True, False, True])
    both = {"style": keep, "seed": keep}
    torch.testing.assert_close(model(x, t, cond, keep), model(x, t, cond, both), rtol=0, atol=0)
    assert DSGDenoiser.conditions == ("audio", "style", "seed") and DSGDenoiser.droppable == ("style", "seed")


def test_seed_is_flattened_channel_major_like_the_original():
    model = tiny_model()
    _, _, _, _, seed_frames = inputs(model, 2, 44)
    with torch.no_grad():
        model.seed_embedding.weight.zero_()
        model.seed_embedding.bias.zero_()
        # Input c·n_seed + s of the original's [B, D, 1, S] reshape is channel c of seed frame s.
        model.seed_embedding.weight[0, 5 * model.n_seed + 1] = 1.0
    token = model.global_token(
        torch.zeros(2, dtype=torch.long),
        torch.zeros(2, 3),
        seed_frames,
        torch.ones(2, dtype=torch.bool),
        torch.ones(2, dtype=torch.bool),
    )
    time = model.time_mlp(torch.zeros(2, dtype=torch.long))
    style_bias = model.style_embedding.bias
    torch.testing.assert_close(token[:, 8] - time[:, 8], seed_frames[:, 1, 5])
    torch.testing.assert_close(token[:, :8] - time[:, :8], style_bias.expand(2, -1))


def test_time_embedding_is_the_sinusoid_table_row():
    model = tiny_model()
    row = model.time_mlp.table[7]
    assert row[0] == pytest.approx(math.sin(7.0)) and row[1] == pytest.approx(math.cos(7.0))
    frequency = math.exp(-2 * math.log(10000.0) / 32)
    assert row[2] == pytest.approx(math.sin(7 * frequency)) and row[3] == pytest.approx(
        math.cos(7 * frequency)
    )


# ------------------------------------------------------------------------------- local attention, rotary


def test_local_mask_is_the_causal_band_of_one_window_back():
    mask = local_causal_mask(33, 11, 1, "cpu")
    seen = {i: torch.nonzero(mask[i]).flatten().tolist() for i in (0, 10, 11, 21, 22, 32)}
    assert seen[0] == [0]
    assert seen[10] == list(range(0, 11))
    assert seen[11] == list(range(0, 12))  # window 1 sees window 0 whole and itself causally
    assert seen[21] == list(range(0, 22))
    assert seen[22] == list(range(11, 23))  # window 2 no longer sees window 0
    assert seen[32] == list(range(11, 33))
    with pytest.raises(A2AError, match="needs whole windows: 30 frames with window 11"):
        local_causal_mask(30, 11, 1, "cpu")


def test_local_attention_reaches_only_the_band():
    attention = LocalSelfAttention(window=11, groups=2, look_back=1)
    x = torch.randn(1, 55, 8, dtype=torch.float64)
    changed = x.clone()
    changed[0, 30] += 1.0
    diff = (attention(changed) - attention(x)).abs().amax(dim=-1)[0]
    affected = torch.nonzero(diff > 0).flatten().tolist()
    assert affected == list(range(30, 44))  # frame 30 (window 2) reaches the rest of window 2 and window 3


def test_local_attention_is_group_wise_softmax_attention():
    attention = LocalSelfAttention(window=2, groups=2, look_back=1)
    x = torch.randn(1, 4, 6, dtype=torch.float64)
    out = attention(x)
    # Frame 3 (window 1) sees frames 0..3; group 1 is channels 3..5, scale 3^-0.5.
    q = x[0, 3, 3:]
    keys = x[0, 0:4, 3:]
    weights = torch.softmax(keys @ q / math.sqrt(3), dim=0)
    torch.testing.assert_close(out[0, 3, 3:], weights @ keys)
    # Frame 0 sees only itself.
    torch.testing.assert_close(out[0, 0], x[0, 0])


def test_rotary_turns_half_split_pairs_by_position_times_frequency():
    x = torch.tensor([[[1.0, 2.0, 3.0, 4.0]] * 3], dtype=torch.float64)  # [1, 3, 4], one group of 4
    out = rotate_groups(x, groups=1)
    for p in range(3):
        a0, a1 = p * 1.0, p * 0.01  # frequencies 10000^0 and 10000^(-2/4)
        # pairs (0, 2) and (1, 3): (u, v) → (u cos − v sin, v cos + u sin)
        expected = [
            1 * math.cos(a0) - 3 * math.sin(a0),
            2 * math.cos(a1) - 4 * math.sin(a1),
            3 * math.cos(a0) + 1 * math.sin(a0),
            4 * math.cos(a1) + 2 * math.sin(a1),
        ]
        assert out[0, p].tolist() == pytest.approx(expected, abs=1e-6)
    two = rotate_groups(torch.cat([x, 2 * x], dim=-1), groups=2)
    torch.testing.assert_close(two[..., 4:], 2 * out)  # every group is rotated alike


# ------------------------------------------------------------------------------------------ construction


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"seq_len": 45},
            r"model.denoiser.local_window=11 does not divide model.denoiser.seq_len=45",
        ),
        ({"num_heads": 5}, r"model.denoiser.latent_dim=32 is not divisible by model.denoiser.num_heads=5"),
        ({"groups": 3}, r"latent_dim=32 must split into model.denoiser.groups=3 groups of an even width"),
        ({"groups": 32}, r"must split into model.denoiser.groups=32 groups of an even width"),
        (
            {"style_latent": 32},
            r"model.denoiser.style_latent=32 must be smaller than model.denoiser.latent_dim=32",
        ),
        ({"n_seed": 44}, r"model.denoiser.n_seed=44 must be smaller than model.denoiser.seq_len=44"),
        ({"n_seed": 0}, r"model.denoiser.n_seed must be a positive integer, got 0"),
        ({"latent_dim": 32.0}, r"model.denoiser.latent_dim must be a positive integer, got 32.0"),
        ({"dropout": 1.0}, r"model.denoiser.dropout must be in \[0, 1\), got 1.0"),
    ],
)
def test_bad_sizes_name_the_option(overrides, message):
    with pytest.raises(A2AError, match=message):
        DSGDenoiser(**{**TINY_MODEL, **overrides})


def test_bad_inputs_raise_clear_errors():
    model = tiny_model()
    x, t, audio, style, seed_frames = inputs(model, 2, 44)
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    with pytest.raises(
        A2AError, match=r"43 frames, not a positive multiple of model.denoiser.local_window=11"
    ):
        model(x[:, :43], t, {**cond, "audio": audio[:, :43]})
    with pytest.raises(A2AError, match=r"needs the condition\(s\) 'seed'; got 'audio', 'style'"):
        model(x, t, {"audio": audio, "style": style})
    with pytest.raises(
        A2AError, match=r"cond\['audio'\] must be \[B, T, audio_dim\] = \[2, 44, 16\], got \[2, 44, 15\]"
    ):
        model(x, t, {**cond, "audio": audio[..., :15]})
    with pytest.raises(A2AError, match=r"cond\['style'\] must be \[B, style_dim\] = \[2, 3\], got \[2\]"):
        model(x, t, {**cond, "style": torch.zeros(2)})
    with pytest.raises(
        A2AError, match=r"cond\['seed'\] must be \[B, n_seed, nfeats\] = \[2, 2, 13\], got \[2, 3, 13\]"
    ):
        model(x, t, {**cond, "seed": torch.zeros(2, 3, 13)})
    with pytest.raises(A2AError, match=r"input x must be \[B, T, 13\], got \[2, 44, 12\]"):
        model(x[..., :12], t, cond)
    with pytest.raises(A2AError, match=r"timesteps t must be \[B\] = \[2\], got \[3\]"):
        model(x, torch.zeros(3, dtype=torch.long), cond)
    with pytest.raises(A2AError, match="needs a conditioning mapping"):
        model(x, t, audio)


def test_eval_is_deterministic_and_training_uses_dropout():
    model = tiny_model()
    x, t, audio, style, seed_frames = inputs(model, 2, 44)
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    torch.testing.assert_close(model(x, t, cond), model(x, t, cond), rtol=0, atol=0)
    model.train()
    assert (model(x, t, cond) - model(x, t, cond)).abs().max() > 1e-4


def test_gradients_reach_every_parameter_and_bfloat16_autocast_runs():
    model = tiny_model().train()
    x, t, audio, style, seed_frames = inputs(model, 2, 44)
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    model(x, t, cond, {"style": torch.tensor([True, False])}).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.eval()
    reference = model(x, t, cond)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(x, t, cond)
    assert mixed.dtype == torch.bfloat16
    assert (mixed.float() - reference).abs().max() < 0.1 * reference.abs().max()


def test_style_guidance_and_style_mixing_through_the_shared_pieces():
    from a2a.diffusion.conditions import ConditionMix
    from a2a.diffusion.guidance import guided_output

    model = tiny_model()
    x, t, audio, style, seed_frames = inputs(model, 2, 44)
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    kept, no_style = model(x, t, cond), model(x, t, cond, {"style": torch.zeros(2, dtype=torch.bool)})
    guided = guided_output(model, x, t, cond, {"style": 3.0})  # the seed stays kept in both evaluations
    torch.testing.assert_close(guided, no_style + 3.0 * (kept - no_style), rtol=1e-5, atol=1e-5)

    other = torch.tensor([0.0, 1.0, 0.0])
    mixed = ConditionMix(model, "style", other, gamma=0.3)(x, t, cond)
    second = model(x, t, {**cond, "style": other.expand(2, -1)})
    torch.testing.assert_close(mixed, 0.3 * kept + 0.7 * second, rtol=1e-5, atol=1e-5)
    away = ConditionMix(model, "style", None, gamma=1.5)(x, t, cond)  # extrapolation from the null style
    torch.testing.assert_close(away, 1.5 * kept - 0.5 * no_style, rtol=1e-5, atol=1e-5)


def test_tiny_model_learns_a_style_dependent_target():
    from a2a.losses import SmoothL1MotionLoss

    model = tiny_model(dropout=0.0).train()
    # every row has the same input, audio, seed and timestep: only the style tells them apart
    x, t, audio, _, seed_frames = (v[:1].expand(4, *v.shape[1:]) for v in inputs(model, 1, 44))
    style = torch.eye(3)[[0, 1, 0, 1]]
    wave = torch.sin(torch.linspace(0, 6, 44))[None, :, None]
    target = wave * torch.tensor([0.5, 2.0, 0.5, 2.0])[:, None, None]  # style 1 gestures four times wider
    cond = {"audio": audio, "style": style, "seed": seed_frames}
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = SmoothL1MotionLoss()
    losses = []
    for _ in range(40):
        loss = loss_fn(model(x, t, cond), target.expand_as(x))["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses
    model.eval()
    with torch.no_grad():
        out = model(x, t, cond)
    amplitude = out.std(dim=(1, 2))
    assert amplitude[1] > 2 * amplitude[0] and amplitude[3] > 2 * amplitude[2]
