"""Fréchet Gesture Distance (Yoon et al. 2020; the GENEA challenges' FGD) and latent-feature diversity.

Protocol (GENEA 2020's ``Svito-zar/genea_numerical_evaluations``, ``FGD/train_AE.py`` and
``FGD/embedding_space_evaluator.py``, built on Yoon et al.'s ``Gesture-Generation-from-Trimodal-Context``),
with a2a's choices stated:

1. **Windows.** Clips of joint positions ``[N, J, 3]`` (root-relative per frame, see
   :class:`~a2a.metrics.motion_windows.WindowSpec`) are cut into ``window``-frame windows every
   ``stride`` frames (defaults: 34 frames, Yoon et al.'s; GENEA 2020 ran 30, 60 and 90; stride
   ``window // 2``, GENEA's), normalised by the per-coordinate mean/std of the training windows (GENEA:
   fixed mean/std vectors of the Trinity data's 14 joints).
2. **Autoencoder.** A temporal-conv encoder/decoder (:mod:`a2a.metrics.window_nets`) trained on the
   training split of the dataset being evaluated, with GENEA's loss — L1 reconstruction plus L1 of the
   frame-to-frame differences — and optimiser: Adam, lr 5e-4, betas (0.5, 0.999), batch 64. GENEA trains
   10 epochs and sums the per-window losses over the batch; here training runs a number of steps and the
   loss is the batch mean (the same gradient direction; Adam is insensitive to the scale).
3. **FGD** = Fréchet distance between Gaussians fitted to the encoder's latent vectors (``latent``,
   default 32) of real and of generated windows: :func:`a2a.metrics.dance.fid`, the formula GENEA copies
   from pytorch-fid (GENEA: 1e-6 added to the diagonals when ``sqrtm`` fails, where ``dance.fid`` adds 1e-5;
   both keep the real part). GENEA also prints the distance on the raw flattened windows; a2a does not
   (a 75-joint, 34-frame window has 7,650 dimensions, more than most test sets have windows). Like every
   Fréchet distance FGD is biased upwards for few windows and is rank-deficient with fewer windows than
   latent dimensions: compare FGDs only at equal window counts.

**Diversity** (:func:`diversity`, re-exported from :mod:`a2a.metrics.dance`): the mean pairwise Euclidean
distance between the latent vectors of the generated windows (all pairs, windows of the same clip
included), in the spirit of the gesture literature's latent-space diversity (Yoon et al.'s trimodal
evaluator compares random pairs of embedding vectors with an L1 distance; a2a uses every pair and L2, as
Bailando's Div). Compare it with the same number on ground-truth windows.

The encoder is trained once per dataset (:func:`train_fgd_encoder` or ``a2a train-fgd-encoder``), saved
weights-only (:meth:`FGDEncoder.save`) and reused (:func:`load_fgd_encoder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from a2a.errors import A2AError
from a2a.metrics.dance import diversity, fid
from a2a.metrics.kinetic import validate_fps, validate_joints
from a2a.metrics.motion_windows import WindowSpec
from a2a.metrics.window_nets import ConvWindowDecoder, ConvWindowEncoder, WindowNet, fit, sizes

__all__ = [
    "DEFAULT_WINDOW",
    "FGDEncoder",
    "MotionAutoencoder",
    "autoencoder_loss",
    "diversity",
    "fgd",
    "load_fgd_encoder",
    "train_fgd_encoder",
]

DEFAULT_WINDOW = 34
"""Frames per FGD window (Yoon et al. 2020; GENEA 2020 reported 30, 60 and 90)."""

GENEA_LR = 5e-4
GENEA_BETAS = (0.5, 0.999)
GENEA_BATCH = 64


class MotionAutoencoder(nn.Module):
    """``[B, W, D]`` → (latent ``[B, L]``, reconstruction ``[B, W, D]``)."""

    def __init__(self, dim: int, window: int, latent: int, channels: int, hidden: int):
        super().__init__()
        self.encoder = ConvWindowEncoder(dim, window, latent, channels=channels, hidden=hidden)
        self.decoder = ConvWindowDecoder(dim, window, latent, channels=channels, hidden=hidden)

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.encoder(windows)
        return latent, self.decoder(latent)


def autoencoder_loss(recon: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """GENEA's autoencoder loss, averaged over the batch: ``mean|x̂ − x| + mean|Δx̂ − Δx|`` (Δ over frames).

    Args:
        recon, target: ``[B, W, D]``.
    """
    position = F.l1_loss(recon, target)
    velocity = F.l1_loss(recon[:, 1:] - recon[:, :-1], target[:, 1:] - target[:, :-1])
    return position + velocity


class FGDEncoder(WindowNet):
    """The trained FGD autoencoder; :meth:`encode` gives the latent features FGD compares."""

    kind = "fgd_encoder"

    def build(self) -> nn.Module:
        return MotionAutoencoder(
            3 * self.spec.num_joints,
            self.spec.window,
            latent=self.size["latent"],
            channels=self.size["channels"],
            hidden=self.size["hidden"],
        )

    @property
    def latent(self) -> int:
        """Size of the latent features."""
        return self.size["latent"]

    def encode(self, windows: np.ndarray) -> np.ndarray:
        """Latent features of windows.

        Args:
            windows: ``[K, W, J, 3]`` root-relative windows (:meth:`windows` cuts them from clips).

        Returns:
            ``[K, latent]`` float64.
        """
        return self.run(self.net.encoder, self.inputs(windows), self.latent)

    def features(self, clips: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """:meth:`encode` of the windows of one clip ``[N, J, 3]`` or several: ``[ΣK_i, latent]``."""
        return self.encode(self.windows(clips))

    @torch.no_grad()
    def reconstruction_loss(self, windows: np.ndarray) -> float:
        """:func:`autoencoder_loss` over windows ``[K, W, J, 3]`` (normalised units), eval mode."""
        inputs = self.inputs(windows)
        if len(inputs) == 0:
            raise A2AError(f"{self.source}: no windows to reconstruct")
        self.net.eval()
        return float(autoencoder_loss(self.net(inputs)[1], inputs))


def train_fgd_encoder(
    clips: Sequence[np.ndarray],
    fps: float,
    *,
    window: int = DEFAULT_WINDOW,
    stride: int | None = None,
    root: int | None = 0,
    steps: int = 4000,
    batch_size: int = GENEA_BATCH,
    lr: float = GENEA_LR,
    latent: int = 32,
    channels: int = 32,
    hidden: int = 128,
    seed: int = 0,
) -> FGDEncoder:
    """Train the FGD autoencoder on the training split's clips.

    Args:
        clips: ``[N_i, J, 3]`` joint positions of the training split, all with the same ``J``.
        fps: their frame rate (stored: the encoder refuses data at another rate).
        window: frames per window (≥ 12).
        stride: frames between training windows (default ``window // 2``; also used by
            :meth:`FGDEncoder.windows` when scoring).
        root: joint subtracted per frame (``None``: world positions).
        steps: Adam steps (GENEA: 10 epochs, i.e. ``10 · windows / 64`` steps).
        batch_size: windows per step.
        lr: Adam learning rate (betas 0.5, 0.999 as GENEA).
        latent, channels, hidden: network size (GENEA/Yoon: 32, 32, 128).
        seed: initial weights and shuffling; the same seed and data give the same encoder.

    Returns:
        The trained :class:`FGDEncoder` (eval mode).

    Raises:
        A2AError: no clips, clips with different joint counts, fewer than 2 windows, bad sizes.
    """
    if not clips:
        raise A2AError("train_fgd_encoder: no clips given")
    num_joints = validate_joints(clips[0], min_frames=1, what="clips[0]").shape[1]
    spec = WindowSpec(num_joints, window, window // 2 if stride is None else stride, validate_fps(fps), root)
    windows = spec.cut_all(clips)
    size = sizes(channels=channels, hidden=hidden, latent=latent)
    encoder = FGDEncoder.for_training(windows, spec, size, seed=seed)
    inputs = encoder.inputs(windows)

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        target = inputs[batch]
        return autoencoder_loss(encoder.net(target)[1], target)

    fit(
        encoder.net,
        loss_of,
        len(inputs),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        betas=GENEA_BETAS,
        seed=seed,
        what="train_fgd_encoder",
    )
    return encoder


def load_fgd_encoder(
    path: str | Path, *, num_joints: int | None = None, window: int | None = None, fps: float | None = None
) -> FGDEncoder:
    """Load a saved FGD encoder (weights-only) and check it fits the data (see :meth:`WindowNet.load`)."""
    return FGDEncoder.load(path, num_joints=num_joints, window=window, fps=fps)


def fgd(real_features: np.ndarray, generated_features: np.ndarray) -> float:
    """Fréchet Gesture Distance between the latent features of real and generated windows.

    Args:
        real_features: ``[N, L]`` (:meth:`FGDEncoder.encode` of ground-truth windows), ``N ≥ 2``.
        generated_features: ``[M, L]`` of generated windows, ``M ≥ 2``.

    Returns:
        ``‖μ_r − μ_g‖² + Tr(Σ_r + Σ_g − 2·sqrtm(Σ_r Σ_g))`` (:func:`a2a.metrics.dance.fid`), ≥ 0 up to
        rounding.

    Raises:
        A2AError: wrong shapes, too few rows, different ``L``, non-finite values.
    """
    return fid(generated_features, real_features)
