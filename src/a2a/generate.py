"""Any a2a checkpoint → :class:`Generator`; audio of any length → :class:`~a2a.motion.Motion` or BVH text.

``a2a.load(path)`` reads the checkpoint with ``torch.load(weights_only=True)``: no code from the file
runs. The checkpoint's stored configs may only name classes inside the ``a2a`` package, so a crafted
checkpoint cannot make ``hydra.utils.instantiate`` call arbitrary functions.

Long audio follows EDGE: half-overlapping windows denoised in one batch with agreeing overlaps, then
stitched (linear cross-fade for the root, slerp for rotations); shorter-than-a-window audio is padded
and cropped, so every length works.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2a import __version__
from a2a.audio.decode import load_audio
from a2a.config import instantiate
from a2a.data.normalizer import MinMaxNormalizer
from a2a.diffusion import ConstantGuidance, LongFormSampler, RampGuidance, plan_windows, slice_windows, stitch
from a2a.errors import A2AError, CheckpointError
from a2a.motion.motion import Motion
from a2a.motion.rotations import (
    axis_angle_to_quaternion,
    quaternion_slerp,
    quaternion_to_axis_angle,
    standardize_quaternion,
)

AudioInput = str | os.PathLike | bytes | np.ndarray
REDUCTIONS = ("mean", "medoid")
_TRUSTED_PREFIX = "a2a."


def _check_targets(node: Any, where: str) -> None:
    """Refuse configs from a checkpoint whose ``_target_`` lies outside the a2a package."""
    if isinstance(node, Mapping):
        target = node.get("_target_")
        if target is not None and not str(target).startswith(_TRUSTED_PREFIX):
            raise CheckpointError(f"checkpoint config {where} names {target!r}; only a2a classes are loaded")
        for key, value in node.items():
            _check_targets(value, f"{where}.{key}")
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            _check_targets(value, f"{where}[{i}]")


def _quaternion_blend(channels_linear: int):
    """Blend for :func:`stitch` on ``[L, linear + 4·J]``: linear on the first channels, slerp per joint."""

    def blend(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        lin = a[:, :channels_linear] * (1 - w[:, None]) + b[:, :channels_linear] * w[:, None]
        qa = a[:, channels_linear:].reshape(len(a), -1, 4)
        qb = b[:, channels_linear:].reshape(len(b), -1, 4)
        q = quaternion_slerp(qa, qb, w[:, None].expand(-1, qa.shape[1]))
        return torch.cat([lin, q.reshape(len(a), -1)], dim=-1)

    return blend


class Generator:
    """Audio → dance with a trained denoiser (EMA weights) and its stored preprocessing.

    Use :func:`load` to build one from a checkpoint.
    """

    def __init__(
        self,
        denoiser: torch.nn.Module,
        schedule,
        representation,
        normalizer: MinMaxNormalizer,
        features,
        sampler,
        *,
        sampler_config: dict,
        guidance_weight: float,
        fps: float,
        window: int,
        info: dict[str, Any],
        device: str | torch.device = "cpu",
    ) -> None:
        self.denoiser = denoiser.eval().to(device)
        self.schedule = schedule
        self.representation = representation
        self.normalizer = normalizer
        self.features = features
        self.sampler = sampler
        self.sampler_config = sampler_config
        self.guidance_weight = float(guidance_weight)
        self.fps = float(fps)
        self.window = int(window)
        self.info = info
        self.device = torch.device(device)

    # --- audio → features -----------------------------------------------------------------------

    def audio_features(
        self, audio: AudioInput, sr: int | None = None, timings: dict | None = None
    ) -> np.ndarray:
        """Decode ``audio`` and extract features ``[N, F]`` at the model's fps (N = whole frames)."""
        if self.features is None:
            # e.g. converted EDGE Jukebox weights: the checkpoint names features a2a cannot compute.
            dim = self.info["feature_dim"]
            name = self.info.get("features_name") or f"{dim}-d"
            raise A2AError(
                f"{self.info['path']}: this model's audio features ({name}) are not available in a2a, so it "
                f"cannot generate from audio; compute them elsewhere and pass them as an array [N, {dim}] "
                f"at {self.fps:g} fps to Generator.generate_features(features)"
            )
        start = time.perf_counter()
        wave, rate = load_audio(audio, source_sr=sr)
        decoded = time.perf_counter()
        frames = int(len(wave) / rate * self.fps)
        if frames < 1:
            raise A2AError(
                f"audio is {len(wave) / rate:.3f} s long: shorter than one frame at {self.fps:g} fps"
            )
        params = self.features.params_for_file(audio) if isinstance(audio, str | os.PathLike) else {}
        feats = self.features(wave, rate, num_frames=frames, **params)
        if timings is not None:
            timings["decode"] = decoded - start
            timings["features"] = time.perf_counter() - decoded
        return feats

    # --- sampling -------------------------------------------------------------------------------

    def _sampler(self, sampler: dict | None, steps: int | None, eta: float | None):
        if sampler is None and steps is None and eta is None:
            return self.sampler
        config = dict(sampler if sampler is not None else self.sampler_config)
        if steps is not None:
            config["steps"] = steps
        if eta is not None:
            config["eta"] = eta
        _check_targets(config, "sampler")
        return instantiate(config)

    @torch.no_grad()
    def generate_features(
        self,
        features: np.ndarray,
        *,
        seed: int | None = None,
        sampler: dict | None = None,
        steps: int | None = None,
        eta: float | None = None,
        guidance: float | None = None,
        samples: int = 1,
        progress: bool = False,
    ) -> list[Motion]:
        """Motions for features ``[N, F]``: ``samples`` independent draws of N frames each."""
        feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
        if feats.ndim != 2 or feats.shape[1] != int(self.info["feature_dim"]):
            raise A2AError(f"features must be [N, {self.info['feature_dim']}], got {tuple(feats.shape)}")
        if samples < 1:
            raise A2AError(f"samples must be >= 1, got {samples}")
        frames = feats.shape[0]
        hop = self.window // 2
        plan = plan_windows(frames, self.window, hop)
        cond = slice_windows(feats, plan).to(self.device)  # [n, window, F]
        n = len(plan)
        weight = self.guidance_weight if guidance is None else float(guidance)
        # EDGE ramps guidance in over the steps for long form; a single window uses it throughout.
        guide = RampGuidance(weight) if n > 1 else ConstantGuidance(weight)
        inner = self._sampler(sampler, steps, eta)
        long_sampler = LongFormSampler(inner, hop)
        generator = torch.Generator(device="cpu")
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
        motions = []
        for _ in range(samples):
            x = long_sampler.sample(
                self.denoiser,
                (n, self.window, self.representation.dim),
                cond,
                schedule=self.schedule,
                generator=generator,
                guidance=guide,
                progress=progress,
                device=self.device,
            )
            motions.append(self._stitch(x, hop, frames))
        return motions

    def _stitch(self, x: torch.Tensor, hop: int, frames: int) -> Motion:
        """Normalised windows ``[n, window, D]`` → one Motion of ``frames`` frames."""
        raw = self.normalizer.inverse(x.detach().double().cpu())
        poses, trans = self.representation.decode(raw)  # [n, W, 24, 3], [n, W, 3] Y-up
        quats = standardize_quaternion(axis_angle_to_quaternion(poses))  # [n, W, 24, 4]
        packed = torch.cat([trans, quats.reshape(*quats.shape[:2], -1)], dim=-1)
        joined = stitch(packed, hop, total_frames=frames, blend_fn=_quaternion_blend(3))
        out_poses = quaternion_to_axis_angle(joined[:, 3:].reshape(frames, -1, 4))
        return Motion(out_poses.numpy(), joined[:, :3].numpy(), self.fps)

    # --- public API -----------------------------------------------------------------------------

    def generate(
        self,
        audio: AudioInput,
        sr: int | None = None,
        seed: int | None = None,
        *,
        sampler: dict | None = None,
        steps: int | None = None,
        eta: float | None = None,
        guidance: float | None = None,
        samples: int = 1,
        reduce: str = "mean",
        style: Any = None,
        timings: dict | None = None,
        progress: bool = False,
    ) -> Motion:
        """Dance for ``audio`` (path, encoded bytes, or waveform ``[n]`` with ``sr``), as long as the audio.

        Args:
            seed: same seed, same audio, same checkpoint → same motion.
            sampler / steps / eta: swap the sampler (a ``_target_`` dict) or change its settings.
            guidance: classifier-free guidance weight (default: the checkpoint's).
            samples, reduce: draw ``samples`` motions and combine them: ``mean`` averages joint rotations
                (normalised quaternion mean) and translations; ``medoid`` keeps the draw with the least
                summed joint-position distance to the others. The subnet-25 validator rewards closeness
                to one reference, so a consensus motion lowers the expected error.
            style: reserved for style-conditioned models; EDGE has no style input (must be ``None``).
            timings: optional dict that receives seconds for decode, features, sampling.
        """
        if style is not None:
            raise A2AError(f"this {self.info.get('model', 'model')} checkpoint takes no style input")
        if reduce not in REDUCTIONS:
            raise A2AError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        feats = self.audio_features(audio, sr, timings)
        start = time.perf_counter()
        motions = self.generate_features(
            feats,
            seed=seed,
            sampler=sampler,
            steps=steps,
            eta=eta,
            guidance=guidance,
            samples=samples,
            progress=progress,
        )
        motion = motions[0] if samples == 1 else combine_motions(motions, reduce)
        if timings is not None:
            timings["sampling"] = time.perf_counter() - start
        return motion

    def warm_up(self) -> None:
        """One throw-away generation (2 s of tone, one sampler step) so librosa/numba compilation and
        resampler set-up are paid now, not by the first timed request."""
        tone = np.sin(2 * np.pi * 220 * np.arange(2 * 22050) / 22050).astype(np.float32)
        self.generate_bvh(tone, sr=22050, seed=0, steps=1)

    def generate_bvh(
        self,
        audio: AudioInput,
        sr: int | None = None,
        seed: int | None = None,
        *,
        transform=None,
        timings: dict | None = None,
        **kwargs: Any,
    ) -> str:
        """:meth:`generate`, then the validator-exact BVH text the reference miner would send."""
        from a2a.motion.bvh import motion_to_bvh

        motion = self.generate(audio, sr, seed, timings=timings, **kwargs)
        start = time.perf_counter()
        text = motion_to_bvh(motion, transform)
        if timings is not None:
            timings["export"] = time.perf_counter() - start
        return text


