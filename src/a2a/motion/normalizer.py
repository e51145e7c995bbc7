"""Per-channel normalisers of motion features, fitted on the training split and stored in checkpoints.

- :class:`MinMaxNormalizer` (EDGE): per-channel min–max to [−1, 1].
- :class:`ZScoreNormalizer` (DiffuseStyleGesture): ``(x − mean) / max(std, std_floor)``.

Both travel as plain tensors (``state_dict()`` with a ``kind`` entry), so a checkpoint never pickles a
class; :func:`normalizer_from_state_dict` rebuilds either (a state without ``kind`` is min–max, as
every checkpoint written before the z-score variant existed).

**Min–max.** Same numbers as ``sklearn.preprocessing.MinMaxScaler(feature_range=(-1, 1), clip=True)``:
``scale = 2 / (max − min)`` (a zero range counts as 1, so scale 2), ``min = −1 − data_min · scale``,
``normalize(x) = clip(x · scale + min, −1, 1)``. As EDGE's ``unnormalize``, :meth:`inverse` clips to
[−1, 1] before inverting and uses the **last** C channels of the statistics when handed a tensor with
fewer channels. Unlike EDGE, nothing here modifies its input.

"""

from __future__ import annotations

import numpy as np
import torch

from a2a.errors import CheckpointError, DatasetError

_STATE_KEYS = ("data_min", "data_max", "scale", "min")
MINMAX = "minmax"
ZSCORE = "zscore"


