"""Transformer building blocks shared by the denoisers.

The blocks reproduce the numerics of the EDGE reference implementation (Stanford-TML/EDGE,
``model/model.py``, ``model/utils.py``, ``model/rotary_embedding_torch.py``) so that its released weights
load and behave identically, while attention itself runs through
:func:`torch.nn.functional.scaled_dot_product_attention` on the weights of an ``nn.MultiheadAttention``
(kept as the parameter container so the parameter names and shapes stay those of the original).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2a.errors import A2AError

ATTENTION_BACKENDS = ("sdpa", "manual")
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"gelu": F.gelu, "relu": F.relu, "silu": F.silu}


def resolve_activation(name: str) -> Callable[[Tensor], Tensor]:
    """Map a config name (``"gelu"``, ``"relu"``, ``"silu"``) to its functional form."""
    if name not in ACTIVATIONS:
        raise A2AError(f"model.activation={name!r} is not supported; choose one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def check_attention_backend(name: str) -> str:
    """Return ``name`` if it is a known attention backend, else raise :class:`A2AError`."""
    if name not in ATTENTION_BACKENDS:
        raise A2AError(
            f"model.attention_backend={name!r} is not supported; choose one of {ATTENTION_BACKENDS}"
        )
    return name


class SinusoidalTimeEmbedding(nn.Module):
    """Sinusoidal embedding of diffusion timesteps, ``[B] -> [B, dim]`` laid out as ``[sin | cos]``.

    Frequencies are ``exp(-i * log(10000) / (dim/2 - 1))`` for ``i < dim/2`` (EDGE's ``SinusoidalPosEmb``;
    note the ``- 1``, which makes the last frequency exactly ``1e-4``).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 4 or dim % 2:
            raise A2AError(f"time embedding dim must be even and >= 4, got {dim}")
        self.dim = dim

    def forward(self, timesteps: Tensor) -> Tensor:
        """``timesteps`` [B] (integer or real) -> [B, dim] float32."""
        half = self.dim // 2
        step = math.log(10000) / (half - 1)
        freqs = torch.exp(torch.arange(half, device=timesteps.device) * -step)
        angles = timesteps[:, None] * freqs[None, :]
        return torch.cat((angles.sin(), angles.cos()), dim=-1)


class TimestepEmbedding(nn.Module):
    """``timesteps`` [B] -> [B, 4D]: sinusoid(D) -> Linear(D, 4D) -> Mish (EDGE's ``time_mlp``).

    The sinusoid is formed in float32 (angles reach ~1000 rad) and cast to the weight dtype, so the
    module also runs after ``.double()``/``.half()``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.sinusoid = SinusoidalTimeEmbedding(dim)
        self.linear = nn.Linear(dim, dim * 4)
        self.activation = nn.Mish()

    def forward(self, timesteps: Tensor) -> Tensor:
        return self.activation(self.linear(self.sinusoid(timesteps).to(self.linear.weight.dtype)))


def sinusoidal_position_table(max_len: int, dim: int) -> Tensor:
    """Absolute sinusoidal position table [max_len, dim], sin on even and cos on odd channels."""
    position = torch.arange(0, max_len).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2) * (-math.log(10000.0) / dim))
    table = torch.zeros(max_len, dim)
    table[:, 0::2] = torch.sin(position * div_term)
    table[:, 1::2] = torch.cos(position * div_term)
    return table


class AbsolutePositionalEncoding(nn.Module):
    """Adds the sinusoidal position table to ``[B, T, D]`` and applies dropout (used when rotary is off).

    The table is not persistent: it is a pure function of ``(max_len, dim)``; the checkpoint converter
    drops EDGE's copy (``abs_pos_encoding.pe``, shaped ``[max_len, 1, D]``) after checking it.
    """

    def __init__(self, dim: int, dropout: float, max_len: int = 500) -> None:
        super().__init__()
        if dim % 2:
            raise A2AError(f"absolute positional encoding needs an even latent_dim, got {dim}")
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("table", sinusoidal_position_table(max_len, dim), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` [B, T, D] -> [B, T, D]; ``T`` must not exceed ``max_len``."""
        if x.shape[1] > self.table.shape[0]:
            raise A2AError(
                f"sequence length {x.shape[1]} exceeds the positional table ({self.table.shape[0]})"
            )
        return self.dropout(x + self.table[: x.shape[1]].to(x.dtype))


