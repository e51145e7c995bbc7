"""Key mapping between the original EDGE ``DanceDecoder`` state dict and :class:`EdgeDenoiser`'s.

The original (Stanford-TML/EDGE ``model/model.py``) names -> a2a names, ``i`` a layer index:

- ``null_cond_embed`` [1, seq_len, D], ``null_cond_hidden`` [1, D], ``rotary.freqs`` [D/2]: unchanged.
- ``cond_encoder.{i}.rotary.freqs``, ``seqTransDecoder.stack.{i}.rotary.freqs``: dropped (copies of the
  one shared buffer; checked equal). ``abs_pos_encoding.pe`` [500, 1, D] (rotary off): dropped (checked).
- ``time_mlp.1`` -> ``time_mlp.linear``; ``to_time_cond.0`` -> ``to_time_film``;
  ``to_time_tokens.0`` -> ``to_time_tokens``; ``norm_cond`` -> ``memory_norm``.
- ``input_projection`` -> ``motion_projection``; ``cond_projection`` -> ``music_projection``;
  ``final_layer`` -> ``output_projection``.
- ``non_attn_cond_projection.{0,1,3}`` -> ``music_pool_projection.{norm,linear_in,linear_out}``.
- ``cond_encoder.{i}.{self_attn,linear1,linear2,norm1,norm2}`` ->
  ``music_encoder.{i}.{self_attn,ff_in,ff_out,self_attn_norm,ff_norm}``.
- ``seqTransDecoder.stack.{i}.{self_attn,multihead_attn,linear1,linear2,norm1,norm2,norm3}`` ->
  ``decoder_layers.{i}.{self_attn,cross_attn,ff_in,ff_out,self_attn_norm,cross_attn_norm,ff_norm}``.
- ``seqTransDecoder.stack.{i}.film{1,2,3}.block.1`` ->
  ``decoder_layers.{i}.{self_attn_film,cross_attn_film,ff_film}.linear``.

Attention parameters keep PyTorch's ``nn.MultiheadAttention`` names (``in_proj_weight`` [3D, D],
``in_proj_bias``, ``out_proj.weight``, ``out_proj.bias``). Checkpoints saved from a multi-process run
may carry a ``module.`` prefix on every key (EDGE's ``maybe_wrap``); it is removed on import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from a2a.errors import CheckpointError
from a2a.models.layers import sinusoidal_position_table

DDP_PREFIX = "module."
ROTARY_FREQS = "rotary.freqs"
EDGE_ABS_POS_TABLE = "abs_pos_encoding.pe"
EDGE_ABS_POS_MAX_LEN = 500

# (EDGE name, a2a name); a trailing "." marks a module prefix, otherwise the whole key.
_TOP_LEVEL: tuple[tuple[str, str], ...] = (
    ("null_cond_embed", "null_cond_embed"),
    ("null_cond_hidden", "null_cond_hidden"),
    (ROTARY_FREQS, ROTARY_FREQS),
    ("time_mlp.1.", "time_mlp.linear."),
    ("to_time_cond.0.", "to_time_film."),
    ("to_time_tokens.0.", "to_time_tokens."),
    ("norm_cond.", "memory_norm."),
    ("input_projection.", "motion_projection."),
    ("cond_projection.", "music_projection."),
    ("non_attn_cond_projection.0.", "music_pool_projection.norm."),
    ("non_attn_cond_projection.1.", "music_pool_projection.linear_in."),
    ("non_attn_cond_projection.3.", "music_pool_projection.linear_out."),
    ("final_layer.", "output_projection."),
)
_ENCODER_LAYER: tuple[tuple[str, str], ...] = (
    ("self_attn.", "self_attn."),
    ("linear1.", "ff_in."),
    ("linear2.", "ff_out."),
    ("norm1.", "self_attn_norm."),
    ("norm2.", "ff_norm."),
)
_DECODER_LAYER: tuple[tuple[str, str], ...] = (
    ("self_attn.", "self_attn."),
    ("multihead_attn.", "cross_attn."),
    ("linear1.", "ff_in."),
    ("linear2.", "ff_out."),
    ("norm1.", "self_attn_norm."),
    ("norm2.", "cross_attn_norm."),
    ("norm3.", "ff_norm."),
    ("film1.block.1.", "self_attn_film.linear."),
    ("film2.block.1.", "cross_attn_film.linear."),
    ("film3.block.1.", "ff_film.linear."),
)
# (EDGE stack prefix, a2a stack prefix, per-layer table)
_LAYER_STACKS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("cond_encoder.", "music_encoder.", _ENCODER_LAYER),
    ("seqTransDecoder.stack.", "decoder_layers.", _DECODER_LAYER),
)


def _rename_in_table(key: str, table: tuple[tuple[str, str], ...], to_a2a: bool) -> str | None:
    for edge_name, a2a_name in table:
        source, target = (edge_name, a2a_name) if to_a2a else (a2a_name, edge_name)
        if source.endswith("."):
            if key.startswith(source):
                return target + key[len(source) :]
        elif key == source:
            return target
    return None


def _rename(key: str, to_a2a: bool) -> str | None:
    """Translate one key, or None if it belongs to no known module."""
    for edge_stack, a2a_stack, table in _LAYER_STACKS:
        source, target = (edge_stack, a2a_stack) if to_a2a else (a2a_stack, edge_stack)
        match = re.fullmatch(re.escape(source) + r"(\d+)\.(.+)", key)
        if match:
            inner = _rename_in_table(match.group(2), table, to_a2a)
            return None if inner is None else f"{target}{match.group(1)}.{inner}"
    return _rename_in_table(key, _TOP_LEVEL, to_a2a)


def _check_is_state_dict(sd: Mapping[str, object], what: str) -> None:
    if "ema_state_dict" in sd or "model_state_dict" in sd:
        raise CheckpointError(
            f"{what}: got a whole EDGE checkpoint (keys {sorted(sd)[:6]}); pass checkpoint['ema_state_dict'] "
            "(the weights EDGE samples with) or checkpoint['model_state_dict']"
        )
    for key, value in sd.items():
        if not isinstance(value, Tensor):
            raise CheckpointError(f"{what}: entry {key!r} is a {type(value).__name__}, not a tensor")


def _unknown_keys_error(what: str, unknown: list[str]) -> CheckpointError:
    shown = ", ".join(repr(k) for k in unknown[:8])
    more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
    return CheckpointError(f"{what}: {len(unknown)} keys match no EDGE denoiser module: {shown}{more}")


def _is_layer_rotary_copy(key: str) -> bool:
    return any(
        re.fullmatch(re.escape(edge_stack) + r"\d+\." + re.escape(ROTARY_FREQS), key)
        for edge_stack, _, _ in _LAYER_STACKS
    )


def edge_state_dict_to_a2a(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename an original EDGE ``DanceDecoder`` state dict for :class:`EdgeDenoiser`.

    Strips a ``module.`` prefix, checks that every per-layer copy of the shared ``rotary.freqs`` buffer
    equals the top-level one (and that ``abs_pos_encoding.pe``, when present, is the standard table)
    before dropping them, and raises :class:`CheckpointError` on keys of no known module.
    """
    what = "EDGE state dict"
    _check_is_state_dict(sd, what)
    stripped = {k[len(DDP_PREFIX) :] if k.startswith(DDP_PREFIX) else k: v for k, v in sd.items()}

    shared_freqs = stripped.get(ROTARY_FREQS)
    out: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in stripped.items():
        if _is_layer_rotary_copy(key):
            if shared_freqs is None:
                raise CheckpointError(f"{what}: {key!r} present but the shared {ROTARY_FREQS!r} is missing")
            if not torch.equal(value, shared_freqs):
                raise CheckpointError(f"{what}: {key!r} differs from the shared {ROTARY_FREQS!r}")
            continue
        if key == EDGE_ABS_POS_TABLE:
            _check_abs_pos_table(value)
            continue
        new_key = _rename(key, to_a2a=True)
        if new_key is None:
            unknown.append(key)
        else:
            out[new_key] = value
    if unknown:
        raise _unknown_keys_error(what, unknown)
    return out


