"""Key mapping between DiffuseStyleGesture's ``MDM`` state dict and :class:`DSGDenoiser`'s.

The original (YoungSeng/DiffuseStyleGesture ``main/model/mdm.py``, mode
``cross_local_attention3_style1``) names → a2a names, ``i`` a layer index:

- ``embed_style`` → ``style_embedding``; ``embed_text`` (the seed) → ``seed_embedding``;
- ``WavEncoder.audio_feature_map`` → ``audio_projection``;
- ``input_process.poseEmbedding`` → ``motion_projection``; ``input_process2`` → ``fusion``;
- ``embed_timestep.time_embed.{0,2}`` → ``time_mlp.{linear_in,linear_out}``;
- ``seqTransEncoder.layers.{i}.*`` → ``encoder.layers.{i}.*`` (both ``nn.TransformerEncoderLayer``:
  ``self_attn.{in_proj_weight,in_proj_bias,out_proj.*}``, ``linear1``, ``linear2``, ``norm1``, ``norm2``);
- ``output_process.poseFinal`` → ``output_projection``.

Buffers the original stores and a2a recomputes: ``sequence_pos_encoder.pe`` and its copy
``embed_timestep.sequence_pos_encoder.pe`` (``[5000, 1, D]`` sinusoidal table) and ``rel_pos.inv_freq``
(``[D / groups / 2]`` rotary frequencies). On import they are checked against the standard tables and
dropped; ``rel_pos.inv_freq``'s length is how many channel groups the weights were trained with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

from a2a.errors import CheckpointError
from a2a.models.dsg import TIMESTEP_TABLE_LEN
from a2a.models.layers import sinusoidal_position_table
from a2a.models.local_attention import rotary_inverse_frequencies

PE_TABLE = "sequence_pos_encoder.pe"
TIMESTEP_PE_TABLE = "embed_timestep.sequence_pos_encoder.pe"
ROTARY_FREQS = "rel_pos.inv_freq"
DSG_BUFFERS = (PE_TABLE, TIMESTEP_PE_TABLE, ROTARY_FREQS)

# (DSG module prefix, a2a module prefix)
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("embed_style.", "style_embedding."),
    ("embed_text.", "seed_embedding."),
    ("WavEncoder.audio_feature_map.", "audio_projection."),
    ("input_process.poseEmbedding.", "motion_projection."),
    ("input_process2.", "fusion."),
    ("embed_timestep.time_embed.0.", "time_mlp.linear_in."),
    ("embed_timestep.time_embed.2.", "time_mlp.linear_out."),
    ("seqTransEncoder.layers.", "encoder.layers."),
    ("output_process.poseFinal.", "output_projection."),
)
_LEAVES = ("weight", "bias")
_ENCODER_LEAF = re.compile(
    r"\d+\.(self_attn\.(in_proj_weight|in_proj_bias|out_proj\.(weight|bias))|(linear[12]|norm[12])\.(weight|bias))"
)


def _rename(key: str, to_a2a: bool) -> str | None:
    """Translate one parameter key, or None if it belongs to no known module."""
    for dsg_prefix, a2a_prefix in _PREFIXES:
        source, target = (dsg_prefix, a2a_prefix) if to_a2a else (a2a_prefix, dsg_prefix)
        if not key.startswith(source):
            continue
        rest = key[len(source) :]
        known = _ENCODER_LEAF.fullmatch(rest) if source.endswith("layers.") else rest in _LEAVES
        return target + rest if known else None
    return None


def _check_tensors(sd: Mapping[str, object], what: str) -> None:
    for key, value in sd.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise CheckpointError(f"{what}: entry {key!r} is a {type(value).__name__}, not a tensor")


def _unknown_keys_error(what: str, unknown: list[str]) -> CheckpointError:
    shown = ", ".join(repr(k) for k in unknown[:8])
    more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
    return CheckpointError(f"{what}: {len(unknown)} keys match no DSG denoiser module: {shown}{more}")


def _check_pe_table(key: str, table: Tensor) -> None:
    if table.ndim != 3 or table.shape[0] != TIMESTEP_TABLE_LEN or table.shape[1] != 1:
        raise CheckpointError(
            f"DSG state dict: {key!r} has shape {list(table.shape)}, not [{TIMESTEP_TABLE_LEN}, 1, D]"
        )
    expected = sinusoidal_position_table(table.shape[0], table.shape[2])
    if not torch.allclose(table[:, 0].float().cpu(), expected, atol=1e-5):
        raise CheckpointError(f"DSG state dict: {key!r} is not the standard sinusoidal table")


def _check_rotary_freqs(freqs: Tensor) -> None:
    if freqs.ndim != 1 or freqs.numel() < 1:
        raise CheckpointError(f"DSG state dict: {ROTARY_FREQS!r} has shape {list(freqs.shape)}, not [d/2]")
    expected = rotary_inverse_frequencies(2 * freqs.numel())
    if not torch.allclose(freqs.float().cpu(), expected, rtol=1e-6, atol=0.0):
        raise CheckpointError(f"DSG state dict: {ROTARY_FREQS!r} is not the standard rotary frequency table")


def dsg_state_dict_to_a2a(sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename an original ``MDM`` state dict for :class:`DSGDenoiser`.

    Checks the stored tables (``sequence_pos_encoder.pe``, its timestep copy, ``rel_pos.inv_freq``)
    before dropping them and raises :class:`CheckpointError` on keys of no known module.
    """
    what = "DSG state dict"
    _check_tensors(sd, what)
    out: dict[str, Tensor] = {}
    unknown: list[str] = []
    for key, value in sd.items():
        if key in (PE_TABLE, TIMESTEP_PE_TABLE):
            _check_pe_table(key, value)
            continue
        if key == ROTARY_FREQS:
            _check_rotary_freqs(value)
            continue
        new_key = _rename(key, to_a2a=True)
        if new_key is None:
            unknown.append(key)
        else:
            out[new_key] = value
    if unknown:
        raise _unknown_keys_error(what, unknown)
    return out


