"""Parameter-free windowed self-attention and the split-half rotary code it runs on (DiffuseStyleGesture).

DiffuseStyleGesture (YoungSeng/DiffuseStyleGesture ``main/model/mdm.py`` with its vendored
``local_attention`` package) splits the fused per-frame features ``[B, T, D]`` into ``groups`` channel
groups of ``D / groups``, rotates every group with a rotary code, and lets each frame attend, with the
rotated features as queries, keys *and* values (no projections), to a causal band of frames:

- the sequence is cut into whole windows of ``window`` frames;
- frame ``i`` in window ``w = i // window`` sees frame ``j`` iff ``j <= i`` and ``j`` lies in window ``w`` or
  in the ``look_back`` windows before it (``look_back=1``, ``exact_windowsize=False``: 12 to 22 frames
  for ``window=11``). The first window's look-back is padding, which the original removes through its
  all-true ``mask_local`` input.

The rotary code is the GPT-NeoX "rotate half" variant of ``local_attention.rotary``: for a group of
``d`` channels, frequency ``k < d/2`` (``10000^(-2k/d)``, computed in float32 as the original does)
turns the channel pair ``(k, k + d/2)`` by ``position · frequency``. Like DSG it rotates the features
themselves, not attention queries and keys, so it is an absolute multiplicative position code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from a2a.errors import A2AError

ROTARY_THETA = 10000.0


def rotary_inverse_frequencies(group_dim: int) -> Tensor:
    """``[group_dim / 2]`` float32 frequencies ``1 / 10000^(2k / group_dim)`` (``SinusoidalEmbeddings``)."""
    if group_dim < 2 or group_dim % 2:
        raise A2AError(f"rotary group width must be even and >= 2, got {group_dim}")
    return 1.0 / (ROTARY_THETA ** (torch.arange(0, group_dim, 2).float() / group_dim))


def rotate_half(x: Tensor) -> Tensor:
    """``[..., d]`` → ``[..., d]``: halves ``(x1, x2)`` become ``(−x2, x1)``."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def rotate_groups(x: Tensor, groups: int) -> Tensor:
    """Rotate every channel group of ``x`` ``[B, L, D]`` by its frame index ``0..L-1`` → ``[B, L, D]``.

    The angles are formed in float64 from the float32 frequencies (each product of an integer position
    and a float32 frequency is exact there), then rounded to the working dtype before ``cos``/``sin``:
    bit for bit the original's float32 angles, and in float64 those of the original cast to float64.
    ``cos``/``sin`` are taken in at least float32 so half-precision inputs keep accurate codes.
    """
    batch, length, dim = x.shape
    group_dim = dim // groups
    frequencies = rotary_inverse_frequencies(group_dim).to(device=x.device, dtype=torch.float64)
    positions = torch.arange(length, device=x.device, dtype=torch.float64)
    angles = torch.outer(positions, frequencies).repeat(1, 2)  # [L, d]: (f_0..f_{d/2-1}, f_0..f_{d/2-1})
    work = torch.promote_types(x.dtype, torch.float32)
    angles = angles.to(work)
    cos, sin = angles.cos()[:, None], angles.sin()[:, None]  # [L, 1, d]: the same for every group
    grouped = x.reshape(batch, length, groups, group_dim).to(work)
    rotated = grouped * cos + rotate_half(grouped) * sin
    return rotated.reshape(batch, length, dim).to(x.dtype)


def local_causal_mask(length: int, window: int, look_back: int, device: torch.device | str) -> Tensor:
    """``BoolTensor[length, length]``, True where frame ``i`` (row) may attend to frame ``j`` (column).

    ``j <= i`` and ``j // window >= i // window − look_back``. ``length`` must be a multiple of ``window``.
    """
    if length % window:
        raise A2AError(f"local attention needs whole windows: {length} frames with window {window}")
    frames = torch.arange(length, device=device)
    query, key = frames[:, None], frames[None, :]
    return (key <= query) & (key // window >= query // window - look_back)


class LocalSelfAttention(nn.Module):
    """Windowed causal self-attention without parameters: ``[B, T, D]`` → ``[B, T, D]``.

    The ``D`` channels are split into ``groups`` heads of ``D / groups`` channels; each head attends with
    its own channels as query, key and value, scaled by ``(D / groups)^-0.5``; attention weights get
    ``dropout`` while training. ``T`` must be a multiple of ``window``.

    Args:
        window: frames per window (DSG: 11).
        groups: channel groups (DSG: 8, independent of the transformer's head count).
        look_back: earlier windows each frame may see (DSG: 1).
        dropout: dropout on the attention weights (DSG: 0.1).
    """

    def __init__(self, window: int, groups: int, look_back: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        if window < 1 or groups < 1 or look_back < 0:
            raise A2AError(
                f"local attention needs window >= 1, groups >= 1 and look_back >= 0, got "
                f"window={window}, groups={groups}, look_back={look_back}"
            )
        self.window = window
        self.groups = groups
        self.look_back = look_back
        self.dropout = dropout
        self._masks: dict[tuple[int, torch.device], Tensor] = {}

    def mask(self, length: int, device: torch.device) -> Tensor:
        """The (cached) :func:`local_causal_mask` for ``length`` frames on ``device``."""
        key = (length, device)
        if key not in self._masks:
            self._masks[key] = local_causal_mask(length, self.window, self.look_back, device)
        return self._masks[key]

    def forward(self, x: Tensor) -> Tensor:
        batch, length, dim = x.shape
        heads = x.reshape(batch, length, self.groups, dim // self.groups).transpose(1, 2)  # [B, G, T, d]
        out = F.scaled_dot_product_attention(
            heads,
            heads,
            heads,
            attn_mask=self.mask(length, x.device),
            dropout_p=self.dropout if self.training else 0.0,
        )
        return out.transpose(1, 2).reshape(batch, length, dim)

    def extra_repr(self) -> str:
        return (
            f"window={self.window}, groups={self.groups}, look_back={self.look_back}, dropout={self.dropout}"
        )
