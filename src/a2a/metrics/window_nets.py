"""Small temporal-conv networks over motion windows, shared by the FGD autoencoder and the style classifier.

The layout follows the embedding net of Yoon et al. 2020 (``Gesture-Generation-from-Trimodal-Context``,
reused by GENEA's ``genea_numerical_evaluations`` for FGD): an encoder of three 1-D convolutions over time
(kernel 3, 3, and 4 with stride 2; BatchNorm; LeakyReLU 0.2) and a fourth 3-frame convolution, flattened
into an MLP; a decoder that maps a latent vector to ``[4, W]`` and refines it with two transposed and two
plain 3-frame convolutions. Differences from the reference, on purpose: the window length is free (the
reference hard-codes the flattened size per window: 34 or 64 frames); the MLP's activations are LeakyReLU
0.2 (the reference writes ``nn.LeakyReLU(True)``, a negative slope of 1, i.e. no activation); no
variational head (the reference's ``fc_logvar`` is unused when ``variational_encoding=False``, as for FGD).

:class:`WindowNet` holds a network together with the :class:`~a2a.metrics.motion_windows.WindowSpec` and
the input statistics it was trained with, and saves them as one weights-only file (``torch.load(...,
weights_only=True)`` reads it: tensors and plain values only, no pickled classes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from torch import nn

from a2a.checkpoint.format import save_checkpoint
from a2a.errors import A2AError, CheckpointError
from a2a.metrics.motion_windows import MIN_WINDOW, WindowSpec, window_statistics
from a2a.version import __version__

log = logging.getLogger(__name__)

__all__ = [
    "FILE_FORMAT",
    "ConvWindowDecoder",
    "ConvWindowEncoder",
    "NetSize",
    "WindowNet",
    "conv_output_length",
    "fit",
    "parameter_count",
    "sizes",
]

FILE_FORMAT = 1
"""Version of the saved-file layout (``{"a2a_metric_net": {"kind", "format", "a2a_version"}, ...}``)."""

LEAKY_SLOPE = 0.2

NetSize = dict[str, int]
"""Network widths by name: ``channels``, ``hidden`` and, for the autoencoder, ``latent`` (GENEA/Yoon: 32,
128, 32)."""


def conv_output_length(window: int) -> int:
    """Frames left after the encoder's convolutions: ``⌊(W − 8)/2⌋ − 1`` (34 → 12, 64 → 27)."""
    if window < MIN_WINDOW:
        raise A2AError(f"window must be at least {MIN_WINDOW} frames, got {window}")
    return (window - 8) // 2 - 1


def _conv_block(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, stride=stride), nn.BatchNorm1d(c_out), nn.LeakyReLU(LEAKY_SLOPE)
    )


def _dense_block(d_in: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.LeakyReLU(LEAKY_SLOPE))


