"""Any a2a checkpoint → :class:`Generator`; audio of any length → :class:`~a2a.motion.Motion` or BVH text.

``a2a.load(path)`` reads the checkpoint through :func:`a2a.checkpoint.read_checkpoint`
(``torch.load(weights_only=True)``, older formats migrated) and builds each part with
:func:`a2a.checkpoint.build`: stored configs are data, so a crafted checkpoint cannot make the loader
call anything but the model classes it is meant to build.

The generator is the same for every model family: audio features become the ``audio`` condition, the
checkpoint's long-form strategy (:class:`~a2a.diffusion.LongFormStrategy`; EDGE: half-overlapping
windows denoised in one batch, then cross-faded) plans and denoises the windows with the sampler, and
the representation turns them into one motion (its stitch space and blend: for EDGE a linear
cross-fade of the root and slerp of the joint rotations). Every length works, shorter than one window
included.
"""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2a.audio.decode import load_audio
from a2a.audio.features import file_params
from a2a.checkpoint import build, check_config, denoiser_weights, read_checkpoint
from a2a.data.naming import tempo_from_name
from a2a.diffusion import LongFormStrategy
from a2a.errors import A2AError, CheckpointError
from a2a.motion.motion import Motion
from a2a.motion.normalizer import Normalizer, normalizer_from_state_dict
from a2a.motion.rotations import axis_angle_to_quaternion, quaternion_mean, quaternion_to_axis_angle
from a2a.runtime import check_precision, compile_denoiser, precision_context, select_kernels

AudioInput = str | os.PathLike | bytes | np.ndarray
REDUCTIONS = ("mean", "medoid")
AUDIO = "audio"
# Conditions the generator itself provides to a denoiser (from the request's audio).
GENERATED_CONDITIONS = (AUDIO,)
# One model evaluation for any checkpoint, whatever its own sampler's settings.
WARM_UP_SAMPLER = {"_target_": "a2a.diffusion.PosteriorMeanSampler", "k": 1}


