"""Test helper: DiffuseStyleGesture's ``MDM`` forward (mode ``cross_local_attention3_style1``) as plain torch
functions on an original-format state dict, to check :class:`a2a.models.DSGDenoiser` and the converter.

Rebuilt from the original's math (YoungSeng/DiffuseStyleGesture ``main/model/mdm.py`` and its vendored
``main/model/local_attention``), in the original's sequence-first layout and key names:

- x ``[B, D, 1, T]``; ``y = {"audio": [B, T, 1024], "style": [B, 6], "seed": [B, D, 1, S],
  "mask_local": [B, T] bool}``.
- ``mask_cond``: dropping multiplies by ``1 − mask`` — the style embedding's output, the seed's flattened
  input.
- Local attention exactly as the vendored package computes it: windows of ``window`` frames, keys and
  values "looked around" one window back with the pad value −1 (and position −1, which the causal test
  ``i < j`` does not remove), the causal mask, then ``mask_local`` looked around with pad ``False`` (this
  is what removes the padding), masked entries set to ``−finfo.max``, softmax, weighted sum.
- ``nn.TransformerEncoderLayer`` post-LN with GELU spelled out (``in_proj`` → heads → softmax → ``out_proj``).

Also builds random original-format state dicts (``MDM.state_dict()`` names, shapes and buffers).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

# The ZEGGS model of end2end.py: MDM(njoints=1141, nfeats=1, latent_dim=256, n_seed=8, audio_feat="wavlm").
ZEGGS = {
    "nfeats": 1141,
    "latent": 256,
    "layers": 8,
    "ff": 1024,
    "audio_dim": 1024,
    "audio_latent": 64,
    "style_dim": 6,
    "style_latent": 64,
    "n_seed": 8,
    "groups": 8,
}
PE_LEN = 5000


def original_pe_table(dim: int, max_len: int = PE_LEN) -> Tensor:
    """MDM's ``PositionalEncoding.pe``: ``[max_len, 1, dim]``, sin on even and cos on odd channels."""
    pe = torch.zeros(max_len, dim)
    position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2).float() * (-np.log(10000.0) / dim))
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.unsqueeze(0).transpose(0, 1)


def original_inv_freq(group_dim: int) -> Tensor:
    """``SinusoidalEmbeddings(group_dim).inv_freq``."""
    return 1.0 / (10000 ** (torch.arange(0, group_dim, 2).float() / group_dim))


