"""EDGE denoiser: a FiLM transformer decoder cross-attending to encoded music (Tseng et al., CVPR 2023).

Architecture and numerics follow Stanford-TML/EDGE ``model/model.py`` (``DanceDecoder``) exactly, so the
released ``checkpoint.pt`` loads through :func:`a2a.checkpoint.edge_names.edge_state_dict_to_a2a`.
Module names differ from the original; the mapping lives in that module.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from a2a.diffusion.conditions import KeepMask, keep_mask
from a2a.errors import A2AError
from a2a.models.layers import (
    AbsolutePositionalEncoding,
    EdgeRotaryEmbedding,
    FiLMDecoderLayer,
    PreNormEncoderLayer,
    RotaryPositions,
    TimestepEmbedding,
    check_attention_backend,
    resolve_activation,
)

NUM_TIME_TOKENS = 2
AUDIO = "audio"
# Condition-cache keys added by EdgeDenoiser.prepare_conditions (derived from "audio", never data).
ENCODED = "audio.encoded"
MEMORY = "audio.memory"


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

    Steps 2 and the music rows of step 5 (and their cross-attention keys and values) do not depend on
    ``x`` or ``t``: :meth:`prepare_conditions` computes them once per request for the samplers.
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
        self._check_audio(cond, batch)
        if t.shape != (batch,):
            raise A2AError(f"denoiser timesteps t must be [B] = [{batch}], got {list(t.shape)}")

    def global_condition(
        self, cond: Mapping[str, Tensor], keep_cond: KeepMask, batch: int, like: Tensor
    ) -> Tensor | None:
        """An extra ``[B, latent_dim]`` added to the FiLM vector, for variants with more conditions than
        music (EDGE itself has none)."""
        return None

    def _check_audio(self, cond: Tensor, batch: int) -> None:
        expected = (batch, self.seq_len, self.cond_feature_dim)
        if cond.shape != expected:
            raise A2AError(
                f"denoiser cond must be [B, T, cond_feature_dim] = {list(expected)}, "
                f"got {list(cond.shape)} (check features.dim against model.cond_feature_dim)"
            )

    @staticmethod
    def _audio(cond: Tensor | Mapping[str, Tensor]) -> Tensor:
        if isinstance(cond, Mapping):
            if AUDIO not in cond:
                raise A2AError(
                    f"EDGE's denoiser needs the {AUDIO!r} condition; got {', '.join(cond) or 'none'}"
                )
            return cond[AUDIO]
        return cond

    def _encode_music(self, audio: Tensor) -> Tensor:
        """Music tokens [B, T, D] from features [B, T, F]: projection, then the music encoder."""
        music = self.music_projection(audio)
        if self.absolute_position is not None:
            music = self.absolute_position(music)
        rotary = self.rotary.positions(audio.shape[1]) if self.rotary is not None else None
        for layer in self.music_encoder:
            music = layer(music, rotary)
        return music

    def _memory_rows(self, tokens: Tensor, rotary: RotaryPositions | None) -> Iterator[tuple[Tensor, Tensor]]:
        """Per decoder layer, its cross-attention keys and values of memory ``tokens`` [B, S, D] (normalised
        here, rotated at the positions ``rotary`` holds)."""
        values = self.memory_norm(tokens)
        keys = rotary.apply(values) if rotary is not None else values
        return (layer.project_memory(keys, values) for layer in self.decoder_layers)

    def prepare_conditions(self, cond: Tensor | Mapping[str, Tensor]) -> dict[str, Any]:
        """The request's condition cache: ``cond`` with the encoded music added.

        The music encoder and each decoder layer's cross-attention keys and values of the music tokens
        do not depend on the noisy motion or the timestep, so a sampler computes them once per request
        (:func:`a2a.diffusion.prepare_conditions`) instead of at every step, and only for the rows it
        is given (guidance's null rows use the null embedding, which needs no encoding).

        Returns a mapping with ``audio`` [B, T, F], ``audio.encoded`` [B, T, D] (the encoder's output)
        and ``audio.memory``: 2·num_layers tensors [B, T, D], the keys and values of each decoder layer.
        :meth:`forward` given it equals :meth:`forward` given ``cond`` (to float rounding) for any
        ``keep_cond``; its rows repeat and concatenate like any condition's.
        """
        audio = self._audio(cond)
        self._check_audio(audio, len(audio) if audio.ndim else 0)
        music = self._encode_music(audio)
        rotary = self.rotary.positions(self.seq_len) if self.rotary is not None else None
        memory = [tensor for pair in self._memory_rows(music, rotary) for tensor in pair]
        base = dict(cond) if isinstance(cond, Mapping) else {}
        return {**base, AUDIO: audio, ENCODED: music, MEMORY: memory}

    def _cached(self, cond: Mapping[str, Any], batch: int) -> tuple[Tensor, list[Tensor]]:
        music, memory = cond[ENCODED], cond.get(MEMORY)
        shape = (batch, self.seq_len, self.latent_dim)
        count = 2 * len(self.decoder_layers)
        if (
            not isinstance(music, Tensor)
            or music.shape != shape
            or not isinstance(memory, list | tuple)
            or len(memory) != count
            or any(not isinstance(m, Tensor) or m.shape != shape for m in memory)
        ):
            raise A2AError(
                f"cond[{ENCODED!r}] and cond[{MEMORY!r}] must come from EdgeDenoiser.prepare_conditions "
                f"of this model ({count} memory tensors {list(shape)})"
            )
        return music, list(memory)

    def forward(
        self, x: Tensor, t: Tensor, cond: Tensor | Mapping[str, Any], keep_cond: KeepMask = None
    ) -> Tensor:
        """Predict the clean motion.

        Args:
            x: [B, seq_len, nfeats] noisy (normalised) motion.
            t: [B] diffusion timesteps (integers; reals are accepted).
            cond: ``{"audio": [B, seq_len, cond_feature_dim]}`` music features (the batch's conditions;
                other keys are ignored), or that tensor itself, or :meth:`prepare_conditions` of it.
            keep_cond: [B] bool or ``{"audio": [B] bool}``; False rows use the learned null condition.
                None keeps every row.

        Returns:
            [B, seq_len, nfeats] x0 prediction.
        """
        audio = self._audio(cond)
        # Even with everything kept the null embeddings take part in the graph (as in EDGE); DDP without
        # find_unused_parameters relies on that.
        keep = keep_mask(keep_cond, AUDIO, x.shape[0], x.device)
        self._check_inputs(x, t, audio)
        frames = x.shape[1]
        cached = self._cached(cond, x.shape[0]) if isinstance(cond, Mapping) and ENCODED in cond else None

        h = self.motion_projection(x)
        if self.absolute_position is not None:
            h = self.absolute_position(h)
        music = self._encode_music(audio) if cached is None else cached[0]
        music = torch.where(keep[:, None, None], music, self.null_cond_embed.to(music.dtype))

        music_hidden = self.music_pool_projection(music.mean(dim=-2))
        time_hidden = self.time_mlp(t)
        film_cond = self.to_time_film(time_hidden)
        time_tokens = self.to_time_tokens(time_hidden).unflatten(-1, (NUM_TIME_TOKENS, self.latent_dim))
        null_hidden = self.null_cond_hidden.to(film_cond.dtype)
        film_cond = film_cond + torch.where(keep[:, None], music_hidden, null_hidden)
        cond_mapping = cond if isinstance(cond, Mapping) else {AUDIO: cond}
        extra = self.global_condition(cond_mapping, keep_cond, x.shape[0], film_cond)
        if extra is not None:
            film_cond = film_cond + extra

        if self.rotary is not None:
            memory_rotary = self.rotary.positions(frames + NUM_TIME_TOKENS)
            rotary = memory_rotary.rows(0, frames)
        else:
            memory_rotary = rotary = None
        if cached is None:
            layer_memory = self._memory_rows(torch.cat((music, time_tokens), dim=-2), memory_rotary)
        else:
            layer_memory = self._cached_layer_memory(cached[1], keep, time_tokens, memory_rotary)
        for layer, memory in zip(self.decoder_layers, layer_memory, strict=True):
            h = layer(h, memory, film_cond, rotary)
        return self.output_projection(h)

    def _cached_layer_memory(
        self, memory: list[Tensor], keep: Tensor, time_tokens: Tensor, rotary: RotaryPositions | None
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """Each decoder layer's keys and values [B, T + 2, D]: the cached music rows (the null embedding's
        where ``keep`` is False), then this step's time tokens."""
        frames = self.seq_len
        null_rows = self._memory_rows(
            self.null_cond_embed.to(time_tokens.dtype), rotary.rows(0, frames) if rotary is not None else None
        )
        time_rows = self._memory_rows(
            time_tokens, rotary.rows(frames, frames + NUM_TIME_TOKENS) if rotary is not None else None
        )
        kept = keep[:, None, None]
        for i, ((null_k, null_v), (time_k, time_v)) in enumerate(zip(null_rows, time_rows, strict=True)):
            keys = torch.cat((torch.where(kept, memory[2 * i], null_k), time_k), dim=-2)
            values = torch.cat((torch.where(kept, memory[2 * i + 1], null_v), time_v), dim=-2)
            yield keys, values
