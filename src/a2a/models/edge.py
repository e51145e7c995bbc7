"""EDGE denoiser: a FiLM transformer decoder cross-attending to encoded music (Tseng et al., CVPR 2023).

Architecture and numerics follow Stanford-TML/EDGE ``model/model.py`` (``DanceDecoder``) exactly, so the
released ``checkpoint.pt`` loads through :func:`a2a.checkpoint.edge_names.edge_state_dict_to_a2a`.
Module names differ from the original; the mapping lives in that module.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from a2a.diffusion.conditions import KeepMask, keep_mask
from a2a.errors import A2AError
from a2a.models.layers import (
    AbsolutePositionalEncoding,
    EdgeRotaryEmbedding,
    FiLMDecoderLayer,
    PreNormEncoderLayer,
    TimestepEmbedding,
    check_attention_backend,
    resolve_activation,
)

NUM_TIME_TOKENS = 2
AUDIO = "audio"


class EdgeDenoiser(nn.Module):
    """x0-predicting denoiser of EDGE: consumes the ``audio`` condition and can drop it (CFG).

    Data flow for ``x`` [B, T, nfeats], ``t`` [B], ``cond`` [B, T, cond_feature_dim]:

    1. ``motion_projection``: x -> [B, T, D].
    2. Music: ``music_projection`` -> ``music_encoder`` (``music_layers`` pre-norm encoder layers) ->
       tokens [B, T, D]; rows with ``keep_cond`` False are replaced by ``null_cond_embed`` [1, seq_len, D].
    3. ``music_pool_projection`` of the time-mean of the tokens -> [B, D]; dropped rows get
       ``null_cond_hidden`` [1, D].
    4. ``time_mlp`` (sinusoid -> Linear(D, 4D) -> Mish) -> ``to_time_film`` [B, D] (+ pooled music = the
       FiLM vector) and ``to_time_tokens`` -> 2 tokens [B, 2, D].
    5. Memory = ``memory_norm``(concat(music tokens, time tokens)) [B, T + 2, D].
    6. ``decoder_layers`` (FiLM decoder layers) -> ``output_projection`` -> [B, T, nfeats].

    With ``use_rotary`` the shared rotary embedding rotates the full-width attention inputs (queries and
    keys, not values) at positions ``0..L-1`` of each sequence, the memory included (time tokens at
    positions ``T`` and ``T + 1``), as the original does.

    The null embedding has a fixed length, so every input must have exactly ``seq_len`` frames (EDGE has
    the same restriction); longer audio is handled by the sampler, window by window.
    """

    conditions = (AUDIO,)
    droppable = (AUDIO,)

    def __init__(
        self,
        nfeats: int = 151,
        seq_len: int = 150,
        latent_dim: int = 512,
        ff_size: int = 1024,
        num_layers: int = 8,
        num_heads: int = 8,
        dropout: float = 0.1,
        cond_feature_dim: int = 35,
        music_layers: int = 2,
        activation: str = "gelu",
        use_rotary: bool = True,
        attention_backend: str = "sdpa",
    ) -> None:
        super().__init__()
        for name, value in (
            ("nfeats", nfeats),
            ("seq_len", seq_len),
            ("latent_dim", latent_dim),
            ("ff_size", ff_size),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("cond_feature_dim", cond_feature_dim),
        ):
            if value < 1:
                raise A2AError(f"model.{name} must be positive, got {value}")
        if music_layers < 0:
            raise A2AError(f"model.music_layers must be >= 0, got {music_layers}")
        if latent_dim % num_heads:
            raise A2AError(f"model.latent_dim={latent_dim} is not divisible by model.num_heads={num_heads}")
        if latent_dim % 2:
            raise A2AError(f"model.latent_dim must be even, got {latent_dim}")
        if not 0.0 <= dropout < 1.0:
            raise A2AError(f"model.dropout must be in [0, 1), got {dropout}")
        resolve_activation(activation)
        check_attention_backend(attention_backend)

        self.nfeats = nfeats
        self.seq_len = seq_len
        self.latent_dim = latent_dim
        self.cond_feature_dim = cond_feature_dim
        self.use_rotary = use_rotary

        self.null_cond_embed = nn.Parameter(torch.randn(1, seq_len, latent_dim))
        self.null_cond_hidden = nn.Parameter(torch.randn(1, latent_dim))

        self.rotary = EdgeRotaryEmbedding(latent_dim) if use_rotary else None
        self.absolute_position = None if use_rotary else AbsolutePositionalEncoding(latent_dim, dropout)

        self.time_mlp = TimestepEmbedding(latent_dim)
        self.to_time_film = nn.Linear(latent_dim * 4, latent_dim)
        self.to_time_tokens = nn.Linear(latent_dim * 4, latent_dim * NUM_TIME_TOKENS)
        self.memory_norm = nn.LayerNorm(latent_dim)

        self.motion_projection = nn.Linear(nfeats, latent_dim)
        layer_kwargs = {
            "dim": latent_dim,
            "num_heads": num_heads,
            "ff_size": ff_size,
            "dropout": dropout,
            "activation": activation,
            "attention_backend": attention_backend,
        }
        self.music_encoder = nn.ModuleList(PreNormEncoderLayer(**layer_kwargs) for _ in range(music_layers))
        self.music_projection = nn.Linear(cond_feature_dim, latent_dim)
        self.music_pool_projection = nn.Sequential(
            OrderedDict(
                norm=nn.LayerNorm(latent_dim),
                linear_in=nn.Linear(latent_dim, latent_dim),
                activation=nn.SiLU(),
                linear_out=nn.Linear(latent_dim, latent_dim),
            )
        )
        self.decoder_layers = nn.ModuleList(FiLMDecoderLayer(**layer_kwargs) for _ in range(num_layers))
        self.output_projection = nn.Linear(latent_dim, nfeats)

    @property
    def attention_backend(self) -> str:
        """``"sdpa"`` or ``"manual"`` (see :func:`a2a.models.layers.multihead_attention`).

        All backends use the same weights; switching is safe at any time.
        """
        layers = [*self.music_encoder, *self.decoder_layers]
        return layers[0].attention_backend if layers else "sdpa"

    @attention_backend.setter
    def attention_backend(self, backend: str) -> None:
        check_attention_backend(backend)
        for layer in [*self.music_encoder, *self.decoder_layers]:
            layer.attention_backend = backend

    def _check_inputs(self, x: Tensor, t: Tensor, cond: Tensor) -> None:
        if x.ndim != 3 or x.shape[-1] != self.nfeats:
            raise A2AError(f"denoiser input x must be [B, T, {self.nfeats}], got {list(x.shape)}")
        batch, frames = x.shape[:2]
        if frames != self.seq_len:
            raise A2AError(
                f"denoiser input has {frames} frames but the model's window is seq_len={self.seq_len}; "
                "EDGE's learned null condition has a fixed length, so every window must have exactly "
                "seq_len frames (pad or slice the sequence into windows)"
            )
        if cond.shape != (batch, frames, self.cond_feature_dim):
            raise A2AError(
                f"denoiser cond must be [B, T, cond_feature_dim] = {[batch, frames, self.cond_feature_dim]}, "
                f"got {list(cond.shape)} (check features.dim against model.cond_feature_dim)"
            )
        if t.shape != (batch,):
            raise A2AError(f"denoiser timesteps t must be [B] = [{batch}], got {list(t.shape)}")

    def global_condition(
        self, cond: Mapping[str, Tensor], keep_cond: KeepMask, batch: int, like: Tensor
    ) -> Tensor | None:
        """An extra ``[B, latent_dim]`` added to the FiLM vector, for variants with more conditions than
        music (EDGE itself has none)."""
        return None

    def forward(
        self, x: Tensor, t: Tensor, cond: Tensor | Mapping[str, Tensor], keep_cond: KeepMask = None
    ) -> Tensor:
        """Predict the clean motion.

        Args:
            x: [B, seq_len, nfeats] noisy (normalised) motion.
            t: [B] diffusion timesteps (integers; reals are accepted).
            cond: ``{"audio": [B, seq_len, cond_feature_dim]}`` music features (the batch's conditions;
                other keys are ignored), or that tensor itself.
            keep_cond: [B] bool or ``{"audio": [B] bool}``; False rows use the learned null condition.
                None keeps every row.

        Returns:
            [B, seq_len, nfeats] x0 prediction.
        """
        cond_mapping = cond if isinstance(cond, Mapping) else {AUDIO: cond}
        if isinstance(cond, Mapping):
            if AUDIO not in cond:
                raise A2AError(
                    f"EDGE's denoiser needs the {AUDIO!r} condition; got {', '.join(cond) or 'none'}"
                )
            cond = cond[AUDIO]
        # Even with everything kept the null embeddings take part in the graph (as in EDGE); DDP without
        # find_unused_parameters relies on that.
        keep = keep_mask(keep_cond, AUDIO, x.shape[0], x.device)
        self._check_inputs(x, t, cond)
        frames = x.shape[1]

        h = self.motion_projection(x)
        music = self.music_projection(cond)
        if self.absolute_position is not None:
            h = self.absolute_position(h)
            music = self.absolute_position(music)
        rotary = self.rotary.positions(frames) if self.rotary is not None else None
        for layer in self.music_encoder:
            music = layer(music, rotary)
        music = torch.where(keep[:, None, None], music, self.null_cond_embed.to(music.dtype))

        music_hidden = self.music_pool_projection(music.mean(dim=-2))
        time_hidden = self.time_mlp(t)
        film_cond = self.to_time_film(time_hidden)
        time_tokens = self.to_time_tokens(time_hidden).unflatten(-1, (NUM_TIME_TOKENS, self.latent_dim))
        null_hidden = self.null_cond_hidden.to(film_cond.dtype)
        film_cond = film_cond + torch.where(keep[:, None], music_hidden, null_hidden)
        extra = self.global_condition(cond_mapping, keep_cond, x.shape[0], film_cond)
        if extra is not None:
            film_cond = film_cond + extra

        memory = self.memory_norm(torch.cat((music, time_tokens), dim=-2))
        # The rotated memory is identical for every decoder layer, so rotate it once.
        memory_keys = self.rotary.rotate(memory) if self.rotary is not None else memory
        for layer in self.decoder_layers:
            h = layer(h, memory_keys, memory, film_cond, rotary)
        return self.output_projection(h)
