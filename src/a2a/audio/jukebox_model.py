"""The parts of OpenAI Jukebox that EDGE's features read, with the release's state-dict names.

:class:`JukeboxArchitecture` holds the sizes (defaults: the 5B model), :func:`prior_tensors` and
:func:`vqvae_tensors` the names, shapes and stored dtypes of the two weight files, and the modules rebuild
the VQ-VAE's top-level encoder with its codebook (``audio [B, n] → tokens [B, D]``) and the top-level
prior's embeddings and first blocks (``tokens [B, D] → activations [B, D, width]``). Their module and
parameter names are the files' state-dict names, so weights load by name and shape.

The computation follows Jukebox's own inference path (``openai/jukebox``, as jukemirlib drives it): layer
norms and attention softmax in fp32, linear maps in the compute dtype, the three causal attention patterns
on zero-padded 64-token blocks, quick GELU, and the label/timing conditioning jukemirlib uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from a2a.errors import A2AError

# jukemirlib conditions on a 62-s song (the prior's total-length embedding starts at 60 s).
CONDITIONING_SONG_SECONDS = 62

TensorSpecs = dict[str, tuple[tuple[int, ...], torch.dtype]]


@dataclass(frozen=True)
class JukeboxArchitecture:
    """Sizes of the Jukebox parts the recipe reads; the defaults are the released 5B model.

    ``vqvae_*`` describe the VQ-VAE (``downs``: downsampling convolutions per level, all with stride
    ``vqvae_stride``; the top level's encoder is ``vqvae_width·multipliers[-1]`` wide and
    ``vqvae_depth·multipliers[-1]`` residual blocks deep per stage). ``width``/``depth``/``heads``/``n_ctx``/
    ``blocks`` describe the top-level prior (attention inside ``n_ctx / blocks``-token blocks); the label
    sizes are those of Jukebox's v2 artist/genre vocabulary.
    """

    sr: int = 44100
    vqvae_downs: tuple[int, ...] = (3, 2, 2)
    vqvae_stride: int = 2
    vqvae_width: int = 32
    vqvae_depth: int = 4
    vqvae_multipliers: tuple[int, ...] = (2, 1, 1)
    vqvae_dilation_growth: int = 3
    vqvae_emb_width: int = 64
    codebook_size: int = 2048
    width: int = 4800
    depth: int = 72
    heads: int = 8
    n_ctx: int = 8192
    blocks: int = 128
    genre_bins: int = 120
    artist_bins: int = 4111
    time_bins: int = 128
    min_duration: float = 60.0
    max_duration: float = 600.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "vqvae_downs", tuple(self.vqvae_downs))
        object.__setattr__(self, "vqvae_multipliers", tuple(self.vqvae_multipliers))
        if len(self.vqvae_multipliers) != len(self.vqvae_downs):
            raise A2AError("Jukebox architecture: vqvae_multipliers needs one entry per level of vqvae_downs")
        if self.n_ctx % self.blocks or self.width % 4 or (self.width // 4) % self.heads:
            raise A2AError(
                f"Jukebox architecture: n_ctx ({self.n_ctx}) must be a multiple of blocks ({self.blocks}) "
                f"and width/4 ({self.width}/4) a multiple of heads ({self.heads})"
            )

    @property
    def top(self) -> int:
        """Index of the VQ-VAE's top level (2)."""
        return len(self.vqvae_downs) - 1

    @property
    def hop_length(self) -> int:
        """Audio samples per top-level token (128)."""
        return self.vqvae_stride ** sum(self.vqvae_downs)

    @property
    def block_ctx(self) -> int:
        """Tokens per attention block (64)."""
        return self.n_ctx // self.blocks

    @property
    def attn_width(self) -> int:
        """Width of the attention's queries, keys and values (Jukebox's ``m_attn = 0.25``: 1200)."""
        return self.width // 4

    def tokens(self, num_samples: int) -> int:
        """Top-level tokens of ``num_samples`` at ``sr``: each stride-2 convolution halves, rounding down."""
        for _ in range(sum(self.vqvae_downs)):
            num_samples //= self.vqvae_stride
        return num_samples


JUKEBOX_5B = JukeboxArchitecture()


def _is_conv1d_weight(name: str) -> bool:
    return name.startswith("prior.transformer.") and name.endswith(".w")


def in_compute_dtype(name: str) -> bool:
    """The transformer's linear maps (``w`` and ``b``) run in the compute dtype; the rest stays fp32."""
    return name.startswith("prior.transformer.") and name.endswith((".w", ".b"))