def a2a_state_dict_to_dsg(sd: Mapping[str, Tensor], groups: int) -> dict[str, Tensor]:
    """Rename a :class:`DSGDenoiser` state dict to the original ``MDM`` names.

    Re-creates the buffers the original stores: the ``[5000, 1, D]`` sinusoidal table under both of its
    names and the rotary frequencies of ``D / groups``-wide groups.
    """
    what = "a2a DSGDenoiser state dict"
    _check_tensors(sd, what)
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
    if "input_process.poseEmbedding.weight" not in out:
        raise CheckpointError(f"{what}: 'motion_projection.weight' is missing")
    latent_dim = out["input_process.poseEmbedding.weight"].shape[0]
    table = sinusoidal_position_table(TIMESTEP_TABLE_LEN, latent_dim).unsqueeze(1)
    out[PE_TABLE] = table
    out[TIMESTEP_PE_TABLE] = table
    out[ROTARY_FREQS] = rotary_inverse_frequencies(latent_dim // groups)
    return out


def dsg_config_from_state_dict(sd: Mapping[str, Tensor], groups: int) -> dict[str, int]:
    """Read the :class:`DSGDenoiser` constructor sizes off an a2a-named state dict.

    Returns ``nfeats, latent_dim, num_layers, ff_size, audio_dim, audio_latent, style_dim, style_latent,
    n_seed, groups``. ``groups`` comes from the original's ``rel_pos.inv_freq`` (pass it in);
    ``num_heads``, ``local_window``, ``dropout`` and ``seq_len`` leave no trace in the weights
    (DSG: 4, 11, 0.1, 88).
    """
    required = (
        "motion_projection.weight",
        "audio_projection.weight",
        "style_embedding.weight",
        "seed_embedding.weight",
        "encoder.layers.0.linear1.weight",
    )
    missing = [k for k in required if k not in sd]
    if missing:
        raise CheckpointError(f"a2a DSGDenoiser state dict lacks {missing}; is it a DSG denoiser?")
    latent_dim, nfeats = sd["motion_projection.weight"].shape
    style_latent, style_dim = sd["style_embedding.weight"].shape
    seed_inputs = sd["seed_embedding.weight"].shape[1]
    if seed_inputs % nfeats:
        raise CheckpointError(
            f"'embed_text.weight' takes {seed_inputs} inputs, not a whole number of "
            f"{nfeats}-channel seed frames"
        )
    audio_latent, audio_dim = sd["audio_projection.weight"].shape
    layers = {m.group(1) for k in sd if (m := re.match(r"encoder\.layers\.(\d+)\.", k))}
    return {
        "nfeats": int(nfeats),
        "latent_dim": int(latent_dim),
        "num_layers": len(layers),
        "ff_size": int(sd["encoder.layers.0.linear1.weight"].shape[0]),
        "audio_dim": int(audio_dim),
        "audio_latent": int(audio_latent),
        "style_dim": int(style_dim),
        "style_latent": int(style_latent),
        "n_seed": int(seed_inputs // nfeats),
        "groups": int(groups),
    }
