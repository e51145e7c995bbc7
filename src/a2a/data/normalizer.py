"""Per-channel min–max normaliser to [−1, 1]: EDGE's torch port of sklearn's ``MinMaxScaler``.

Same numbers as ``sklearn.preprocessing.MinMaxScaler(feature_range=(-1, 1), clip=True)``:
``scale = 2 / (max − min)`` (a zero range counts as 1, so scale 2), ``min = −1 − data_min · scale``,
``normalize(x) = clip(x · scale + min, −1, 1)``. As EDGE's ``unnormalize``, :meth:`inverse` clips to
[−1, 1] before inverting and uses the **last** C channels of the statistics when handed a tensor with
fewer channels. Unlike EDGE, nothing here modifies its input.

Statistics travel as plain tensors (:meth:`state_dict`), so a checkpoint never pickles this class.
"""

from __future__ import annotations

import numpy as np
import torch

from a2a.errors import CheckpointError, DatasetError

_STATE_KEYS = ("data_min", "data_max", "scale", "min")


class MinMaxNormalizer:
    """Fit per-channel minima and maxima, map to [−1, 1] and back.

    Args:
        feature_range: target interval (EDGE: (−1, 1)).
        clip: clip normalised values into ``feature_range`` (sklearn ``clip=True``).
    """

    def __init__(self, feature_range: tuple[float, float] = (-1.0, 1.0), clip: bool = True) -> None:
        lo, hi = float(feature_range[0]), float(feature_range[1])
        if not lo < hi:
            raise DatasetError(f"normaliser feature_range must be increasing, got {feature_range}")
        self.feature_range = (lo, hi)
        self.clip = clip
        self.data_min: torch.Tensor | None = None
        self.data_max: torch.Tensor | None = None
        self.scale: torch.Tensor | None = None
        self.min: torch.Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.scale is not None

    @property
    def num_channels(self) -> int:
        self._require_fitted()
        assert self.scale is not None
        return int(self.scale.numel())

    def fit(self, x: torch.Tensor | np.ndarray) -> MinMaxNormalizer:
        """Fit on ``[..., C]`` (every leading index is a sample, e.g. all training frames)."""
        self.data_min = self.data_max = self.scale = self.min = None
        return self.partial_fit(x)

    def partial_fit(self, x: torch.Tensor | np.ndarray) -> MinMaxNormalizer:
        """Extend the running minima and maxima with ``[..., C]`` (sklearn ``partial_fit``), so the
        statistics of many sequences need not sit in memory at once."""
        t = torch.as_tensor(x).detach().to(device="cpu", dtype=torch.float64)
        if t.ndim < 1 or t.shape[-1] == 0:
            raise DatasetError(f"cannot fit a normaliser on data of shape {tuple(t.shape)}")
        t = t.reshape(-1, t.shape[-1])
        if t.shape[0] == 0:
            raise DatasetError("cannot fit a normaliser on zero samples")
        if not torch.isfinite(t).all():
            raise DatasetError("cannot fit a normaliser on data with NaN or infinite values")
        if self.data_min is not None and self.data_min.numel() != t.shape[-1]:
            raise DatasetError(
                f"normaliser was fitted on {self.data_min.numel()} channels, got {t.shape[-1]}"
            )
        batch_min, batch_max = t.min(dim=0).values, t.max(dim=0).values
        if self.data_min is None or self.data_max is None:
            self.data_min, self.data_max = batch_min, batch_max
        else:
            self.data_min = torch.minimum(self.data_min, batch_min)
            self.data_max = torch.maximum(self.data_max, batch_max)
        data_range = self.data_max - self.data_min
        # sklearn's _handle_zeros_in_scale: a range below 10·eps is replaced by 1.
        eps = 10 * torch.finfo(torch.float64).eps
        data_range = torch.where(data_range < eps, torch.ones_like(data_range), data_range)
        lo, hi = self.feature_range
        self.scale = (hi - lo) / data_range
        self.min = lo - self.data_min * self.scale
        return self

    def _require_fitted(self) -> None:
        if self.scale is None:
            raise DatasetError("the normaliser is not fitted: call fit() or load a state_dict first")

    def _stats(self, x: torch.Tensor, tail: bool) -> tuple[torch.Tensor, torch.Tensor]:
        self._require_fitted()
        assert self.scale is not None and self.min is not None
        c = x.shape[-1]
        total = self.scale.numel()
        if c != total and not (tail and c < total):
            raise DatasetError(f"normaliser was fitted on {total} channels, got data with {c}")
        scale = self.scale[total - c :].to(device=x.device, dtype=x.dtype)
        offset = self.min[total - c :].to(device=x.device, dtype=x.dtype)
        return scale, offset

    def normalize(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """``[..., C]`` → normalised copy (same type; numpy comes back as float64)."""
        as_numpy = isinstance(x, np.ndarray)
        t = torch.from_numpy(np.asarray(x, dtype=np.float64)) if as_numpy else x
        scale, offset = self._stats(t, tail=False)
        out = t * scale + offset
        if self.clip:
            out = out.clamp(*self.feature_range)
        return out.numpy() if as_numpy else out

    def inverse(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Normalised ``[..., C']`` → data units; ``C' ≤ C`` uses the last ``C'`` channels (EDGE)."""
        as_numpy = isinstance(x, np.ndarray)
        t = torch.from_numpy(np.asarray(x, dtype=np.float64)) if as_numpy else x
        scale, offset = self._stats(t, tail=True)
        out = (t.clamp(*self.feature_range) - offset) / scale
        return out.numpy() if as_numpy else out

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Plain tensors: ``data_min``, ``data_max``, ``scale``, ``min`` (float64 ``[C]``),
        ``feature_range`` and ``clip``."""
        self._require_fitted()
        assert self.data_min is not None and self.data_max is not None
        assert self.scale is not None and self.min is not None
        return {
            "data_min": self.data_min.clone(),
            "data_max": self.data_max.clone(),
            "scale": self.scale.clone(),
            "min": self.min.clone(),
            "feature_range": torch.tensor(self.feature_range, dtype=torch.float64),
            "clip": torch.tensor(self.clip),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> MinMaxNormalizer:
        """Rebuild from :meth:`state_dict` (e.g. read from a checkpoint)."""
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise CheckpointError(f"normaliser state lacks {', '.join(missing)} (has: {', '.join(state)})")
        feature_range = tuple(torch.as_tensor(state.get("feature_range", (-1.0, 1.0))).tolist())
        norm = cls(feature_range=feature_range, clip=bool(torch.as_tensor(state.get("clip", True))))  # type: ignore[arg-type]
        tensors = {k: torch.as_tensor(state[k]).to(torch.float64).reshape(-1) for k in _STATE_KEYS}
        sizes = {k: v.numel() for k, v in tensors.items()}
        if len(set(sizes.values())) != 1:
            raise CheckpointError(f"normaliser state has inconsistent channel counts {sizes}")
        norm.data_min, norm.data_max = tensors["data_min"], tensors["data_max"]
        norm.scale, norm.min = tensors["scale"], tensors["min"]
        return norm