def _check_abs_pos_table(table: Tensor) -> None:
    if table.ndim != 3 or table.shape[1] != 1:
        raise CheckpointError(
            f"EDGE state dict: {EDGE_ABS_POS_TABLE!r} has shape {list(table.shape)}, not [L, 1, D]"
        )
    expected = sinusoidal_position_table(table.shape[0], table.shape[2])
    if not torch.allclose(table[:, 0].float().cpu(), expected, atol=1e-5):
        raise CheckpointError(f"EDGE state dict: {EDGE_ABS_POS_TABLE!r} is not the standard sinusoidal table")


def a2a_state_dict_to_edge(sd: Mapping[str, Tensor], ddp_prefix: bool = False) -> dict[str, Tensor]:
    """Rename an :class:`EdgeDenoiser` state dict to the original EDGE ``DanceDecoder`` names.

    Re-creates what the original stores redundantly: one ``rotary.freqs`` copy per encoder/decoder layer
    (the same tensor), or ``abs_pos_encoding.pe`` [500, 1, D] when rotary is off. ``ddp_prefix`` adds
    ``module.`` to every key, as EDGE expects when loading into a multi-process run.
    """
    what = "a2a EdgeDenoiser state dict"
    _check_is_state_dict(sd, what)
    out: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in sd.items():
        new_key = _rename(key, to_a2a=False)
        if new_key is None:
            unknown.append(key)
        else:
            out[new_key] = value
    if unknown:
        raise _unknown_keys_error(what, unknown)

    if ROTARY_FREQS in out:
        freqs = out[ROTARY_FREQS]
        for edge_stack, _, _ in _LAYER_STACKS:
            indices = {m.group(1) for k in out if (m := re.match(re.escape(edge_stack) + r"(\d+)\.", k))}
            for index in sorted(indices, key=int):
                out[f"{edge_stack}{index}.{ROTARY_FREQS}"] = freqs
    else:
        if "input_projection.weight" not in out:
            raise CheckpointError(f"{what}: 'motion_projection.weight' is missing")
        dim = out["input_projection.weight"].shape[0]
        out[EDGE_ABS_POS_TABLE] = sinusoidal_position_table(EDGE_ABS_POS_MAX_LEN, dim).unsqueeze(1)
    if ddp_prefix:
        out = {DDP_PREFIX + k: v for k, v in out.items()}
    return out


