"""DiffuseStyleGesture denoiser: style- and seed-conditioned speech-to-gesture (Yang et al., IJCAI 2023).

Architecture and numerics follow ``MDM`` in mode ``cross_local_attention3_style1`` of
YoungSeng/DiffuseStyleGesture (``main/model/mdm.py``), so the released ``model000450000.pt`` loads through
:func:`a2a.checkpoint.dsg_names.dsg_state_dict_to_a2a`. Module names differ from the original; the mapping
lives in that module. The layout here is a2a's ``[B, T, D]`` (the original's is ``[B, D, 1, T]``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from a2a.diffusion.conditions import KeepMask, keep_mask
from a2a.errors import A2AError
from a2a.models.layers import sinusoidal_position_table
from a2a.models.local_attention import LocalSelfAttention, rotate_groups

AUDIO = "audio"
STYLE = "style"
SEED = "seed"
# Rows of the timestep table (the original's PositionalEncoding max_len): timesteps must stay below it.
TIMESTEP_TABLE_LEN = 5000
LOOK_BACK_WINDOWS = 1


class TimestepMLP(nn.Module):
    """``t`` [B] → [B, D]: sinusoidal table row ``t`` → Linear(D, D) → SiLU → Linear(D, D).

    The table (sin on even, cos on odd channels; MDM's ``PositionalEncoding.pe``) is a non-persistent
    buffer built in float32 exactly as the original builds it, so ``.double()`` gives the original's
    float64 values too.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("table", sinusoidal_position_table(TIMESTEP_TABLE_LEN, dim), persistent=False)
        self.linear_in = nn.Linear(dim, dim)
        self.activation = nn.SiLU()
        self.linear_out = nn.Linear(dim, dim)

    def forward(self, timesteps: Tensor) -> Tensor:
        return self.linear_out(self.activation(self.linear_in(self.table[timesteps.long()])))


class DSGDenoiser(nn.Module):
    """x0-predicting denoiser of DiffuseStyleGesture; consumes ``audio``, ``style`` and ``seed``.

    Data flow for ``x`` [B, T, nfeats] (``T`` a multiple of ``local_window``):

    1. Global token [B, latent_dim] = concat(``style_embedding``(style) [style_latent],
       ``seed_embedding``(seed frames flattened channel-major, as the original's ``[B, D, 1, S]``
       reshaped) [latent_dim − style_latent]) + ``time_mlp``(t).
    2. Per frame: concat(global token, ``motion_projection``(x) [latent_dim], ``audio_projection``(audio)
       [audio_latent]) → ``fusion`` → [B, T, latent_dim].
    3. Split-half rotary on ``groups`` channel groups (positions ``0..T-1``), then parameter-free causal
       local attention (window ``local_window``, one window of look-back; see
       :mod:`a2a.models.local_attention`).
    4. Prepend the global token, rotary again (positions ``0..T``), ``encoder``: ``num_layers`` post-LN
       ``nn.TransformerEncoderLayer`` s (GELU, no final norm), drop the token, ``output_projection``.

    Null conditions (the original's ``mask_cond``): a dropped ``style`` zeroes the style embedding's
    output; a dropped ``seed`` zeroes the flattened seed *input* (its embedding is then the bias).

    Args:
        nfeats: motion channels D (ZEGGS: 1141).
        latent_dim: model width (256).
        num_layers, num_heads, ff_size: the transformer encoder (8, 4, 1024).
        audio_dim: per-frame audio feature width (WavLM-Large: 1024); ``audio_latent``: its projection (64).
        style_dim: style vector width (6 ZEGGS styles); ``style_latent``: its share of the token (64).
        n_seed: seed frames (8).
        local_window: local-attention window (11); must divide ``seq_len``.
        groups: rotary/local-attention channel groups (8; the original hard-codes 8).
        dropout: transformer and local-attention dropout (0.1).
        seq_len: the training window in frames (88); every input length must be a multiple of
            ``local_window``.
    """

    conditions = (AUDIO, STYLE, SEED)
    droppable = (STYLE, SEED)

    def __init__(
        self,
        nfeats: int = 1141,
        latent_dim: int = 256,
        num_layers: int = 8,
        num_heads: int = 4,
        ff_size: int = 1024,
        audio_dim: int = 1024,
        audio_latent: int = 64,
        style_dim: int = 6,
        style_latent: int = 64,
        n_seed: int = 8,
        local_window: int = 11,
        groups: int = 8,
        dropout: float = 0.1,
        seq_len: int = 88,
        style_key: str = STYLE,
    ) -> None:
        super().__init__()
        # the categorical condition the style token reads: DSG's style, or a dance model's genre
        self.style_key = str(style_key)
        self.conditions = (AUDIO, self.style_key, SEED)
        self.droppable = (self.style_key, SEED)
        sizes = {
            "nfeats": nfeats,
            "latent_dim": latent_dim,
            "num_layers": num_layers,
            "num_heads": num_heads,
            "ff_size": ff_size,
            "audio_dim": audio_dim,
            "audio_latent": audio_latent,
            "style_dim": style_dim,
            "style_latent": style_latent,
            "n_seed": n_seed,
            "local_window": local_window,
            "groups": groups,
            "seq_len": seq_len,
        }
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise A2AError(f"model.denoiser.{name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise A2AError(f"model.denoiser.dropout must be in [0, 1), got {dropout}")
        if seq_len % local_window:
            raise A2AError(
                f"model.denoiser.local_window={local_window} does not divide "
                f"model.denoiser.seq_len={seq_len}; DSG's local attention cuts each window into whole "
                "local windows (ZEGGS: 88 = 8 × 11)"
            )
        if latent_dim % num_heads:
            raise A2AError(
                f"model.denoiser.latent_dim={latent_dim} is not divisible by "
                f"model.denoiser.num_heads={num_heads}"
            )
        if latent_dim % groups or (latent_dim // groups) % 2:
            raise A2AError(
                f"model.denoiser.latent_dim={latent_dim} must split into model.denoiser.groups={groups} "
                "groups of an even width (the rotary code turns channel pairs)"
            )
        if style_latent >= latent_dim:
            raise A2AError(
                f"model.denoiser.style_latent={style_latent} must be smaller than "
                f"model.denoiser.latent_dim={latent_dim}: the seed embedding gets the remaining channels"
            )
        if n_seed >= seq_len:
            raise A2AError(
                f"model.denoiser.n_seed={n_seed} must be smaller than model.denoiser.seq_len={seq_len}"
            )

        self.nfeats = nfeats
        self.latent_dim = latent_dim
        self.audio_dim = audio_dim
        self.style_dim = style_dim
        self.n_seed = n_seed
        self.local_window = local_window
        self.groups = groups
        self.seq_len = seq_len

        self.time_mlp = TimestepMLP(latent_dim)
        self.style_embedding = nn.Linear(style_dim, style_latent)
        self.seed_embedding = nn.Linear(nfeats * n_seed, latent_dim - style_latent)
        self.motion_projection = nn.Linear(nfeats, latent_dim)
        self.audio_projection = nn.Linear(audio_dim, audio_latent)
        self.fusion = nn.Linear(2 * latent_dim + audio_latent, latent_dim)
        self.local_attention = LocalSelfAttention(local_window, groups, LOOK_BACK_WINDOWS, dropout)
        layer = nn.TransformerEncoderLayer(
            latent_dim, num_heads, ff_size, dropout, activation="gelu", batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.output_projection = nn.Linear(latent_dim, nfeats)

    def _conditions(self, cond: Mapping[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        if not isinstance(cond, Mapping):
            raise A2AError(
                f"DSG's denoiser needs a conditioning mapping with {', '.join(self.conditions)}; "
                f"got a {type(cond).__name__}"
            )
        missing = [key for key in self.conditions if key not in cond]
        if missing:
            raise A2AError(
                f"DSG's denoiser needs the condition(s) {', '.join(map(repr, missing))}; "
                f"got {', '.join(map(repr, cond)) or 'none'}"
            )
        return cond[AUDIO], cond[self.style_key], cond[SEED]

    def _check_inputs(self, x: Tensor, t: Tensor, audio: Tensor, style: Tensor, seed: Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.nfeats:
            raise A2AError(f"denoiser input x must be [B, T, {self.nfeats}], got {list(x.shape)}")
        batch, frames = x.shape[:2]
        if frames < 1 or frames % self.local_window:
            raise A2AError(
                f"denoiser input has {frames} frames, not a positive multiple of "
                f"model.denoiser.local_window={self.local_window} (DSG's local attention needs whole windows)"
            )
        expected = {
            AUDIO: (audio, (batch, frames, self.audio_dim), "[B, T, audio_dim]"),
            self.style_key: (style, (batch, self.style_dim), "[B, style_dim]"),
            SEED: (seed, (batch, self.n_seed, self.nfeats), "[B, n_seed, nfeats]"),
        }
        for key, (value, shape, layout) in expected.items():
            if not isinstance(value, Tensor) or tuple(value.shape) != shape:
                got = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise A2AError(f"denoiser cond[{key!r}] must be {layout} = {list(shape)}, got {got}")
        if t.shape != (batch,):
            raise A2AError(f"denoiser timesteps t must be [B] = [{batch}], got {list(t.shape)}")

    def global_token(
        self, t: Tensor, style: Tensor, seed: Tensor, keep_style: Tensor, keep_seed: Tensor
    ) -> Tensor:
        """The per-sample token ``[B, latent_dim]``: style and seed embeddings (nulled per row) + time."""
        batch = seed.shape[0]
        style_token = self.style_embedding(style)
        style_token = torch.where(keep_style[:, None], style_token, torch.zeros_like(style_token))
        # The original flattens its [B, D, 1, S] seed channel-major: entry c·S + s is channel c of frame s.
        seed_flat = seed.transpose(1, 2).reshape(batch, -1)
        seed_flat = torch.where(keep_seed[:, None], seed_flat, torch.zeros_like(seed_flat))
        return torch.cat((style_token, self.seed_embedding(seed_flat)), dim=-1) + self.time_mlp(t)

    def forward(self, x: Tensor, t: Tensor, cond: Mapping[str, Tensor], keep_cond: KeepMask = None) -> Tensor:
        """Predict the clean motion.

        Args:
            x: [B, T, nfeats] noisy normalised motion, T a multiple of ``local_window``.
            t: [B] integer diffusion timesteps (below 5000).
            cond: ``{"audio": [B, T, audio_dim], "style": [B, style_dim], "seed": [B, n_seed, nfeats]}``
                (other keys are ignored); cast to ``x``'s dtype.
            keep_cond: None (keep all), [B] bool for both ``style`` and ``seed``, or
                ``{"style": [B] bool, "seed": [B] bool}``; False rows get the null condition.

        Returns:
            [B, T, nfeats] x0 prediction.
        """
        audio, style, seed = self._conditions(cond)
        self._check_inputs(x, t, audio, style, seed)
        batch, frames = x.shape[:2]
        keep_style = keep_mask(keep_cond, self.style_key, batch, x.device)
        keep_seed = keep_mask(keep_cond, SEED, batch, x.device)
        token = self.global_token(t, style.to(x.dtype), seed.to(x.dtype), keep_style, keep_seed)

        h = torch.cat(
            (
                token[:, None].expand(-1, frames, -1),
                self.motion_projection(x),
                self.audio_projection(audio.to(x.dtype)),
            ),
            dim=-1,
        )
        h = self.local_attention(rotate_groups(self.fusion(h), self.groups))
        h = torch.cat((token[:, None].to(h.dtype), h), dim=1)
        h = self.encoder(rotate_groups(h, self.groups))[:, 1:]
        return self.output_projection(h)