# dtypes whose channel pairs can be viewed as complex numbers (view_as_complex has no bf16/fp16 form)
_COMPLEX_ROTATION = {torch.float32: torch.complex64, torch.float64: torch.complex128}


class RotaryPositions:
    """Rotary angles ``[L, D]`` (float32) for positions ``0..L-1``, applicable to tensors of any dtype.

    The angles are cast to the dtype of the rotated tensor *before* ``cos``/``sin``, the order the
    original uses (it matters in half precision); the results are cached per dtype for reuse across
    layers within one forward pass.
    """

    def __init__(self, angles: Tensor) -> None:
        self.angles = angles
        self._cos_sin: dict[torch.dtype, tuple[Tensor, Tensor]] = {}
        self._phasors: dict[torch.dtype, Tensor] = {}

    def cos_sin(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        """``(cos, sin)`` of the angles in ``dtype``, each [L, D]."""
        if dtype not in self._cos_sin:
            angles = self.angles.to(dtype)
            self._cos_sin[dtype] = (angles.cos(), angles.sin())
        return self._cos_sin[dtype]

    def rows(self, start: int, stop: int) -> RotaryPositions:
        """The angles of positions ``start..stop-1`` only (to rotate a tensor holding just those rows)."""
        return RotaryPositions(self.angles[start:stop])

    def phasors(self, dtype: torch.dtype) -> Tensor:
        """``cos + i·sin`` of each channel pair's angle, complex ``[L, D/2]`` (``dtype`` float32/64)."""
        if dtype not in self._phasors:
            cos, sin = self.cos_sin(dtype)
            self._phasors[dtype] = torch.complex(cos[:, ::2], sin[:, ::2])
        return self._phasors[dtype]

    def apply(self, x: Tensor) -> Tensor:
        """Rotate ``x`` [..., L, D] channel pairs (0,1), (2,3), ... by the angles of their position."""
        if x.dtype in _COMPLEX_ROTATION and not torch.compiler.is_compiling():
            # (a + ib)(cos + i sin) is the same pair rotation in one fused pass instead of the six
            # elementwise passes of the real form (≈ 6× faster on CPU; the results agree to rounding).
            # torch.compile generates no code for complex ops but fuses the real form itself.
            pairs = torch.view_as_complex(x.contiguous().unflatten(-1, (-1, 2)))
            return torch.view_as_real(pairs * self.phasors(x.dtype)).flatten(-2)
        cos, sin = self.cos_sin(x.dtype)
        return x * cos + rotate_adjacent_pairs(x) * sin


def rotate_adjacent_pairs(x: Tensor) -> Tensor:
    """Map each channel pair ``(a, b)`` to ``(-b, a)`` over the last axis (interleaved ``rotate_half``)."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


class EdgeRotaryEmbedding(nn.Module):
    """EDGE's rotary position embedding, applied to the full model width before the Q/K projections.

    ``freqs[i] = 1 / theta^(2i/dim)`` (a persistent buffer, as in the original) and each frequency drives
    one adjacent channel pair. Because EDGE rotates the *layer input* and a learned projection follows,
    attention scores are not functions of relative position alone; this quirk is reproduced on purpose
    so the released weights keep their meaning.
    """

    def __init__(self, dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        if dim % 2:
            raise A2AError(f"rotary embedding needs an even latent_dim, got {dim}")
        freqs = 1.0 / (theta ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("freqs", freqs)

    def positions(self, length: int) -> RotaryPositions:
        """Angles [length, dim] for positions ``0..length-1``; each frequency serves one channel pair."""
        steps = torch.arange(length, device=self.freqs.device, dtype=self.freqs.dtype)
        return RotaryPositions(torch.outer(steps, self.freqs).repeat_interleave(2, dim=-1))

    def rotate(self, x: Tensor) -> Tensor:
        """Rotate ``x`` [B, L, D] with positions ``0..L-1`` along axis -2."""
        return self.positions(x.shape[-2]).apply(x)


def multihead_attention(
    attn: nn.MultiheadAttention, query: Tensor, key: Tensor, value: Tensor, backend: str = "sdpa"
) -> Tensor:
    """Multi-head attention with the weights of ``attn`` (batch-first, no masks).

    ``query`` [B, L, D], ``key`` and ``value`` [B, S, D] -> [B, L, D]. Matches
    ``attn(query, key, value, need_weights=False)[0]`` (attention-weight dropout included in training).
    ``backend="sdpa"`` uses :func:`F.scaled_dot_product_attention` (fused kernels on GPU);
    ``"manual"`` spells out ``softmax(QK^T/sqrt(d)) V`` and is kept as the reference for tests and
    ``benchmarks/bench_attention.py``.
    """
    dim = query.shape[-1]
    weight, bias = attn.in_proj_weight, attn.in_proj_bias
    # Share projection matmuls where inputs coincide (self-attention gives q and k the same input).
    if query is key and key is value:
        q, k, v = F.linear(query, weight, bias).chunk(3, dim=-1)
    elif query is key:
        q, k = F.linear(query, weight[: 2 * dim], bias[: 2 * dim]).chunk(2, dim=-1)
        v = F.linear(value, weight[2 * dim :], bias[2 * dim :])
    else:
        q = F.linear(query, weight[:dim], bias[:dim])
        k, v = key_value_projection(attn, key, value)
    return _attend(attn, q, k, v, backend)


def key_value_projection(attn: nn.MultiheadAttention, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
    """The keys and values ``attn`` attends to: ``key`` and ``value`` [B, S, D] through its input
    projection, each [B, S, D]. Memory that does not change between calls can be projected once
    (see :func:`projected_attention`)."""
    dim = key.shape[-1]
    weight, bias = attn.in_proj_weight, attn.in_proj_bias
    k = F.linear(key, weight[dim : 2 * dim], bias[dim : 2 * dim])
    v = F.linear(value, weight[2 * dim :], bias[2 * dim :])
    return k, v


def projected_attention(
    attn: nn.MultiheadAttention, query: Tensor, keys: Tensor, values: Tensor, backend: str = "sdpa"
) -> Tensor:
    """:func:`multihead_attention` with keys and values already projected (:func:`key_value_projection`).

    ``query`` [B, L, D], ``keys``/``values`` [B, S, D] -> [B, L, D].
    """
    dim = query.shape[-1]
    q = F.linear(query, attn.in_proj_weight[:dim], attn.in_proj_bias[:dim])
    return _attend(attn, q, keys, values, backend)


def _attend(attn: nn.MultiheadAttention, q: Tensor, k: Tensor, v: Tensor, backend: str) -> Tensor:
    """Scaled dot-product attention over projected ``q`` [B, L, D], ``k``/``v`` [B, S, D] per head, then
    ``attn``'s output projection -> [B, L, D]."""
    batch, q_len, dim = q.shape
    heads = attn.num_heads
    q = q.unflatten(-1, (heads, -1)).transpose(1, 2)
    k = k.unflatten(-1, (heads, -1)).transpose(1, 2)
    v = v.unflatten(-1, (heads, -1)).transpose(1, 2)
    dropout_p = attn.dropout if attn.training else 0.0
    if backend == "sdpa":
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    else:
        scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
        weights = F.dropout(scores.softmax(dim=-1), p=dropout_p, training=attn.training)
        out = weights @ v
    out = out.transpose(1, 2).reshape(batch, q_len, dim)
    return F.linear(out, attn.out_proj.weight, attn.out_proj.bias)


class DenseFiLM(nn.Module):
    """FiLM generator ``Mish -> Linear(D, 2D)``: ``cond`` [B, D] -> ``(scale, shift)``, each [B, 1, D]."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.activation = nn.Mish()
        self.linear = nn.Linear(dim, dim * 2)

    def forward(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        scale, shift = self.linear(self.activation(cond)).unsqueeze(1).chunk(2, dim=-1)
        return scale, shift


def film_modulate(h: Tensor, scale_shift: tuple[Tensor, Tensor]) -> Tensor:
    """``(scale + 1) * h + shift`` with ``h`` [B, T, D] and scale/shift [B, 1, D]."""
    scale, shift = scale_shift
    return (scale + 1) * h + shift


class PreNormEncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer with optional EDGE rotary on the attention queries and keys.

    ``x = x + Drop(SelfAttn(q=k=rot(LN x), v=LN x)); x = x + Drop(FF(LN x))`` with
    ``FF = Linear -> act -> Drop -> Linear``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ff_size: int,
        dropout: float,
        activation: str = "gelu",
        attention_backend: str = "sdpa",
    ) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.ff_in = nn.Linear(dim, ff_size)
        self.ff_out = nn.Linear(ff_size, dim)
        self.self_attn_norm = nn.LayerNorm(dim)
        self.ff_norm = nn.LayerNorm(dim)
        self.self_attn_dropout = nn.Dropout(dropout)
        self.ff_hidden_dropout = nn.Dropout(dropout)
        self.ff_dropout = nn.Dropout(dropout)
        self.activation = resolve_activation(activation)
        self.attention_backend = check_attention_backend(attention_backend)

    def forward(self, x: Tensor, rotary: RotaryPositions | None = None) -> Tensor:
        """``x`` [B, T, D] -> [B, T, D]; ``rotary`` holds the angles for length ``T`` (or None)."""
        h = self.self_attn_norm(x)
        qk = rotary.apply(h) if rotary is not None else h
        x = x + self.self_attn_dropout(multihead_attention(self.self_attn, qk, qk, h, self.attention_backend))
        h = self.ff_norm(x)
        h = self.ff_out(self.ff_hidden_dropout(self.activation(self.ff_in(h))))
        return x + self.ff_dropout(h)


class FiLMDecoderLayer(nn.Module):
    """Pre-norm decoder layer whose three residual branches are FiLM-modulated by a conditioning vector.

    ``x += FiLM1(c)(SelfAttn(LN1 x)); x += FiLM2(c)(CrossAttn(LN2 x, memory)); x += FiLM3(c)(FF(LN3 x))``
    (EDGE's ``FiLMTransformerDecoderLayer`` with ``norm_first=True``). Rotary, when given, rotates the
    self-attention queries/keys and the cross-attention queries; the caller rotates the memory that
    becomes the cross-attention keys (the same for every layer) and projects it with
    :meth:`project_memory`.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ff_size: int,
        dropout: float,
        activation: str = "gelu",
        attention_backend: str = "sdpa",
    ) -> None:
        super().__init__()
        self.self_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, num_heads, dropout=dropout, batch_first=True)
        self.ff_in = nn.Linear(dim, ff_size)
        self.ff_out = nn.Linear(ff_size, dim)
        self.self_attn_norm = nn.LayerNorm(dim)
        self.cross_attn_norm = nn.LayerNorm(dim)
        self.ff_norm = nn.LayerNorm(dim)
        self.self_attn_dropout = nn.Dropout(dropout)
        self.cross_attn_dropout = nn.Dropout(dropout)
        self.ff_hidden_dropout = nn.Dropout(dropout)
        self.ff_dropout = nn.Dropout(dropout)
        self.self_attn_film = DenseFiLM(dim)
        self.cross_attn_film = DenseFiLM(dim)
        self.ff_film = DenseFiLM(dim)
        self.activation = resolve_activation(activation)
        self.attention_backend = check_attention_backend(attention_backend)

    def project_memory(self, memory_keys: Tensor, memory_values: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys and values [B, S, D] each from the key inputs (the rotated memory when
        rotary is used) and value inputs (the memory itself), both [B, S, D]. The projection is row by
        row, so rows that do not change between calls (encoded music) can be projected once."""
        return key_value_projection(self.cross_attn, memory_keys, memory_values)

    def forward(
        self,
        x: Tensor,
        memory: tuple[Tensor, Tensor],
        cond: Tensor,
        rotary: RotaryPositions | None = None,
    ) -> Tensor:
        """Decode one layer.

        Args:
            x: [B, T, D] sequence being denoised.
            memory: the cross-attention keys and values, [B, S, D] each, from :meth:`project_memory`.
            cond: [B, D] FiLM conditioning vector.
            rotary: angles for length ``T``, or None.

        Returns:
            [B, T, D].
        """
        backend = self.attention_backend
        h = self.self_attn_norm(x)
        qk = rotary.apply(h) if rotary is not None else h
        h = self.self_attn_dropout(multihead_attention(self.self_attn, qk, qk, h, backend))
        x = x + film_modulate(h, self.self_attn_film(cond))

        h = self.cross_attn_norm(x)
        q = rotary.apply(h) if rotary is not None else h
        h = self.cross_attn_dropout(projected_attention(self.cross_attn, q, *memory, backend))
        x = x + film_modulate(h, self.cross_attn_film(cond))

        h = self.ff_norm(x)
        h = self.ff_dropout(self.ff_out(self.ff_hidden_dropout(self.activation(self.ff_in(h)))))
        return x + film_modulate(h, self.ff_film(cond))