def prior_tensors(arch: JukeboxArchitecture, layers: int | None = None) -> TensorSpecs:
    """State-dict names → (shape, dtype) of the top-level prior file, for its first ``layers`` blocks and
    the embeddings (``None``: the whole file, output head included). The release stores the transformer's
    matrices in fp16 and everything else in fp32."""
    w, s, c = arch.width, arch.attn_width, arch.n_ctx
    shapes: dict[str, tuple[int, ...]] = {
        "y_emb.bow_genre_emb.emb.weight": (arch.genre_bins, w),
        "y_emb.artist_emb.emb.weight": (arch.artist_bins, w),
        "y_emb.total_length_emb.emb.weight": (arch.time_bins, w),
        "y_emb.absolute_pos_emb.emb.weight": (arch.time_bins, w),
        "y_emb.relative_pos_emb.emb.weight": (arch.time_bins, w),
        "prior.x_emb.weight": (arch.codebook_size, w),
        "prior.pos_emb.pos_emb": (c, w),
    }
    for i in range(arch.depth if layers is None else layers):
        prefix = f"prior.transformer._attn_mods.{i}."
        shapes.update(
            {
                prefix + "attn.c_attn.w": (w, 3 * s),
                prefix + "attn.c_attn.b": (3 * s,),
                prefix + "attn.c_proj.w": (s, w),
                prefix + "attn.c_proj.b": (w,),
                prefix + "ln_0.weight": (w,),
                prefix + "ln_0.bias": (w,),
                prefix + "mlp.c_fc.w": (w, w),
                prefix + "mlp.c_fc.b": (w,),
                prefix + "mlp.c_proj.w": (w, w),
                prefix + "mlp.c_proj.b": (w,),
                prefix + "ln_1.weight": (w,),
                prefix + "ln_1.bias": (w,),
            }
        )
    if layers is None:
        shapes["prior.x_out.weight"] = (arch.codebook_size, w)
    return {
        name: (shape, torch.float16 if _is_conv1d_weight(name) else torch.float32)
        for name, shape in shapes.items()
    }


def vqvae_tensors(arch: JukeboxArchitecture, top_only: bool = False) -> TensorSpecs:
    """State-dict names → (shape, dtype) of the VQ-VAE's encoders and codebooks (all fp32): the top level's
    only with ``top_only``, else every level's (the file also holds decoders, which nothing here reads)."""
    shapes: dict[str, tuple[int, ...]] = {}
    levels = [arch.top] if top_only else range(len(arch.vqvae_downs))
    kernel = 2 * arch.vqvae_stride
    for level in levels:
        width = arch.vqvae_width * arch.vqvae_multipliers[level]
        depth = arch.vqvae_depth * arch.vqvae_multipliers[level]
        for stage, down in enumerate(arch.vqvae_downs[: level + 1]):
            prefix = f"encoders.{level}.level_blocks.{stage}.model."
            for i in range(down):
                channels_in = width if i else (1 if stage == 0 else arch.vqvae_emb_width)
                shapes[f"{prefix}{i}.0.weight"] = (width, channels_in, kernel)
                shapes[f"{prefix}{i}.0.bias"] = (width,)
                for j in range(depth):
                    shapes[f"{prefix}{i}.1.model.{j}.model.1.weight"] = (width, width, 3)
                    shapes[f"{prefix}{i}.1.model.{j}.model.1.bias"] = (width,)
                    shapes[f"{prefix}{i}.1.model.{j}.model.3.weight"] = (width, width, 1)
                    shapes[f"{prefix}{i}.1.model.{j}.model.3.bias"] = (width,)
            shapes[f"{prefix}{down}.weight"] = (arch.vqvae_emb_width, width, 3)
            shapes[f"{prefix}{down}.bias"] = (arch.vqvae_emb_width,)
        shapes[f"bottleneck.level_blocks.{level}.k"] = (arch.codebook_size, arch.vqvae_emb_width)
    return {name: (shape, torch.float32) for name, shape in shapes.items()}


class _Conv1D(nn.Module):
    """Jukebox's ``Conv1D``: a linear map stored as ``w [n_in, n_out]``, ``b [n_out]``."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.empty(n_in, n_out))
        self.b = nn.Parameter(torch.empty(n_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[..., n_in]`` → ``[..., n_out]``."""
        return torch.addmm(self.b, x.reshape(-1, x.shape[-1]), self.w).view(*x.shape[:-1], self.w.shape[1])