def combine_motions(motions: list[Motion], reduce: str = "mean") -> Motion:
    """One motion from several draws of the same length: quaternion mean or medoid (see ``generate``)."""
    if reduce == "medoid":
        joints = np.stack([m.joints() for m in motions])  # [k, N, J, 3]
        dist = np.linalg.norm(joints[:, None] - joints[None], axis=-1).mean(axis=(-1, -2))  # [k, k]
        return motions[int(dist.sum(axis=1).argmin())]
    quats = np.stack([axis_angle_to_quaternion(m.poses) for m in motions])  # [k, N, J, 4]
    quats = np.where((quats * quats[:1]).sum(-1, keepdims=True) < 0, -quats, quats)  # same hemisphere
    mean_q = quats.mean(axis=0)
    poses = quaternion_to_axis_angle(mean_q / np.linalg.norm(mean_q, axis=-1, keepdims=True))
    trans = np.mean([m.trans for m in motions], axis=0)
    return Motion(poses, trans, motions[0].fps)


_REQUIRED_HPARAMS = ("denoiser", "schedule", "representation", "sampler", "features", "fps", "window")


def load(path: str | os.PathLike, device: str | torch.device = "cpu") -> Generator:
    """Rebuild the generator of an a2a checkpoint (training checkpoint or converted EDGE weights)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip/pickle/EOF errors all mean "not a readable checkpoint"
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or "a2a" not in ckpt:
        raise CheckpointError(
            f"{path}: not an a2a checkpoint (no 'a2a' block); convert EDGE weights with `a2a convert-edge`"
        )
    meta, hparams = ckpt["a2a"], ckpt.get("hyper_parameters") or {}
    missing = [k for k in _REQUIRED_HPARAMS if k not in hparams]
    missing += [f"a2a.{k}" for k in ("normalizer", "format") if k not in meta]
    if "state_dict" not in ckpt:
        missing.append("state_dict")
    if missing:
        raise CheckpointError(
            f"{path}: checkpoint lacks {', '.join(missing)} (written by a2a {meta.get('version', '?')}, "
            f"this is a2a {__version__})"
        )
    for key in ("denoiser", "schedule", "representation", "sampler", "features"):
        _check_targets(hparams[key], key)
    denoiser = instantiate(hparams["denoiser"])
    prefix = "ema_denoiser."
    weights = {k[len(prefix) :]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    if not weights:
        raise CheckpointError(f"{path}: no EMA denoiser weights ('{prefix}*') in the state_dict")
    try:
        denoiser.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored model config: {exc}") from None
    features_cfg = hparams["features"]
    extractor_cfg = features_cfg.get("extractor")  # None: no a2a extractor (generate_features only)
    features = None if extractor_cfg is None else instantiate(extractor_cfg)
    info = {
        "path": str(path),
        "model": hparams["denoiser"].get("_target_", "?").rsplit(".", 1)[-1],
        "version": meta.get("version"),
        "window": int(hparams["window"]),
        "fps": float(hparams["fps"]),
        "feature_dim": int(features_cfg["dim"]),
        "features": None if extractor_cfg is None else extractor_cfg.get("_target_"),
        "features_name": features_cfg.get("name"),
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
    }
    return Generator(
        denoiser,
        instantiate(hparams["schedule"]),
        instantiate(hparams["representation"]),
        MinMaxNormalizer.from_state_dict(meta["normalizer"]),
        features,
        instantiate(hparams["sampler"]),
        sampler_config=dict(hparams["sampler"]),
        guidance_weight=float(hparams.get("guidance_weight", 2.0)),
        fps=float(hparams["fps"]),
        window=int(hparams["window"]),
        info=info,
        device=device,
    )