def original_state_dict(
    *,
    nfeats: int,
    latent: int,
    layers: int,
    ff: int,
    audio_dim: int,
    audio_latent: int,
    style_dim: int,
    style_latent: int,
    n_seed: int,
    groups: int,
    seed: int = 0,
) -> OrderedDict[str, Tensor]:
    """A random ``MDM.state_dict()`` (original key names and shapes, buffers included), float32.

    Weights ~ U(−1/√fan_in, 1/√fan_in) like ``nn.Linear``; layer-norm scales around 1 and shifts around 0
    (random, so that a wrong mapping shows).
    """
    g = torch.Generator().manual_seed(seed)

    def uniform(*shape: int, fan_in: int) -> Tensor:
        return (torch.rand(*shape, generator=g) * 2 - 1) / math.sqrt(fan_in)

    def linear(prefix: str, fan_in: int, fan_out: int) -> list[tuple[str, Tensor]]:
        weight, bias = uniform(fan_out, fan_in, fan_in=fan_in), uniform(fan_out, fan_in=fan_in)
        return [(f"{prefix}.weight", weight), (f"{prefix}.bias", bias)]

    def norm(prefix: str) -> list[tuple[str, Tensor]]:
        return [
            (f"{prefix}.weight", 1.0 + 0.1 * torch.randn(latent, generator=g)),
            (f"{prefix}.bias", 0.1 * torch.randn(latent, generator=g)),
        ]

    pe = original_pe_table(latent)
    items: list[tuple[str, Tensor]] = []
    items += linear("WavEncoder.audio_feature_map", audio_dim, audio_latent)
    items.append(("sequence_pos_encoder.pe", pe))
    items += linear("input_process.poseEmbedding", nfeats, latent)
    for i in range(layers):
        p = f"seqTransEncoder.layers.{i}"
        items += [
            (f"{p}.self_attn.in_proj_weight", uniform(3 * latent, latent, fan_in=latent)),
            (f"{p}.self_attn.in_proj_bias", 0.02 * torch.randn(3 * latent, generator=g)),
        ]
        items += linear(f"{p}.self_attn.out_proj", latent, latent)
        items += linear(f"{p}.linear1", latent, ff)
        items += linear(f"{p}.linear2", ff, latent)
        items += norm(f"{p}.norm1") + norm(f"{p}.norm2")
    items.append(("embed_timestep.sequence_pos_encoder.pe", pe))
    items += linear("embed_timestep.time_embed.0", latent, latent)
    items += linear("embed_timestep.time_embed.2", latent, latent)
    items += linear("embed_style", style_dim, style_latent)
    items += linear("embed_text", nfeats * n_seed, latent - style_latent)
    items += linear("output_process.poseFinal", latent, nfeats)
    items.append(("rel_pos.inv_freq", original_inv_freq(latent // groups)))
    items += linear("input_process2", 2 * latent + audio_latent, latent)
    return OrderedDict(items)


BUFFERS = ("sequence_pos_encoder.pe", "embed_timestep.sequence_pos_encoder.pe", "rel_pos.inv_freq")


def parameter_count(sd: dict[str, Tensor]) -> int:
    return sum(v.numel() for k, v in sd.items() if k not in BUFFERS)


# ----------------------------------------------------------------------------------------------- pieces


def _linear(sd: dict[str, Tensor], prefix: str, x: Tensor) -> Tensor:
    return x @ sd[f"{prefix}.weight"].T + sd[f"{prefix}.bias"]


def _rotate_half(x: Tensor) -> Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rope(xseq: Tensor, inv_freq: Tensor) -> Tensor:
    """``SinusoidalEmbeddings`` + ``apply_rotary_pos_emb`` on ``[b, n, e]`` (first output)."""
    n = xseq.shape[-2]
    steps = torch.arange(n).type_as(inv_freq)
    freqs = torch.einsum("i,j->ij", steps, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return xseq * emb.cos() + _rotate_half(xseq) * emb.sin()


def _look_around(x: Tensor, backward: int, forward: int, pad_value: float | bool) -> Tensor:
    """Pad the window axis (1) by ``backward`` before / ``forward`` after with ``pad_value``, then put each
    window's neighbours side by side along axis 2."""
    windows = x.shape[1]
    pad = (0, 0) * (x.ndim - 2) + (backward, forward)
    padded = F.pad(x, pad, value=pad_value)
    return torch.cat([padded[:, i : i + windows] for i in range(backward + forward + 1)], dim=2)


def original_local_attention(
    q: Tensor, k: Tensor, v: Tensor, packed_shape: tuple[int, int], mask: Tensor, window: int
) -> Tensor:
    """The vendored ``LocalAttention(window, causal=True, look_backward=1, look_forward=0,
    exact_windowsize=False)`` in eval mode: ``[b, n, e]`` → ``[*packed_shape, n, e]``."""
    b, n, e = q.shape
    windows = n // window
    b_t = torch.arange(n).reshape(1, windows, window)
    bq, bk, bv = (z.reshape(b, windows, window, e) for z in (q, k, v))
    bk = _look_around(bk, 1, 0, -1)
    bv = _look_around(bv, 1, 0, -1)
    bq_k = _look_around(b_t, 1, 0, -1)
    sim = torch.einsum("bwie,bwje->bwij", bq, bk) * e**-0.5
    mask_value = -torch.finfo(sim.dtype).max
    sim = sim.masked_fill(b_t[..., :, None] < bq_k[..., None, :], mask_value)
    heads = b // mask.shape[0]
    local = _look_around(mask.reshape(mask.shape[0], windows, window), 1, 0, False)[:, :, None, :]
    local = local.repeat_interleave(heads, dim=0)
    sim = sim.masked_fill(~local, mask_value)
    out = torch.einsum("bwij,bwje->bwie", sim.softmax(dim=-1), bv).reshape(b, n, e)
    return out.reshape(*packed_shape, n, e)


def _encoder_layer(sd: dict[str, Tensor], prefix: str, x: Tensor, heads: int) -> Tensor:
    """Post-LN ``nn.TransformerEncoderLayer`` (GELU, eval) on sequence-first ``[n, b, d]``."""
    n, b, d = x.shape
    head_dim = d // heads
    qkv = x @ sd[f"{prefix}.self_attn.in_proj_weight"].T + sd[f"{prefix}.self_attn.in_proj_bias"]
    q, k, v = (z.reshape(n, b * heads, head_dim).transpose(0, 1) for z in qkv.chunk(3, dim=-1))
    weights = (q @ k.transpose(1, 2) / math.sqrt(head_dim)).softmax(dim=-1)
    attended = (weights @ v).transpose(0, 1).reshape(n, b, d)
    attended = _linear(sd, f"{prefix}.self_attn.out_proj", attended)
    x = F.layer_norm(x + attended, (d,), sd[f"{prefix}.norm1.weight"], sd[f"{prefix}.norm1.bias"])
    hidden = _linear(sd, f"{prefix}.linear2", F.gelu(_linear(sd, f"{prefix}.linear1", x)))
    return F.layer_norm(x + hidden, (d,), sd[f"{prefix}.norm2.weight"], sd[f"{prefix}.norm2.bias"])


# ------------------------------------------------------------------------------------------------ forward


def original_forward(
    sd: dict[str, Tensor],
    x: Tensor,
    timesteps: Tensor,
    y: dict[str, Tensor],
    *,
    num_heads: int = 4,
    window: int = 11,
    drop_style: Tensor | None = None,
    drop_seed: Tensor | None = None,
) -> Tensor:
    """``MDM.forward`` in eval mode → ``[B, D, 1, T]``.

    ``drop_style`` / ``drop_seed`` ([B] bool) play the role of ``mask_cond``'s Bernoulli draws (the
    original drops a row by multiplying with ``1 − mask``).
    """
    bs, njoints, nfeats, nframes = x.shape
    latent = sd["input_process.poseEmbedding.weight"].shape[0]
    inv_freq = sd["rel_pos.inv_freq"]
    groups = latent // (2 * inv_freq.numel())

    pe = sd["embed_timestep.sequence_pos_encoder.pe"]
    emb_t = _linear(sd, "embed_timestep.time_embed.0", pe[timesteps])
    emb_t = _linear(sd, "embed_timestep.time_embed.2", F.silu(emb_t)).permute(1, 0, 2)  # [1, bs, d]

    def mask_cond(cond: Tensor, drop: Tensor | None) -> Tensor:
        if drop is None:
            return cond
        return cond * (1.0 - drop.to(cond.dtype).view(bs, 1))

    embed_style = mask_cond(_linear(sd, "embed_style", y["style"]), drop_style)
    seed_flat = mask_cond(y["seed"].squeeze(2).reshape(bs, -1), drop_seed)
    emb_1 = torch.cat((embed_style, _linear(sd, "embed_text", seed_flat)), dim=1)  # [bs, d]

    enc_text = _linear(sd, "WavEncoder.audio_feature_map", y["audio"]).permute(1, 0, 2)  # [n, bs, 64]
    x = x.reshape(bs, njoints * nfeats, 1, nframes)
    x_ = _linear(sd, "input_process.poseEmbedding", x.permute(3, 0, 1, 2).reshape(nframes, bs, -1))

    xseq = torch.cat((x_, enc_text), dim=2)
    xseq = torch.cat(((emb_1 + emb_t).repeat(nframes, 1, 1), xseq), dim=2)
    xseq = _linear(sd, "input_process2", xseq)  # [n, bs, d]
    xseq = xseq.permute(1, 0, 2).reshape(bs, nframes, groups, -1).permute(0, 2, 1, 3)
    xseq = _rope(xseq.reshape(bs * groups, nframes, -1), inv_freq)
    xseq = original_local_attention(xseq, xseq, xseq, (bs, groups), y["mask_local"], window)
    xseq = xseq.permute(0, 2, 1, 3).reshape(bs, nframes, -1).permute(1, 0, 2)

    xseq = torch.cat((emb_1 + emb_t, xseq), dim=0)  # [n + 1, bs, d]
    xseq = xseq.permute(1, 0, 2).reshape(bs, nframes + 1, groups, -1).permute(0, 2, 1, 3)
    xseq = _rope(xseq.reshape(bs * groups, nframes + 1, -1), inv_freq)
    xseq = xseq.reshape(bs, groups, nframes + 1, -1).permute(0, 2, 1, 3).reshape(bs, nframes + 1, -1)
    xseq = xseq.permute(1, 0, 2)
    layer_count = len({k.split(".")[2] for k in sd if k.startswith("seqTransEncoder.layers.")})
    for i in range(layer_count):
        xseq = _encoder_layer(sd, f"seqTransEncoder.layers.{i}", xseq, num_heads)
    output = _linear(sd, "output_process.poseFinal", xseq[1:])  # [n, bs, D]
    return output.reshape(nframes, bs, njoints, nfeats).permute(1, 2, 3, 0)