class _LayerNorm(nn.LayerNorm):
    """Layer norm computed in fp32 whatever the input dtype (Jukebox's ``LayerNorm``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps).to(x.dtype)


class _Attention(nn.Module):
    """Jukebox's factored self-attention on ``[B, D, width]``, one of three causal patterns over
    ``block_ctx``-token blocks: 1 = within the block, 2 = the same position of earlier blocks (transposed
    blocks), 3 = the whole previous block (the first block sees zero keys and values, hence outputs 0)."""

    def __init__(self, arch: JukeboxArchitecture, pattern: int) -> None:
        super().__init__()
        self.c_attn = _Conv1D(arch.width, 3 * arch.attn_width)
        self.c_proj = _Conv1D(arch.attn_width, arch.width)
        self.pattern = pattern
        self.heads = arch.heads
        self.block_ctx = arch.block_ctx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        q, k, v = self.c_attn(x).chunk(3, dim=2)
        # Jukebox pads q, k, v (not x) with zeros to whole blocks; causality keeps the padding out of every
        # real position's output.
        pad = -length % self.block_ctx
        if pad:
            q, k, v = (F.pad(t, (0, 0, 0, pad)) for t in (q, k, v))
        if self.pattern == 1:
            a = self._within_blocks(q, k, v)
        elif self.pattern == 2:
            a = self._across_blocks(q, k, v)
        else:
            a = self._previous_block(q, k, v)
        return self.c_proj(a[:, :length])

    def _within_blocks(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        batch, length, state = v.shape

        def fold(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(batch * length // self.block_ctx, self.block_ctx, state)

        return self._dense(fold(q), fold(k), fold(v), causal=True).view(batch, length, state)

    def _across_blocks(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        batch, length, state = v.shape
        n_blocks = length // self.block_ctx

        def fold(t: torch.Tensor) -> torch.Tensor:
            blocked = t.view(batch, n_blocks, self.block_ctx, state).transpose(1, 2)
            return blocked.reshape(batch * self.block_ctx, n_blocks, state)

        a = self._dense(fold(q), fold(k), fold(v), causal=True)
        return a.view(batch, self.block_ctx, n_blocks, state).transpose(1, 2).reshape(batch, length, state)

    def _previous_block(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        batch, length, state = v.shape
        n_blocks = length // self.block_ctx

        def shift(t: torch.Tensor) -> torch.Tensor:
            earlier = t.view(batch, n_blocks, self.block_ctx, state)[:, :-1]
            return F.pad(earlier, (0, 0, 0, 0, 1, 0)).reshape(batch * n_blocks, self.block_ctx, state)

        a = self._dense(q.reshape(batch * n_blocks, self.block_ctx, state), shift(k), shift(v), causal=False)
        return a.view(batch, length, state)

    def _dense(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        """Multi-head attention of ``[N, L, state]`` queries/keys/values, as Jukebox's ``_attn`` computes it:
        logits in the input dtype scaled by ``1/sqrt(head width)``, masked softmax in fp32."""
        n, length, state = q.shape
        head = state // self.heads
        qh = q.view(n, length, self.heads, head).transpose(1, 2)
        kh = k.view(n, k.shape[1], self.heads, head).permute(0, 2, 3, 1)
        vh = v.view(n, v.shape[1], self.heads, head).transpose(1, 2)
        scale = 1.0 / math.sqrt(math.sqrt(head))
        w = torch.matmul(qh, kh)
        w.mul_(scale * scale)
        dtype = w.dtype
        w = w.float()
        if causal and length > 1:
            mask = torch.ones(length, kh.shape[-1], device=w.device).tril()
            w = w * mask + -1e9 * (1 - mask)
        a = torch.matmul(F.softmax(w, dim=-1).to(dtype), vh)
        return a.transpose(1, 2).reshape(n, length, state)


class _MLP(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.c_fc = _Conv1D(width, width)
        self.c_proj = _Conv1D(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        return self.c_proj(h * torch.sigmoid(1.702 * h))  # Jukebox's quick GELU


class _Block(nn.Module):
    """``h = x + a + m`` with ``a = attn(ln_0(x))``, ``m = mlp(ln_1(x + a))``."""

    def __init__(self, arch: JukeboxArchitecture, pattern: int) -> None:
        super().__init__()
        self.attn = _Attention(arch, pattern)
        self.ln_0 = _LayerNorm(arch.width)
        self.mlp = _MLP(arch.width)
        self.ln_1 = _LayerNorm(arch.width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.attn(self.ln_0(x))
        return x + a + self.mlp(self.ln_1(x + a))


class _Transformer(nn.Module):
    def __init__(self, arch: JukeboxArchitecture, layers: int) -> None:
        super().__init__()
        # Jukebox's attn_order 2 cycles within-block, across-block and previous-block attention.
        self._attn_mods = nn.ModuleList(_Block(arch, (1, 2, 3)[d % 3]) for d in range(layers))


class _PositionEmbedding(nn.Module):
    def __init__(self, n_ctx: int, width: int) -> None:
        super().__init__()
        self.pos_emb = nn.Parameter(torch.empty(n_ctx, width))


class _PriorCore(nn.Module):
    def __init__(self, arch: JukeboxArchitecture, layers: int) -> None:
        super().__init__()
        self.x_emb = nn.Embedding(arch.codebook_size, arch.width)
        self.pos_emb = _PositionEmbedding(arch.n_ctx, arch.width)
        self.transformer = _Transformer(arch, layers)


class _LabelTable(nn.Module):
    def __init__(self, bins: int, width: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(bins, width)


class _LabelEmbeddings(nn.Module):
    def __init__(self, arch: JukeboxArchitecture) -> None:
        super().__init__()
        self.bow_genre_emb = _LabelTable(arch.genre_bins, arch.width)
        self.artist_emb = _LabelTable(arch.artist_bins, arch.width)
        self.total_length_emb = _LabelTable(arch.time_bins, arch.width)
        self.absolute_pos_emb = _LabelTable(arch.time_bins, arch.width)
        self.relative_pos_emb = _LabelTable(arch.time_bins, arch.width)


def _range_bins(
    start: torch.Tensor, end: torch.Tensor | None, n_time: int, span: tuple[float, float], bins: int
) -> torch.Tensor:
    """Jukebox's ``RangeEmbedding`` bin indices ``[n_time]``: ``n_time`` points from ``start`` towards
    ``end`` (fp32, as the original computes them), binned into ``bins`` equal parts of ``span``."""
    if n_time == 1:
        position = start.view(1)
    else:
        assert end is not None
        step = torch.arange(0, n_time, dtype=torch.float32, device=start.device) / n_time
        position = start + (end - start) * step
    low, high = span
    return (bins * ((position - low) / (high - low))).floor().long()


def label_bins(arch: JukeboxArchitecture) -> tuple[int, torch.Tensor, torch.Tensor]:
    """Timing-embedding bins of jukemirlib's conditioning: a ``CONDITIONING_SONG_SECONDS`` song read from
    offset 0 for ``n_ctx`` tokens → (total-length bin, absolute-position bins ``[n_ctx]``,
    relative-position bins ``[n_ctx]``)."""
    hop = arch.hop_length
    total = float((int(CONDITIONING_SONG_SECONDS * arch.sr) // hop) * hop)
    # Explicitly on the CPU: the modules are built under a meta-device context. The span read is the
    # prior's sample length, n_ctx tokens.
    total_t = torch.tensor(total, dtype=torch.float32, device="cpu")
    start = torch.tensor(0.0, dtype=torch.float32, device="cpu")
    end = torch.tensor(float(arch.n_ctx * hop), dtype=torch.float32, device="cpu")
    total_bin = _range_bins(
        total_t, None, 1, (arch.min_duration * arch.sr, arch.max_duration * arch.sr), arch.time_bins
    )
    absolute = _range_bins(start, end, arch.n_ctx, (0.0, arch.max_duration * arch.sr), arch.time_bins)
    # The relative end is clamped to the song, as Jukebox's RangeEmbedding(clamp=True) does.
    relative = _range_bins(
        start / total_t, (end / total_t).clamp(0.0, 1.0), arch.n_ctx, (0.0, 1.0), arch.time_bins
    )
    return int(total_bin[0]), absolute, relative


class TopPrior(nn.Module):
    """The prior's embeddings and first ``layers`` blocks; ``forward(z [B, D]) → [B, D, width]``."""

    def __init__(self, arch: JukeboxArchitecture, layers: int) -> None:
        super().__init__()
        self.prior = _PriorCore(arch, layers)
        self.y_emb = _LabelEmbeddings(arch)
        total_bin, absolute, relative = label_bins(arch)
        self.total_bin = total_bin
        self.register_buffer("absolute_bins", absolute, persistent=False)
        self.register_buffer("relative_bins", relative, persistent=False)

    def forward(self, z: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """Activations ``[B, D, width]`` in ``dtype`` after the blocks, for tokens ``z [B, D]``,
        ``D ≤ n_ctx``; the input sum is formed in fp32 and cast to ``dtype`` (Jukebox's fp16 path)."""
        length = z.shape[1]
        labels = self.y_emb
        # Start token: artist "unknown" (id 0) + genre bag-of-words ["unknown"] (id 0; empty slots masked).
        start = labels.bow_genre_emb.emb.weight[0] + labels.artist_emb.emb.weight[0]
        timing = (
            labels.total_length_emb.emb.weight[self.total_bin]
            + labels.absolute_pos_emb.emb.weight[self.absolute_bins[:length]]
        ) + labels.relative_pos_emb.emb.weight[self.relative_bins[:length]]
        tokens = self.prior.x_emb(z)
        shifted = torch.cat([start.view(1, 1, -1).expand(z.shape[0], 1, -1), tokens[:, :-1]], dim=1)
        x = ((shifted + self.prior.pos_emb.pos_emb[:length]) + timing).to(dtype)
        for block in self.prior.transformer._attn_mods:
            x = block(x)
        return x


class _ResBlock(nn.Module):
    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.ReLU(),
            nn.Conv1d(width, width, 3, 1, dilation, dilation),
            nn.ReLU(),
            nn.Conv1d(width, width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.model(x)


class _DilatedStack(nn.Module):
    def __init__(self, width: int, depth: int, growth: int) -> None:
        super().__init__()
        self.model = nn.Sequential(*(_ResBlock(width, growth**j) for j in range(depth)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _EncoderStage(nn.Module):
    def __init__(
        self, arch: JukeboxArchitecture, channels_in: int, down: int, width: int, depth: int
    ) -> None:
        super().__init__()
        stride = arch.vqvae_stride
        layers: list[nn.Module] = [
            nn.Sequential(
                nn.Conv1d(width if i else channels_in, width, 2 * stride, stride, stride // 2),
                _DilatedStack(width, depth, arch.vqvae_dilation_growth),
            )
            for i in range(down)
        ]
        layers.append(nn.Conv1d(width, arch.vqvae_emb_width, 3, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, n]`` → ``[B, emb_width, n / stride^down]`` (rounded down at each stride)."""
        return self.model(x)


class _Encoder(nn.Module):
    def __init__(self, arch: JukeboxArchitecture) -> None:
        super().__init__()
        width = arch.vqvae_width * arch.vqvae_multipliers[arch.top]
        depth = arch.vqvae_depth * arch.vqvae_multipliers[arch.top]
        self.level_blocks = nn.ModuleList(
            _EncoderStage(arch, 1 if stage == 0 else arch.vqvae_emb_width, down, width, depth)
            for stage, down in enumerate(arch.vqvae_downs)
        )


class _Codebook(nn.Module):
    def __init__(self, arch: JukeboxArchitecture) -> None:
        super().__init__()
        self.register_buffer("k", torch.empty(arch.codebook_size, arch.vqvae_emb_width))


class _Codebooks(nn.Module):
    def __init__(self, arch: JukeboxArchitecture) -> None:
        super().__init__()
        self.level_blocks = nn.ModuleDict({str(arch.top): _Codebook(arch)})


class TopEncoder(nn.Module):
    """The VQ-VAE's top-level encoder and codebook; ``forward(audio [B, n]) → z [B, D]`` (fp32)."""

    def __init__(self, arch: JukeboxArchitecture) -> None:
        super().__init__()
        self.top = str(arch.top)
        self.encoders = nn.ModuleDict({self.top: _Encoder(arch)})
        self.bottleneck = _Codebooks(arch)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = audio[:, None, :]
        for stage in self.encoders[self.top].level_blocks:
            x = stage(x)
        batch, channels, length = x.shape
        flat = x.permute(0, 2, 1).reshape(-1, channels)
        codes = self.bottleneck.level_blocks[self.top].k.t()
        distance = (
            torch.sum(flat**2, dim=-1, keepdim=True)
            - 2 * torch.matmul(flat, codes)
            + torch.sum(codes**2, dim=0, keepdim=True)
        )
        return distance.argmin(dim=-1).view(batch, length)


__all__ = [
    "CONDITIONING_SONG_SECONDS",
    "JUKEBOX_5B",
    "JukeboxArchitecture",
    "TensorSpecs",
    "TopEncoder",
    "TopPrior",
    "in_compute_dtype",
    "label_bins",
    "prior_tensors",
    "vqvae_tensors",
]