class ConvWindowEncoder(nn.Module):
    """``[B, W, D]`` windows → ``[B, out_dim]``.

    Args:
        in_dim: features per frame ``D`` (``J·3``).
        window: frames per window ``W`` (≥ 12).
        out_dim: output size (the latent for FGD, the number of styles for the classifier).
        channels: conv width ``C`` (layers C, 2C, 2C, C).
        hidden: MLP width ``H`` (layers 2H, H).
    """

    def __init__(self, in_dim: int, window: int, out_dim: int, channels: int = 32, hidden: int = 128):
        super().__init__()
        self.convs = nn.Sequential(
            _conv_block(in_dim, channels, 3),
            _conv_block(channels, 2 * channels, 3),
            _conv_block(2 * channels, 2 * channels, 4, stride=2),
            nn.Conv1d(2 * channels, channels, 3),
        )
        self.head = nn.Sequential(
            _dense_block(channels * conv_output_length(window), 2 * hidden),
            _dense_block(2 * hidden, hidden),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.head(self.convs(windows.transpose(1, 2)).flatten(1))


class ConvWindowDecoder(nn.Module):
    """``[B, latent]`` → ``[B, W, D]`` windows (the FGD autoencoder's decoder).

    The latent goes through an MLP to ``[4, W]``; two transposed 3-frame convolutions grow it to
    ``W + 4`` frames and two plain ones bring it back to ``W``.
    """

    def __init__(self, out_dim: int, window: int, latent: int, channels: int = 32, hidden: int = 128):
        super().__init__()
        self.window = window
        self.pre = nn.Sequential(_dense_block(latent, hidden), nn.Linear(hidden, 4 * window))
        self.convs = nn.Sequential(
            nn.ConvTranspose1d(4, channels, 3),
            nn.BatchNorm1d(channels),
            nn.LeakyReLU(LEAKY_SLOPE),
            nn.ConvTranspose1d(channels, channels, 3),
            nn.BatchNorm1d(channels),
            nn.LeakyReLU(LEAKY_SLOPE),
            _conv_block(channels, channels, 3),
            nn.Conv1d(channels, out_dim, 3),
        )

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        seed = self.pre(latent).view(len(latent), 4, self.window)
        return self.convs(seed).transpose(1, 2)


def fit(
    net: nn.Module,
    loss_of: Callable[[torch.Tensor], torch.Tensor],
    count: int,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    betas: tuple[float, float],
    seed: int,
    what: str,
) -> None:
    """Adam on shuffled mini-batches of window indices; the same seed gives the same weights.

    Args:
        net: the network, already built (its initial weights decide the start).
        loss_of: indices ``[B]`` of a batch → scalar loss.
        count: number of training windows (≥ 2, checked by :meth:`WindowNet.for_training`).
        steps: optimiser steps (0: no training).
        batch_size: windows per step (capped at ``count``); each epoch is a fresh permutation, and a tail
            shorter than a batch is skipped.
        lr, betas: Adam's.
        seed: seed of the shuffling generator.
        what: name used in the progress lines (logged at INFO every tenth of the steps).
    """
    if steps < 0 or batch_size < 2:
        raise A2AError(f"{what}: steps must be ≥ 0 and batch_size ≥ 2, got {steps} and {batch_size}")
    size = min(batch_size, count)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr, betas=betas)
    order = torch.empty(0, dtype=torch.long)
    position = 0
    recent: list[float] = []
    report_every = max(1, steps // 10)
    net.train()
    for step in range(steps):
        if position + size > len(order):
            order, position = torch.randperm(count, generator=generator), 0
        loss = loss_of(order[position : position + size])
        position += size
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        recent.append(float(loss.detach()))
        if (step + 1) % report_every == 0:
            log.info("%s: step %d/%d, loss %.4f", what, step + 1, steps, sum(recent) / len(recent))
            recent.clear()
    net.eval()


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with its initial weights drawn from ``seed``, leaving the global RNG untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _spec_from(raw: Any, where: str) -> WindowSpec:
    if not isinstance(raw, dict):
        raise CheckpointError(f"{where}: 'spec' must be a dict, got {type(raw).__name__}")
    try:
        return WindowSpec(
            num_joints=int(raw["num_joints"]),
            window=int(raw["window"]),
            stride=int(raw["stride"]),
            fps=float(raw["fps"]),
            root=None if raw["root"] is None else int(raw["root"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{where}: bad 'spec' entry ({type(exc).__name__}: {exc})") from None


class WindowNet:
    """A trained window network with its :class:`WindowSpec`, input statistics and file format.

    Subclasses set :attr:`kind` and build their module in :meth:`build`.

    Attributes:
        spec: the windows the network was trained on.
        net: the module (always in eval mode outside training).
        mean, std: ``[J·3]`` input normalisation from the training windows.
        size: the network width (:data:`NetSize`).
        labels: class names (the style classifier's styles; empty for the FGD autoencoder).
        source: the file it was loaded from, or ``"(trained in memory)"``, used in error messages.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self,
        spec: WindowSpec,
        size: NetSize,
        mean: np.ndarray,
        std: np.ndarray,
        labels: Sequence[str] = (),
        seed: int = 0,
        source: str = "(trained in memory)",
    ):
        self.spec = spec
        self.size = dict(size)
        self.labels = [str(label) for label in labels]
        dim = 3 * spec.num_joints
        self.mean = torch.as_tensor(np.asarray(mean, dtype=np.float32).reshape(dim))
        self.std = torch.as_tensor(np.asarray(std, dtype=np.float32).reshape(dim))
        self.source = source
        self.net = _seeded(seed, self.build).eval()

    def build(self) -> nn.Module:
        """The untrained module for :attr:`spec`, :attr:`size` and :attr:`labels`."""
        raise NotImplementedError

    @classmethod
    def for_training(
        cls, windows: np.ndarray, spec: WindowSpec, size: NetSize, labels: Sequence[str] = (), seed: int = 0
    ) -> Self:
        """A fresh network whose input statistics come from ``windows`` ``[K, W, J, 3]``.

        Raises:
            A2AError: fewer than 2 windows (BatchNorm needs two samples per batch).
        """
        if len(windows) < 2:
            raise A2AError(
                f"needs at least 2 training windows of {spec.window} frames, got {len(windows)} (a clip "
                "shorter than a window gives none)"
            )
        mean, std = window_statistics(windows)
        return cls(spec, size, mean, std, labels=labels, seed=seed)

    def windows(self, clips: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Cut one clip ``[N, J, 3]`` or several into this network's windows ``[K, W, J, 3]``."""
        try:
            if isinstance(clips, np.ndarray) and clips.ndim == 3:
                return self.spec.cut(clips)
            return self.spec.cut_all(clips)
        except A2AError as exc:
            raise type(exc)(f"{self.source}: {exc}") from None

    def inputs(self, windows: np.ndarray) -> torch.Tensor:
        """Validated, normalised network input ``[K, W, J·3]`` float32 from windows ``[K, W, J, 3]``.

        Raises:
            A2AError: wrong rank, joint count or window length (naming :attr:`source`), non-finite values.
        """
        array = np.asarray(windows, dtype=np.float32)
        if array.ndim != 4 or array.shape[3] != 3:
            raise A2AError(f"{self.source}: expected windows of shape [K, W, J, 3], got {array.shape}")
        try:
            self.spec.check(num_joints=array.shape[2], window=array.shape[1], verb="trained on")
        except A2AError as exc:
            raise A2AError(f"{self.source}: {exc}") from None
        if not np.isfinite(array).all():
            raise A2AError(f"{self.source}: windows contain NaN or infinite positions")
        flat = torch.from_numpy(array.reshape(len(array), self.spec.window, -1))
        return (flat - self.mean) / self.std

    @torch.no_grad()
    def run(self, module: nn.Module, inputs: torch.Tensor, out_dim: int, batch_size: int = 512) -> np.ndarray:
        """``module`` over ``inputs`` in eval mode and batches: ``[K, out_dim]`` float64."""
        self.net.eval()
        parts = [module(inputs[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
        if not parts:
            return np.zeros((0, out_dim))
        return torch.cat(parts).double().numpy()

    def save(self, path: str | Path) -> Path:
        """Write a weights-only file (atomically; parent folders created)."""
        spec = self.spec
        return save_checkpoint(
            {
                "a2a_metric_net": {"kind": self.kind, "format": FILE_FORMAT, "a2a_version": __version__},
                "spec": {
                    "num_joints": spec.num_joints,
                    "window": spec.window,
                    "stride": spec.stride,
                    "fps": spec.fps,
                    "root": spec.root,
                },
                "size": dict(self.size),
                "labels": list(self.labels),
                "mean": self.mean.clone(),
                "std": self.std.clone(),
                "state_dict": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
            },
            path,
        )

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        num_joints: int | None = None,
        window: int | None = None,
        fps: float | None = None,
    ) -> Self:
        """Read a file written by :meth:`save` (``weights_only=True``) and check it fits the data.

        Args:
            path: the file.
            num_joints, window, fps: the data's properties; each given one must equal the trained one.

        Raises:
            CheckpointError: missing or unreadable file, another kind of network, a format this a2a cannot
                read, missing or malformed entries, weights that do not fit the stored sizes.
            A2AError: the data's joint count, window or fps differs from the file's (one line, naming the
                file).
        """
        where = str(path)
        if not Path(path).is_file():
            raise CheckpointError(f"{where}: no such file")
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # zip/pickle/EOF errors all mean "not a readable weights-only file"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CheckpointError(
                f"{where}: not a readable weights-only file ({type(exc).__name__}: {first})"
            ) from None
        meta = raw.get("a2a_metric_net") if isinstance(raw, dict) else None
        if not isinstance(meta, dict):
            raise CheckpointError(f"{where}: not an a2a metric network file (no 'a2a_metric_net' block)")
        if meta.get("kind") != cls.kind:
            raise CheckpointError(f"{where}: holds a {meta.get('kind')!r} network, not a {cls.kind!r} one")
        if meta.get("format") != FILE_FORMAT:
            raise CheckpointError(
                f"{where}: file format {meta.get('format')!r} (a2a {meta.get('a2a_version', '?')}) is not "
                f"format {FILE_FORMAT}, the one this a2a {__version__} reads"
            )
        missing = [k for k in ("spec", "size", "labels", "mean", "std", "state_dict") if k not in raw]
        if missing:
            raise CheckpointError(f"{where}: missing {', '.join(missing)}")
        spec = _spec_from(raw["spec"], where)
        size, labels = raw["size"], raw["labels"]
        if not isinstance(size, dict) or not all(isinstance(v, int) for v in size.values()):
            raise CheckpointError(f"{where}: 'size' must map names to integers, got {size!r}")
        if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
            raise CheckpointError(f"{where}: 'labels' must be a list of strings")
        try:
            model = cls(spec, size, raw["mean"].numpy(), raw["std"].numpy(), labels=labels, source=where)
            model.net.load_state_dict(raw["state_dict"], strict=True)
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise CheckpointError(f"{where}: weights do not fit ({type(exc).__name__}: {first})") from None
        model.net.eval()
        try:
            spec.check(num_joints=num_joints, window=window, fps=fps, verb="trained on")
        except A2AError as exc:
            raise A2AError(f"{where}: {exc}") from None
        return model


def sizes(**values: int) -> NetSize:
    """A validated :data:`NetSize` from keyword widths (e.g. ``channels=32, hidden=128, latent=32``)."""
    for name, value in values.items():
        if int(value) < 1:
            raise A2AError(f"{name} must be ≥ 1, got {value}")
    return {name: int(value) for name, value in values.items()}


def parameter_count(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
