"""EdgeDenoiser: parity with the original EDGE DanceDecoder (rebuilt here functionally from its state-dict
names), checkpoint key mapping, rotary quirk, classifier-free-guidance masking, and a tiny training run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2a.checkpoint.edge_names import (
    a2a_state_dict_to_edge,
    edge_config_from_state_dict,
    edge_state_dict_to_a2a,
)
from a2a.errors import A2AError, CheckpointError
from a2a.models import EdgeDenoiser
from a2a.models.layers import (
    DenseFiLM,
    EdgeRotaryEmbedding,
    SinusoidalTimeEmbedding,
    film_modulate,
    multihead_attention,
    rotate_adjacent_pairs,
    sinusoidal_position_table,
)

TINY = {
    "nfeats": 151,
    "seq_len": 30,
    "latent_dim": 64,
    "ff_size": 128,
    "num_layers": 2,
    "num_heads": 2,
    "dropout": 0.1,
    "cond_feature_dim": 35,
    "music_layers": 1,
}


def make_tiny(seed: int = 0, **overrides: object) -> EdgeDenoiser:
    torch.manual_seed(seed)
    return EdgeDenoiser(**{**TINY, **overrides})


def make_inputs(model: EdgeDenoiser, batch: int, seed: int = 1, dtype: torch.dtype = torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, model.seq_len, model.nfeats, generator=g, dtype=dtype)
    cond = torch.randn(batch, model.seq_len, model.cond_feature_dim, generator=g, dtype=dtype)
    t = torch.randint(0, 1000, (batch,), generator=g)
    return x, t, cond


@pytest.fixture(scope="module")
def full_model() -> EdgeDenoiser:
    torch.manual_seed(0)
    return EdgeDenoiser(cond_feature_dim=35).eval()


# --- an independent functional rebuild of EDGE's DanceDecoder.forward, on EDGE's own key names ---------


def edge_rotate(freqs: Tensor, t: Tensor) -> Tensor:
    """rotary_embedding_torch.rotate_queries_or_keys: positions 0..L-1 along axis -2, interleaved pairs."""
    length = t.shape[-2]
    angles = torch.einsum("i,f->if", torch.arange(length).to(freqs.dtype), freqs)
    angles = angles[..., None].expand(length, freqs.shape[0], 2).reshape(length, -1).to(t)
    pairs = t.reshape(*t.shape[:-1], -1, 2)
    rotated_half = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).reshape(t.shape)
    return t * angles.cos() + rotated_half * angles.sin()


def edge_reference_forward(
    sd: dict[str, Tensor], x: Tensor, cond: Tensor, times: Tensor, keep: Tensor, num_heads: int
) -> Tensor:
    """EDGE DanceDecoder.forward in eval mode, from its state dict (EDGE names) and torch functionals."""
    dim = sd["input_projection.weight"].shape[0]
    rotary = "rotary.freqs" in sd

    def lin(h: Tensor, p: str) -> Tensor:
        return F.linear(h, sd[p + "weight"], sd[p + "bias"])

    def ln(h: Tensor, p: str) -> Tensor:
        return F.layer_norm(h, (dim,), sd[p + "weight"], sd[p + "bias"])

    def rot(h: Tensor) -> Tensor:
        return edge_rotate(sd["rotary.freqs"], h) if rotary else h

    def pos(h: Tensor) -> Tensor:
        return h if rotary else h + sd["abs_pos_encoding.pe"].permute(1, 0, 2)[:, : h.shape[1]]

    def mha(p: str, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        out, _ = F.multi_head_attention_forward(
            q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), dim, num_heads,
            sd[p + "in_proj_weight"], sd[p + "in_proj_bias"], None, None, False, 0.0,
            sd[p + "out_proj.weight"], sd[p + "out_proj.bias"], training=False, need_weights=False,
        )  # fmt: skip
        return out.transpose(0, 1)

    def layers(prefix: str) -> int:
        return len({k.split(".")[len(prefix.split(".")) - 1] for k in sd if k.startswith(prefix)})

    h = pos(lin(x, "input_projection."))
    c = pos(lin(cond, "cond_projection."))
    for i in range(layers("cond_encoder.")):
        p = f"cond_encoder.{i}."
        a = ln(c, p + "norm1.")
        c = c + mha(p + "self_attn.", rot(a), rot(a), a)
        c = c + lin(F.gelu(lin(ln(c, p + "norm2."), p + "linear1.")), p + "linear2.")
    c = torch.where(keep[:, None, None], c, sd["null_cond_embed"])
    pooled = ln(c.mean(dim=-2), "non_attn_cond_projection.0.")
    cond_hidden = lin(F.silu(lin(pooled, "non_attn_cond_projection.1.")), "non_attn_cond_projection.3.")

    half = dim // 2
    freqs = torch.exp(torch.arange(half) * -(math.log(10000) / (half - 1)))
    angles = times[:, None] * freqs[None, :]
    t_hidden = F.mish(lin(torch.cat((angles.sin(), angles.cos()), dim=-1).to(x.dtype), "time_mlp.1."))
    film_cond = lin(t_hidden, "to_time_cond.0.")
    time_tokens = lin(t_hidden, "to_time_tokens.0.").reshape(x.shape[0], 2, dim)
    film_cond = film_cond + torch.where(keep[:, None], cond_hidden, sd["null_cond_hidden"])
    memory = ln(torch.cat((c, time_tokens), dim=-2), "norm_cond.")

    for i in range(layers("seqTransDecoder.stack.")):
        p = f"seqTransDecoder.stack.{i}."

        def film(k: int, branch: Tensor, p: str = p) -> Tensor:
            scale, shift = lin(F.mish(film_cond), p + f"film{k}.block.1.")[:, None].chunk(2, dim=-1)
            return (scale + 1) * branch + shift

        a = ln(h, p + "norm1.")
        h = h + film(1, mha(p + "self_attn.", rot(a), rot(a), a))
        a = ln(h, p + "norm2.")
        h = h + film(2, mha(p + "multihead_attn.", rot(a), rot(memory), memory))
        a = ln(h, p + "norm3.")
        h = h + film(3, lin(F.gelu(lin(a, p + "linear1.")), p + "linear2."))
    return lin(h, "final_layer.")


# --- size and naming -------------------------------------------------------------------------------


def test_parameter_counts_equal_the_original(full_model: EdgeDenoiser) -> None:
    assert sum(p.numel() for p in full_model.parameters()) == 47_024_791
    torch.manual_seed(0)
    jukebox = EdgeDenoiser(cond_feature_dim=4800)
    assert sum(p.numel() for p in jukebox.parameters()) == 49_464_471


# Names and shapes read off Stanford-TML/EDGE model/model.py (DanceDecoder with the released sizes).
EDGE_KEYS = {
    "null_cond_embed": (1, 150, 512),
    "null_cond_hidden": (1, 512),
    "rotary.freqs": (256,),
    "time_mlp.1.weight": (2048, 512),
    "time_mlp.1.bias": (2048,),
    "to_time_cond.0.weight": (512, 2048),
    "to_time_tokens.0.weight": (1024, 2048),
    "norm_cond.weight": (512,),
    "input_projection.weight": (512, 151),
    "cond_projection.weight": (512, 35),
    "non_attn_cond_projection.0.weight": (512,),
    "non_attn_cond_projection.1.weight": (512, 512),
    "non_attn_cond_projection.3.bias": (512,),
    "cond_encoder.0.self_attn.in_proj_weight": (1536, 512),
    "cond_encoder.0.self_attn.in_proj_bias": (1536,),
    "cond_encoder.1.self_attn.out_proj.weight": (512, 512),
    "cond_encoder.0.linear1.weight": (1024, 512),
    "cond_encoder.1.linear2.weight": (512, 1024),
    "cond_encoder.1.norm2.bias": (512,),
    "cond_encoder.0.rotary.freqs": (256,),
    "seqTransDecoder.stack.0.self_attn.in_proj_weight": (1536, 512),
    "seqTransDecoder.stack.7.multihead_attn.in_proj_weight": (1536, 512),
    "seqTransDecoder.stack.7.multihead_attn.out_proj.bias": (512,),
    "seqTransDecoder.stack.3.linear1.weight": (1024, 512),
    "seqTransDecoder.stack.3.norm3.weight": (512,),
    "seqTransDecoder.stack.0.film1.block.1.weight": (1024, 512),
    "seqTransDecoder.stack.5.film3.block.1.bias": (1024,),
    "seqTransDecoder.stack.7.rotary.freqs": (256,),
    "final_layer.weight": (151, 512),
}


def test_exported_keys_are_the_original_names_and_shapes(full_model: EdgeDenoiser) -> None:
    edge_sd = a2a_state_dict_to_edge(full_model.state_dict())
    # 23 top-level entries + 2 encoder layers x 13 + 8 decoder layers x 25 (each with its rotary.freqs copy)
    assert len(edge_sd) == 23 + 2 * 13 + 8 * 25
    for key, shape in EDGE_KEYS.items():
        assert tuple(edge_sd[key].shape) == shape, key
    assert all(
        torch.equal(edge_sd[f"seqTransDecoder.stack.{i}.rotary.freqs"], edge_sd["rotary.freqs"])
        for i in range(8)
    )


def test_rotary_buffer_is_edges_frequency_table(full_model: EdgeDenoiser) -> None:
    freqs = full_model.state_dict()["rotary.freqs"]
    i = torch.arange(256, dtype=torch.float64)
    torch.testing.assert_close(freqs.double(), 10000.0 ** (-2 * i / 512), rtol=1e-6, atol=0)


def test_state_dict_round_trip_is_identity_and_loads(full_model: EdgeDenoiser) -> None:
    sd = full_model.state_dict()
    back = edge_state_dict_to_a2a(a2a_state_dict_to_edge(sd))
    assert list(back) == list(sd)
    assert all(back[k] is sd[k] for k in sd)
    tiny = make_tiny()
    torch.manual_seed(5)
    other = EdgeDenoiser(**TINY).eval()
    other.load_state_dict(edge_state_dict_to_a2a(a2a_state_dict_to_edge(tiny.state_dict())))
    tiny.eval()
    x, t, cond = make_inputs(tiny, 2)
    assert torch.equal(other(x, t, cond), tiny(x, t, cond))


def test_ddp_module_prefix_is_stripped_and_added() -> None:
    sd = make_tiny().state_dict()
    wrapped = a2a_state_dict_to_edge(sd, ddp_prefix=True)
    assert all(k.startswith("module.") for k in wrapped)
    assert "module.seqTransDecoder.stack.1.film2.block.1.weight" in wrapped
    assert list(edge_state_dict_to_a2a(wrapped)) == list(sd)


def test_converter_rejects_bad_state_dicts() -> None:
    edge_sd = a2a_state_dict_to_edge(make_tiny().state_dict())
    with pytest.raises(CheckpointError, match=r"'seqTransDecoder\.stack\.1\.rotary\.freqs' differs"):
        edge_state_dict_to_a2a(
            {**edge_sd, "seqTransDecoder.stack.1.rotary.freqs": edge_sd["rotary.freqs"] * 2}
        )
    with pytest.raises(
        CheckpointError, match=r"1 keys match no EDGE denoiser module: 'seqTransDecoder\.stack\.0\.x'"
    ):
        edge_state_dict_to_a2a({**edge_sd, "seqTransDecoder.stack.0.x": torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r"checkpoint\['ema_state_dict'\]"):
        edge_state_dict_to_a2a({"ema_state_dict": edge_sd, "normalizer": None})
    with pytest.raises(CheckpointError, match="'decoder_layers.0.bogus'"):
        a2a_state_dict_to_edge({"decoder_layers.0.bogus": torch.zeros(1)})


def test_config_is_recovered_from_weights() -> None:
    config = edge_config_from_state_dict(make_tiny().state_dict())
    assert config == {
        "nfeats": 151,
        "seq_len": 30,
        "latent_dim": 64,
        "ff_size": 128,
        "num_layers": 2,
        "music_layers": 1,
        "cond_feature_dim": 35,
        "use_rotary": True,
    }


# --- forward parity with the original ---------------------------------------------------------------


def test_forward_matches_edge_reference_float64() -> None:
    model = make_tiny().double().eval()
    x, t, cond = make_inputs(model, 3, dtype=torch.float64)
    keep = torch.tensor([True, False, True])
    expected = edge_reference_forward(a2a_state_dict_to_edge(model.state_dict()), x, cond, t, keep, 2)
    torch.testing.assert_close(model(x, t, cond, keep), expected, rtol=0, atol=1e-10)


def test_forward_matches_edge_reference_full_size_float32(full_model: EdgeDenoiser) -> None:
    x, t, cond = make_inputs(full_model, 2)
    keep = torch.tensor([True, False])
    with torch.no_grad():
        expected = edge_reference_forward(
            a2a_state_dict_to_edge(full_model.state_dict()), x, cond, t, keep, 8
        )
        got = full_model(x, t, cond, keep)
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_absolute_position_variant_matches_reference_and_round_trips() -> None:
    model = make_tiny(use_rotary=False).double().eval()
    edge_sd = a2a_state_dict_to_edge(model.state_dict())
    assert edge_sd["abs_pos_encoding.pe"].shape == (500, 1, 64)
    assert not any("rotary" in k for k in edge_sd)
    assert list(edge_state_dict_to_a2a(edge_sd)) == list(model.state_dict())
    x, t, cond = make_inputs(model, 2, dtype=torch.float64)
    keep = torch.tensor([False, True])
    expected = edge_reference_forward({k: v.double() for k, v in edge_sd.items()}, x, cond, t, keep, 2)
    torch.testing.assert_close(model(x, t, cond, keep), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("backend", ["sdpa", "manual"])
def test_attention_matches_torch_multihead_attention(backend: str) -> None:
    torch.manual_seed(0)
    attn = nn.MultiheadAttention(64, 4, dropout=0.1, batch_first=True).eval()
    q, k, v = torch.randn(2, 10, 64), torch.randn(2, 12, 64), torch.randn(2, 12, 64)
    for query, key, value in ((q, k, v), (q, q, q), (k, k, v)):
        expected = attn(query, key, value, need_weights=False)[0]
        torch.testing.assert_close(
            multihead_attention(attn, query, key, value, backend), expected, rtol=0, atol=1e-5
        )


def test_sdpa_and_manual_backends_agree_on_the_model() -> None:
    model = make_tiny().eval()
    x, t, cond = make_inputs(model, 2)
    sdpa = model(x, t, cond)
    model.attention_backend = "manual"
    assert model.decoder_layers[1].attention_backend == "manual"
    torch.testing.assert_close(model(x, t, cond), sdpa, rtol=0, atol=1e-5)


# --- layers against hand-computed values -----------------------------------------------------------


def test_rotary_rotates_adjacent_pairs_by_position_times_frequency() -> None:
    rotary = EdgeRotaryEmbedding(4)  # freqs = [1, 10000^(-1/2)] = [1, 0.01]
    torch.testing.assert_close(rotary.freqs, torch.tensor([1.0, 0.01]))
    x = torch.tensor([[[1.0, 0.0, 0.0, 1.0]] * 3])  # [1, 3, 4]: positions 0, 1, 2
    out = rotary.rotate(x)[0]
    torch.testing.assert_close(out[0], x[0, 0])
    expected_p2 = torch.tensor([math.cos(2.0), math.sin(2.0), -math.sin(0.02), math.cos(0.02)])
    torch.testing.assert_close(out[2], expected_p2)
    torch.testing.assert_close(
        rotate_adjacent_pairs(torch.tensor([1.0, 2.0, 3.0, 4.0])), torch.tensor([-2.0, 1.0, -4.0, 3.0])
    )


def test_rotation_alone_gives_relative_position_dot_products() -> None:
    rotary = EdgeRotaryEmbedding(16)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(16, generator=g), torch.randn(16, generator=g)
    rq = rotary.rotate(q.expand(1, 12, 16))[0]
    rk = rotary.rotate(k.expand(1, 12, 16))[0]
    torch.testing.assert_close(rq[7] @ rk[3], rq[4] @ rk[0], atol=1e-5, rtol=0)  # offset 4 both
    assert not torch.allclose(rq[7] @ rk[3], rq[3] @ rk[0], atol=1e-3)  # offset 4 vs 3


def test_time_embedding_hand_values() -> None:
    emb = SinusoidalTimeEmbedding(4)(torch.tensor([0, 1]))  # freqs [1, exp(-log(10000))] = [1, 1e-4]
    expected = torch.tensor(
        [[0.0, 0.0, 1.0, 1.0], [math.sin(1), math.sin(1e-4), math.cos(1), math.cos(1e-4)]]
    )
    torch.testing.assert_close(emb, expected)


def test_film_is_one_plus_scale_times_h_plus_shift() -> None:
    film = DenseFiLM(2)
    with torch.no_grad():
        film.linear.weight.zero_()
        film.linear.bias.copy_(torch.tensor([1.0, -0.5, 3.0, 4.0]))  # scale (1, -0.5), shift (3, 4)
    h = torch.tensor([[[2.0, 2.0]]])
    torch.testing.assert_close(film_modulate(h, film(torch.zeros(1, 2))), torch.tensor([[[7.0, 5.0]]]))


def test_position_table_matches_formula() -> None:
    table = sinusoidal_position_table(5, 4)
    torch.testing.assert_close(
        table[3], torch.tensor([math.sin(3), math.cos(3), math.sin(0.03), math.cos(0.03)])
    )


# --- conditioning, determinism, errors -------------------------------------------------------------


def test_dropped_rows_ignore_the_music_and_kept_rows_use_it() -> None:
    model = make_tiny().eval()
    x, t, cond = make_inputs(model, 2)
    keep = torch.tensor([False, True])
    base = model(x, t, cond, keep)
    changed = model(x, t, cond + torch.randn_like(cond), keep)
    assert torch.equal(changed[0], base[0])
    assert (changed[1] - base[1]).abs().max() > 1e-3
    assert torch.equal(model(x, t, cond), model(x, t, cond, torch.tensor([True, True])))


def test_eval_is_deterministic_and_train_is_stochastic() -> None:
    model = make_tiny().eval()
    x, t, cond = make_inputs(model, 2)
    assert torch.equal(model(x, t, cond), model(x, t, cond))
    model.train()
    assert not torch.equal(model(x, t, cond), model(x, t, cond))


def test_bad_inputs_raise_clear_errors() -> None:
    model = make_tiny().eval()
    x, t, cond = make_inputs(model, 2)
    with pytest.raises(A2AError, match=r"29 frames but the model's window is seq_len=30"):
        model(x[:, :29], t, cond[:, :29])
    with pytest.raises(A2AError, match=r"cond must be .*\[2, 30, 35\].*features\.dim"):
        model(x, t, cond[..., :34])
    with pytest.raises(A2AError, match=r"x must be \[B, T, 151\]"):
        model(x[..., :150], t, cond)
    with pytest.raises(A2AError, match="keep_cond must be a bool tensor"):
        model(x, t, cond, torch.ones(2))
    with pytest.raises(A2AError, match=r"timesteps t must be \[B\]"):
        model(x, t[:1], cond)
    with pytest.raises(A2AError, match="latent_dim=60 is not divisible by model.num_heads=8"):
        EdgeDenoiser(latent_dim=60, num_heads=8)
    with pytest.raises(A2AError, match="model.activation='tanh'"):
        EdgeDenoiser(**{**TINY, "activation": "tanh"})
    with pytest.raises(A2AError, match="attention_backend='flash'"):
        model.attention_backend = "flash"


# --- learning --------------------------------------------------------------------------------------


def test_tiny_model_fits_a_fixed_batch() -> None:
    model = make_tiny(dropout=0.0).train()
    x, t, cond = make_inputs(model, 4)
    target = torch.sin(torch.linspace(0, 6, model.seq_len))[None, :, None].expand_as(x) * 0.5
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    keep = torch.tensor([True, False, True, True])
    losses = []
    for _ in range(15):
        loss = F.mse_loss(model(x, t, cond, keep), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
    # both the null condition (row 1) and the music path (rows 0, 2, 3) were trained
    assert model.null_cond_embed.grad.abs().sum() > 0
    assert model.music_projection.weight.grad.abs().sum() > 0


def test_null_embeddings_always_join_the_graph() -> None:
    # DDP without find_unused_parameters needs every parameter to get a gradient, even with no dropping.
    model = make_tiny().train()
    x, t, cond = make_inputs(model, 2)
    model(x, t, cond).sum().backward()
    assert model.null_cond_embed.grad is not None and torch.equal(
        model.null_cond_embed.grad, torch.zeros(1, 30, 64)
    )
    assert model.null_cond_hidden.grad is not None


def test_runs_under_bfloat16_autocast() -> None:
    model = make_tiny().eval()
    x, t, cond = make_inputs(model, 2)
    reference = model(x, t, cond)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = model(x, t, cond)
    assert mixed.dtype == torch.bfloat16
    assert (mixed.float() - reference).abs().max() < 0.1 * reference.abs().max()