def _as_float64_rows(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``[..., C]`` → finite float64 ``[M, C]`` on the CPU (every leading index is a sample)."""
    t = torch.as_tensor(x).detach().to(device="cpu", dtype=torch.float64)
    if t.ndim < 1 or t.shape[-1] == 0:
        raise DatasetError(f"cannot fit a normaliser on data of shape {tuple(t.shape)}")
    t = t.reshape(-1, t.shape[-1])
    if t.shape[0] == 0:
        raise DatasetError("cannot fit a normaliser on zero samples")
    if not torch.isfinite(t).all():
        raise DatasetError("cannot fit a normaliser on data with NaN or infinite values")
    return t


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
        t = _as_float64_rows(x)
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

    def state_dict(self) -> dict[str, torch.Tensor | str]:
        """Plain values: ``kind`` ("minmax"), ``data_min``, ``data_max``, ``scale``, ``min`` (float64
        ``[C]``), ``feature_range`` and ``clip``."""
        self._require_fitted()
        assert self.data_min is not None and self.data_max is not None
        assert self.scale is not None and self.min is not None
        return {
            "kind": MINMAX,
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


class ZScoreNormalizer:
    """Per-channel standardisation ``(x − mean) / std`` with ``std`` floored at ``std_floor``.

    DiffuseStyleGesture's statistics (``np.clip(std, 0.01, None)``): channels that barely move in the
    training data (constant bone offsets) keep their scale instead of being blown up. Fitting streams
    (Chan's parallel update of count, mean and squared deviations), so many sequences need not sit in
    memory at once. ``std`` is the population standard deviation (numpy's default ``ddof=0``).

    Args:
        std_floor: lower bound of the per-channel std (DSG: 0.01).
    """

    def __init__(self, std_floor: float = 0.01) -> None:
        if not float(std_floor) > 0:
            raise DatasetError(f"normaliser std_floor must be positive, got {std_floor}")
        self.std_floor = float(std_floor)
        self.count = 0
        self.mean: torch.Tensor | None = None
        self._m2: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.std is not None

    @property
    def num_channels(self) -> int:
        self._require_fitted()
        assert self.std is not None
        return int(self.std.numel())

    def fit(self, x: torch.Tensor | np.ndarray) -> ZScoreNormalizer:
        """Fit on ``[..., C]`` (every leading index is a sample)."""
        self.count, self.mean, self._m2, self.std = 0, None, None, None
        return self.partial_fit(x)

    def partial_fit(self, x: torch.Tensor | np.ndarray) -> ZScoreNormalizer:
        """Extend the statistics with ``[..., C]``."""
        t = _as_float64_rows(x)
        if self.mean is not None and self.mean.numel() != t.shape[-1]:
            raise DatasetError(f"normaliser was fitted on {self.mean.numel()} channels, got {t.shape[-1]}")
        n_b = t.shape[0]
        mean_b = t.mean(dim=0)
        m2_b = (t - mean_b).square().sum(dim=0)
        if self.mean is None or self._m2 is None:
            self.count, self.mean, self._m2 = n_b, mean_b, m2_b
        else:
            n_a, total = self.count, self.count + n_b
            delta = mean_b - self.mean
            self.mean = self.mean + delta * (n_b / total)
            self._m2 = self._m2 + m2_b + delta.square() * (n_a * n_b / total)
            self.count = total
        self.std = (self._m2 / self.count).sqrt().clamp(min=self.std_floor)
        return self

    def _require_fitted(self) -> None:
        if self.std is None:
            raise DatasetError("the normaliser is not fitted: call fit() or load a state_dict first")

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self._require_fitted()
        assert self.mean is not None and self.std is not None
        if x.shape[-1] != self.std.numel():
            raise DatasetError(
                f"normaliser was fitted on {self.std.numel()} channels, got data with {x.shape[-1]}"
            )
        return self.mean.to(device=x.device, dtype=x.dtype), self.std.to(device=x.device, dtype=x.dtype)

    def normalize(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """``[..., C]`` → standardised copy (same type; numpy comes back as float64)."""
        as_numpy = isinstance(x, np.ndarray)
        t = torch.from_numpy(np.asarray(x, dtype=np.float64)) if as_numpy else x
        mean, std = self._stats(t)
        out = (t - mean) / std
        return out.numpy() if as_numpy else out

    def inverse(self, x: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Standardised ``[..., C]`` → data units."""
        as_numpy = isinstance(x, np.ndarray)
        t = torch.from_numpy(np.asarray(x, dtype=np.float64)) if as_numpy else x
        mean, std = self._stats(t)
        out = t * std + mean
        return out.numpy() if as_numpy else out

    def state_dict(self) -> dict[str, torch.Tensor | str]:
        """Plain values: ``kind`` ("zscore"), ``mean``, ``std`` (float64 ``[C]``, std already floored),
        ``std_floor`` and ``count``."""
        self._require_fitted()
        assert self.mean is not None and self.std is not None
        return {
            "kind": ZSCORE,
            "mean": self.mean.clone(),
            "std": self.std.clone(),
            "std_floor": torch.tensor(self.std_floor, dtype=torch.float64),
            "count": torch.tensor(self.count, dtype=torch.int64),
        }

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> ZScoreNormalizer:
        """Rebuild from :meth:`state_dict` (a checkpoint, or DSG's ``mean.npz``/``std.npz``)."""
        missing = [k for k in ("mean", "std") if k not in state]
        if missing:
            raise CheckpointError(f"normaliser state lacks {', '.join(missing)} (has: {', '.join(state)})")
        norm = cls(std_floor=float(torch.as_tensor(state.get("std_floor", 0.01))))
        mean = torch.as_tensor(state["mean"]).to(torch.float64).reshape(-1)
        std = torch.as_tensor(state["std"]).to(torch.float64).reshape(-1)
        if mean.numel() != std.numel():
            raise CheckpointError(f"normaliser state has {mean.numel()} means but {std.numel()} stds")
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            raise CheckpointError("normaliser state has NaN, infinite or non-positive std entries")
        norm.mean, norm.std = mean, std
        norm.count = int(torch.as_tensor(state.get("count", 0)))
        norm._m2 = std.square() * max(norm.count, 1)
        return norm


Normalizer = MinMaxNormalizer | ZScoreNormalizer
NORMALIZERS: dict[str, type[MinMaxNormalizer] | type[ZScoreNormalizer]] = {
    MINMAX: MinMaxNormalizer,
    ZSCORE: ZScoreNormalizer,
}


def normalizer_from_state_dict(state: dict) -> Normalizer:
    """Rebuild a normaliser of the ``kind`` the state names (no ``kind``: min–max, the only kind before)."""
    if not isinstance(state, dict):
        raise CheckpointError(f"normaliser state is a {type(state).__name__}, not a dict of tensors")
    kind = state.get("kind", MINMAX)
    if kind not in NORMALIZERS:
        raise CheckpointError(f"normaliser kind {kind!r} is unknown (known: {', '.join(NORMALIZERS)})")
    tensors = {k: v for k, v in state.items() if k != "kind"}
    return NORMALIZERS[kind].from_state_dict(tensors)