def edge_config_from_state_dict(sd: Mapping[str, Tensor]) -> dict[str, int | bool]:
    """Read the :class:`EdgeDenoiser` constructor sizes off an a2a-named state dict.

    Returns ``nfeats, seq_len, latent_dim, ff_size, num_layers, music_layers, cond_feature_dim,
    use_rotary``; ``num_heads``, ``dropout`` and ``activation`` leave no trace in the weights (EDGE: 8,
    0.1, "gelu").
    """
    required = (
        "null_cond_embed",
        "motion_projection.weight",
        "music_projection.weight",
        "decoder_layers.0.ff_in.weight",
    )
    missing = [k for k in required if k not in sd]
    if missing:
        raise CheckpointError(f"a2a EdgeDenoiser state dict lacks {missing}; is it an EDGE denoiser?")

    def count_layers(prefix: str) -> int:
        return len({m.group(1) for k in sd if (m := re.match(re.escape(prefix) + r"(\d+)\.", k))})

    latent_dim, nfeats = sd["motion_projection.weight"].shape
    return {
        "nfeats": int(nfeats),
        "seq_len": int(sd["null_cond_embed"].shape[1]),
        "latent_dim": int(latent_dim),
        "ff_size": int(sd["decoder_layers.0.ff_in.weight"].shape[0]),
        "num_layers": count_layers("decoder_layers."),
        "music_layers": count_layers("music_encoder."),
        "cond_feature_dim": int(sd["music_projection.weight"].shape[1]),
        "use_rotary": ROTARY_FREQS in sd,
    }