class Generator:
    """Audio → dance with a trained denoiser (EMA weights) and its stored preprocessing.

    Use :func:`load` to build one from a checkpoint. ``precision`` (fp32, bf16, fp16) and ``compile``
    choose how the denoiser runs (:mod:`a2a.runtime`); sampling runs under ``torch.inference_mode``, and
    the sampler calls the denoiser's ``prepare_conditions`` once per request (EDGE: the music encoder).
    """

    def __init__(
        self,
        denoiser: torch.nn.Module,
        schedule,
        representation,
        normalizer: Normalizer,
        features,
        sampler,
        longform: LongFormStrategy,
        *,
        sampler_config: dict,
        guidance_weight: float | dict[str, float],
        fps: float,
        window: int,
        info: dict[str, Any],
        device: str | torch.device = "cpu",
        precision: str = "fp32",
        compile: bool = False,
    ) -> None:
        self.precision = check_precision(precision, device)
        self.denoiser = denoiser.eval().to(device)
        select_kernels(self.denoiser, self.precision, device)
        # the module the samplers call: compiled on request (the first generation pays the compilation)
        self.model = compile_denoiser(self.denoiser) if compile else self.denoiser
        self.schedule = schedule
        self.representation = representation
        self.normalizer = normalizer
        self.features = features
        self.sampler = sampler
        self.longform = longform
        self.sampler_config = sampler_config
        self.guidance_weight = guidance_weight
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
        # A file named like AIST++ music carries its tempo (EDGE's beat-tracking prior).
        tempo = tempo_from_name(Path(audio).name) if isinstance(audio, str | os.PathLike) else None
        feats = self.features(wave, rate, num_frames=frames, **file_params(self.features, start_bpm=tempo))
        if timings is not None:
            timings["decode"] = decoded - start
            timings["features"] = time.perf_counter() - decoded
        return feats

    # --- sampling -------------------------------------------------------------------------------

    def sampler_for(self, sampler: dict | None = None, steps: int | None = None, eta: float | None = None):
        """The sampler a request uses: ``sampler`` (a ``_target_`` config; default the checkpoint's) with
        ``steps``/``eta`` overridden, checked against the model's schedule before any model call."""
        if sampler is None and steps is None and eta is None:
            return self.sampler
        config = dict(sampler if sampler is not None else self.sampler_config)
        accepted = inspect.signature(check_config(config, "sampler", "sampler")).parameters
        for option, value in (("steps", steps), ("eta", eta)):
            if value is None:
                continue
            if option not in accepted:
                raise A2AError(
                    f"{option}={value}: the sampler {config['_target_']} has no {option!r} setting; "
                    "drop the override"
                )
            config[option] = value
        built = build(config, "sampler", "sampler")
        built.timestep_pairs(self.schedule)  # steps beyond the schedule fail here, not mid-request
        return built

    @torch.inference_mode()
    def generate_features(
        self,
        features: np.ndarray,
        *,
        seed: int | None = None,
        sampler: dict | None = None,
        steps: int | None = None,
        eta: float | None = None,
        guidance: float | dict[str, float] | None = None,
        samples: int = 1,
        longform: dict | None = None,
        progress: bool = False,
    ) -> list[Motion]:
        """Motions for features ``[N, F]``: ``samples`` independent draws of N frames each.

        ``longform`` (a ``_target_`` config) replaces the checkpoint's long-form strategy.
        """
        feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
        if feats.ndim != 2 or feats.shape[1] != int(self.info["feature_dim"]):
            raise A2AError(f"features must be [N, {self.info['feature_dim']}], got {tuple(feats.shape)}")
        if samples < 1:
            raise A2AError(f"samples must be >= 1, got {samples}")
        frames = feats.shape[0]
        weight = self.guidance_weight if guidance is None else guidance
        inner = self.sampler_for(sampler, steps, eta)
        strategy = self.longform if longform is None else build(longform, "longform", "longform")
        generator = torch.Generator(device="cpu")
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(int(seed))
        motions = []
        for _ in range(samples):
            with precision_context(self.precision, self.device):
                windows = strategy.sample(
                    inner,
                    self.model,
                    frames=frames,
                    window=self.window,
                    dim=self.representation.dim,
                    frame_cond={AUDIO: feats},
                    static_cond={},
                    schedule=self.schedule,
                    guidance=weight,
                    generator=generator,
                    device=self.device,
                    progress=progress,
                )
            raw = self.normalizer.inverse(windows.detach().double().cpu())
            joined = strategy.join(self.representation.stitch_space(raw), frames, self.representation.blend)
            motions.append(self.representation.motion_from_stitch(joined, self.fps))
        return motions

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
        guidance: float | dict[str, float] | None = None,
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
            guidance: classifier-free guidance weight, or ``{condition: weight}`` (default: the
                checkpoint's).
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
        """One throw-away generation (8 s of tone: several windows; one model evaluation) so
        librosa/numba compilation, resampler set-up and a ``compile`` model's compilation are paid now,
        not by the first timed request."""
        tone = np.sin(2 * np.pi * 220 * np.arange(8 * 22050) / 22050).astype(np.float32)
        self.generate_bvh(tone, sr=22050, seed=0, sampler=WARM_UP_SAMPLER)

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
    poses = quaternion_to_axis_angle(quaternion_mean(quats, dim=0))
    trans = np.mean([m.trans for m in motions], axis=0)
    return Motion(poses, trans, motions[0].fps)


def load(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    precision: str = "fp32",
    compile: bool = False,
) -> Generator:
    """Rebuild the generator of an a2a checkpoint (any model family; training checkpoint or converted).

    ``precision`` (fp32, bf16, fp16) and ``compile`` choose how the denoiser runs (:mod:`a2a.runtime`).
    """
    path = Path(path)
    ckpt = read_checkpoint(path)
    meta, hparams = ckpt["a2a"], ckpt["hyper_parameters"]
    where = f"{path}: checkpoint config"
    denoiser = build(hparams["denoiser"], "denoiser", f"{where} denoiser")
    consumed = tuple(getattr(denoiser, "conditions", (AUDIO,)))
    stored = list(hparams.get("conditions") or [AUDIO])
    lacking = [key for key in consumed if key not in stored or key not in GENERATED_CONDITIONS]
    if lacking:
        raise CheckpointError(
            f"{path}: the denoiser {type(denoiser).__name__} consumes condition(s) {', '.join(lacking)}, "
            f"which this checkpoint (conditions: {', '.join(stored)}) and a2a's generator cannot provide"
        )
    try:
        denoiser.load_state_dict(denoiser_weights(ckpt, str(path)))
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored model config: {exc}") from None
    features_cfg = hparams["features"]
    extractor_cfg = features_cfg.get("extractor")  # None: no a2a extractor (generate_features only)
    features = (
        None if extractor_cfg is None else build(extractor_cfg, "features", f"{where} features.extractor")
    )
    info = {
        "path": str(path),
        "model": hparams["denoiser"].get("_target_", "?").rsplit(".", 1)[-1],
        "version": meta.get("version"),
        "format": meta.get("format"),
        "window": int(hparams["window"]),
        "fps": float(hparams["fps"]),
        "conditions": stored,
        "feature_dim": int(features_cfg["dim"]),
        "features": None if extractor_cfg is None else extractor_cfg.get("_target_"),
        "features_name": features_cfg.get("name"),
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
    }
    return Generator(
        denoiser,
        build(hparams["schedule"], "schedule", f"{where} schedule"),
        build(hparams["representation"], "representation", f"{where} representation"),
        normalizer_from_state_dict(meta["normalizer"]),
        features,
        build(hparams["sampler"], "sampler", f"{where} sampler"),
        build(hparams["longform"], "longform", f"{where} longform"),
        sampler_config=dict(hparams["sampler"]),
        guidance_weight=hparams.get("guidance_weight", 2.0),
        fps=float(hparams["fps"]),
        window=int(hparams["window"]),
        info=info,
        device=device,
        precision=precision,
        compile=compile,
    )
