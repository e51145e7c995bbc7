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
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from a2a.audio.decode import load_audio
from a2a.audio.features import check_windowing, extract_slices, file_params
from a2a.checkpoint import build, build_network, check_config, denoiser_weights, read_checkpoint
from a2a.checkpoint.attach import build_classifier
from a2a.data.naming import tempo_from_name
from a2a.diffusion import ConditionMix, LongFormStrategy, Sampler, plan_windows, slice_windows
from a2a.editing import Edit
from a2a.errors import A2AError, AudioError, CheckpointError
from a2a.motion.motion import Motion
from a2a.motion.normalizer import Normalizer, normalizer_from_state_dict
from a2a.motion.rotations import axis_angle_to_quaternion, quaternion_mean, quaternion_to_axis_angle
from a2a.runtime import check_precision, compile_denoiser, precision_context, select_kernels

log = logging.getLogger(__name__)

AudioInput = str | os.PathLike | bytes | np.ndarray
REDUCTIONS = ("mean", "medoid")
AUDIO = "audio"
AUTO = "auto"
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
        vocabularies: dict[str, list[str]] | None = None,
        classifier: dict[str, Any] | None = None,
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
        self.windowing = check_windowing(str(info.get("windowing", "per_song")))
        self.sampler_config = sampler_config
        self.guidance_weight = guidance_weight
        self.vocabularies = dict(vocabularies or {})
        # an attached classifier {network, target, labels, window}: picks the style the audio implies
        self.classifier = classifier
        if classifier is not None:
            classifier["network"].to(device)
        self.fps = float(fps)
        self.window = int(window)
        self.info = info
        self.device = torch.device(device)

    # --- audio → features -----------------------------------------------------------------------

    def audio_features(
        self,
        audio: AudioInput,
        sr: int | None = None,
        timings: dict | None = None,
        *,
        longform: dict | None = None,
    ) -> tuple[np.ndarray, int]:
        """Decode ``audio`` and extract its features at the model's fps, as the model was trained:

        ``(features, frames)`` with ``frames`` the whole frames of the audio and ``features`` ``[frames, F]``
        for ``per_song`` windowing, or ``[n, window, F]`` for ``per_slice`` (each window's audio extracted
        on its own, EDGE's way; the windows are the long-form strategy's, ``longform`` replacing it).
        """
        if self.features is None:
            # e.g. converted EDGE/DSG weights without the Jukebox/WavLM weights configured.
            dim = self.info["feature_dim"]
            name = self.info.get("features_name") or f"{dim}-d"
            reason = self.info.get("features_error")
            raise A2AError(
                f"{self.info['path']}: this model's audio features ({name}) are not available"
                + (f" ({reason})" if reason else "")
                + "; give their weights with features_path=DIR (a2a generate --features-path DIR), or "
                f"compute the features elsewhere and pass them to Generator.generate_features(features) "
                f"([N, {dim}] at {self.fps:g} fps, or per window)"
            )
        start = time.perf_counter()
        wave, rate = load_audio(audio, source_sr=sr)
        decoded = time.perf_counter()
        frames = int(len(wave) / rate * self.fps)
        if frames < 1:
            raise A2AError(
                f"audio is {len(wave) / rate:.3f} s long: shorter than one frame at {self.fps:g} fps"
            )
        strategy = self._strategy(longform)
        shortest = strategy.min_frames
        if frames < shortest:
            # DiffuseStyleGesture continues from a seed of this many frames
            raise A2AError(
                f"audio is {len(wave) / rate:.3f} s long ({frames} frames at {self.fps:g} fps): shorter than "
                f"the model's seed of {shortest} frames; give at least {shortest / self.fps:.2f} s"
            )
        # A file named like AIST++ music carries its tempo (EDGE's beat-tracking prior).
        tempo = tempo_from_name(Path(audio).name) if isinstance(audio, str | os.PathLike) else None
        params = file_params(self.features, start_bpm=tempo)
        if self.windowing == "per_slice":
            starts = strategy.window_starts(frames, self.window)
            feats = extract_slices(self.features, wave, rate, starts, self.window, **params)
        else:
            feats = self.features(wave, rate, num_frames=frames, **params)
        if timings is not None:
            timings["decode"] = decoded - start
            timings["features"] = time.perf_counter() - decoded
        return feats, frames

    def _strategy(self, longform: dict | None) -> LongFormStrategy:
        return self.longform if longform is None else build(longform, "longform", "requested longform")

    # --- sampling -------------------------------------------------------------------------------

    def sampler_for(
        self, sampler: dict | str | None = None, steps: int | None = None, eta: float | None = None
    ) -> Sampler:
        """The sampler a request uses: ``sampler`` (a member of the ``sampler`` config group by name, e.g.
        ``"posterior_mean"`` or ``"ddim_2"``, or a ``_target_`` config; default the checkpoint's) with
        ``steps``/``eta`` overridden, checked against the model's schedule before any model call."""
        if isinstance(sampler, str):
            from a2a.config import group_member  # Hydra's config tools, only when a name is given

            sampler = group_member("sampler", sampler)
        sampler = sampler or None  # {} is conf/sampler/checkpoint.yaml: the checkpoint's own
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
        built = build(config, "sampler", "requested sampler")
        built.timestep_pairs(self.schedule)  # steps beyond the schedule fail here, not mid-request
        return built

    @torch.inference_mode()
    def generate_features(
        self,
        features: np.ndarray,
        *,
        seed: int | None = None,
        sampler: dict | str | None = None,
        steps: int | None = None,
        eta: float | None = None,
        guidance: float | dict[str, float] | None = None,
        samples: int = 1,
        longform: dict | None = None,
        frames: int | None = None,
        edit: Edit | None = None,
        style: str | Sequence[str] | None = None,
        style_mix: float | None = None,
        info: dict | None = None,
        progress: bool = False,
    ) -> list[Motion]:
        """Motions for features ``[N, F]`` (per frame) or ``[n, window, F]`` (per window of the long-form
        strategy, e.g. EDGE's per-slice features; then ``frames`` = N is required): ``samples``
        independent draws of N frames each.

        ``longform`` (a ``_target_`` config) replaces the checkpoint's long-form strategy; ``edit``
        (:mod:`a2a.editing`) keeps part of a given motion exactly and generates the rest; ``style`` and
        ``style_mix`` choose the value of a style-like condition (see :meth:`generate`).
        """
        feats = torch.as_tensor(np.asarray(features, dtype=np.float32))
        dim = int(self.info["feature_dim"])
        strategy = self._strategy(longform)
        if feats.ndim == 2 and feats.shape[1] == dim:
            if frames is not None and frames != feats.shape[0]:
                raise A2AError(f"frames={frames} but the features have {feats.shape[0]} frames")
            frames = feats.shape[0]
            frame_cond, window_cond = {AUDIO: feats}, {}
        elif feats.ndim == 3 and feats.shape[1:] == (self.window, dim):
            if frames is None:
                raise A2AError("per-window features [n, window, F] need frames=N (the motion's length)")
            expected = len(strategy.window_starts(int(frames), self.window))
            if feats.shape[0] != expected:
                raise A2AError(
                    f"features hold {feats.shape[0]} windows, but {frames} frames take {expected} windows "
                    f"of {self.window} frames with {strategy!r}"
                )
            frame_cond, window_cond = {}, {AUDIO: feats}
        else:
            raise A2AError(
                f"features must be [N, {dim}] or [n, {self.window}, {dim}], got {tuple(feats.shape)}"
            )
        if samples < 1:
            raise A2AError(f"samples must be >= 1, got {samples}")
        weight = self.guidance_weight if guidance is None else guidance
        inner = self.sampler_for(sampler, steps, eta)
        keep = None if edit is None else self._keep(edit, int(frames))
        if style == AUTO or (style is None and self.classifier is not None):
            style = self._auto_style(feats, info)
        static_cond, denoiser = self._categorical(style, style_mix)
        missing = [
            key
            for key in self.consumed
            if key not in (*frame_cond, *window_cond, *static_cond, *strategy.provides)
        ]
        if missing:
            raise A2AError(
                f"{self.info.get('model', 'the model')} needs condition(s) {', '.join(missing)}, which "
                f"{strategy!r} does not provide; use the checkpoint's long-form strategy"
            )
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
                    denoiser,
                    frames=frames,
                    window=self.window,
                    dim=self.representation.dim,
                    frame_cond=frame_cond,
                    static_cond=static_cond,
                    window_cond=window_cond,
                    keep=keep,
                    schedule=self.schedule,
                    guidance=weight,
                    generator=generator,
                    device=self.device,
                    progress=progress,
                )
            raw = self.normalizer.inverse(windows.detach().double().cpu())
            joined = strategy.join(
                self.representation.stitch_space(raw),
                frames,
                self.representation.blend,
                getattr(self.representation, "align", None),
            )
            motions.append(self.representation.motion_from_stitch(joined, self.fps))
        return motions

    @property
    def consumed(self) -> tuple[str, ...]:
        """The condition keys the denoiser consumes."""
        return tuple(getattr(self.denoiser, "conditions", (AUDIO,)))

    @property
    def style_key(self) -> str | None:
        """The categorical condition ``style=`` sets (``style`` for gestures, ``genre`` for dance), if any."""
        keys = [key for key in self.consumed if key in self.vocabularies]
        return keys[0] if keys else None

    @property
    def styles(self) -> list[str]:
        """The values ``style=`` accepts, in the model's one-hot order (empty for models without one)."""
        key = self.style_key
        return list(self.vocabularies[key]) if key else []

    def predict_style(self, audio: AudioInput, sr: int | None = None) -> tuple[str, dict[str, float]]:
        """The style (genre) the attached classifier hears in ``audio`` and every label's probability."""
        feats, _ = self.audio_features(audio, sr)
        info: dict = {}
        label = self._auto_style(torch.as_tensor(np.asarray(feats, dtype=np.float32)), info)
        return label, info["style_probabilities"]

    def _auto_style(self, feats: torch.Tensor, info: dict | None) -> str:
        """The style the attached classifier hears in ``feats`` (``[N, F]`` per frame, or per window)."""
        if self.classifier is None:
            raise A2AError(
                f"{self.info['path']}: style=auto needs a classifier in the checkpoint "
                "(a2a attach-classifier MODEL CLASSIFIER OUT); name a style instead"
            )
        window = int(self.classifier["window"])
        if feats.ndim == 2:
            plan = plan_windows(len(feats), window, max(1, window // 2))
            feats = slice_windows(feats, plan)
        probabilities = self.classifier["network"].predict_song(feats.to(self.device)).cpu()
        labels = self.classifier["labels"]
        best = int(probabilities.argmax())
        if info is not None:
            info["style"] = labels[best]
            info["style_probability"] = float(probabilities[best])
            info["style_probabilities"] = {
                label: float(p) for label, p in zip(labels, probabilities, strict=True)
            }
        return labels[best]

    def _one_hot(self, name: str) -> torch.Tensor:
        styles = self.styles
        if name not in styles and len(name) == 3 and name[0] == "g" and name[1:] in styles:
            name = name[1:]  # AIST++ writes genres as in its file names: gHO
        if name not in styles:
            raise A2AError(f"unknown style {name!r}; this model knows {', '.join(styles)}")
        return torch.eye(len(styles))[styles.index(name)]

    def _categorical(
        self, style: str | Sequence[str] | None, style_mix: float | None
    ) -> tuple[dict[str, torch.Tensor], Any]:
        """The per-sequence condition for ``style`` and the denoiser to sample with (wrapped in a
        :class:`~a2a.diffusion.ConditionMix` for two styles or an extrapolation)."""
        key = self.style_key
        if key is None:
            if style is not None or style_mix is not None:
                raise A2AError(f"this {self.info.get('model', 'model')} checkpoint takes no style input")
            return {}, self.model
        names = [style] if isinstance(style, str) else list(style or [self.styles[0]])
        if not 1 <= len(names) <= 2:
            raise A2AError(f"style takes one style or two to mix, got {len(names)}: {names}")
        first = self._one_hot(names[0])
        if len(names) == 2:
            gamma = 0.5 if style_mix is None else float(style_mix)
            return {key: first}, ConditionMix(self.model, key, self._one_hot(names[1]), gamma)
        if style_mix is not None:
            # γ·D(style) + (1 − γ)·D(null style): γ > 1 extrapolates away from the null style
            return {key: first}, ConditionMix(self.model, key, None, float(style_mix))
        return {key: first}, self.model

    def _keep(self, edit: Edit, frames: int) -> tuple[torch.Tensor, torch.Tensor]:
        """An edit as ``(mask, value)`` ``[frames, D]`` in the model's normalised space."""
        motion = edit.motion
        if abs(motion.fps - self.fps) > 1e-6:
            raise A2AError(
                f"the motion to keep is {motion.fps:g} fps but the model runs at {self.fps:g}: resample it "
                "first (Motion.resample)"
            )
        if edit.frames[frames:].any():
            last = int(np.flatnonzero(edit.frames)[-1])
            raise A2AError(
                f"the kept frames run to frame {last + 1}, past the music's {frames} frames; use longer "
                "audio or a shorter motion"
            )
        encoded = torch.from_numpy(np.asarray(self.representation.encode(motion), dtype=np.float64))
        normalised = torch.as_tensor(self.normalizer.normalize(encoded))[:frames]
        value = torch.zeros(frames, self.representation.dim, dtype=torch.float64)
        value[: len(normalised)] = normalised
        channels = torch.from_numpy(self.representation.channel_mask(edit.joints, edit.root))
        kept_frames = torch.zeros(frames, dtype=torch.bool)
        kept_frames[: len(edit.frames)] = torch.from_numpy(edit.frames[:frames])
        mask = kept_frames[:, None] & channels[None, :]
        # A min-max normaliser clips what lies beyond the training data's range; those values cannot be kept.
        restored = torch.as_tensor(self.normalizer.inverse(normalised))
        clipped = int(((restored - encoded[:frames]).abs() > 1e-6)[mask[: len(normalised)]].sum())
        if clipped:
            log.warning(
                "%d kept values lie outside the range of the training data and are kept clipped to it",
                clipped,
            )
        return mask, value

    # --- public API -----------------------------------------------------------------------------

    def generate(
        self,
        audio: AudioInput,
        sr: int | None = None,
        seed: int | None = None,
        *,
        sampler: dict | str | None = None,
        steps: int | None = None,
        eta: float | None = None,
        guidance: float | dict[str, float] | None = None,
        samples: int = 1,
        reduce: str = "mean",
        longform: dict | None = None,
        edit: Edit | None = None,
        style: str | Sequence[str] | None = None,
        style_mix: float | None = None,
        info: dict | None = None,
        timings: dict | None = None,
        progress: bool = False,
    ) -> Motion:
        """Dance for ``audio`` (path, encoded bytes, or waveform ``[n]`` with ``sr``), as long as the audio.

        Args:
            seed: same seed, same audio, same checkpoint → same motion.
            sampler / steps / eta: swap the sampler (a member of the ``sampler`` group by name, e.g.
                ``"posterior_mean"``, ``"ddim_2"``, or a ``_target_`` dict) or change its settings.
            guidance: classifier-free guidance weight, or ``{condition: weight}`` (default: the
                checkpoint's).
            samples, reduce: draw ``samples`` motions and combine them: ``mean`` averages joint rotations
                (normalised quaternion mean) and translations; ``medoid`` keeps the draw with the least
                summed joint-position distance to the others. The subnet-25 validator rewards closeness
                to one reference, so a consensus motion lowers the expected error.
            longform: a ``_target_`` config replacing the checkpoint's long-form strategy.
            edit: keep part of a given motion exactly (joints, a prefix, or the frames around a gap;
                :mod:`a2a.editing`) and generate the rest to fit the music.
            style: for models with a style-like condition (DiffuseStyleGesture's style, a dance model's
                genre): one value (default: the first the model knows, :attr:`styles`), or two to mix.
            style_mix: with two styles, the weight γ of the first: γ·D(first) + (1 − γ)·D(second); with
                one, γ·D(style) + (1 − γ)·D(no style), which exaggerates the style for γ > 1.
                Style guidance is ``guidance={"style": w}``. ``"auto"`` (the default when the checkpoint
                carries a classifier, :mod:`a2a.checkpoint.attach`) picks the style the audio implies.
            info: receives what generation decided: ``style`` (and ``style_probability``) when picked.
            timings: optional dict that receives seconds for decode, features, sampling.
        """
        if reduce not in REDUCTIONS:
            raise A2AError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
        feats, frames = self.audio_features(audio, sr, timings, longform=longform)
        start = time.perf_counter()
        motions = self.generate_features(
            feats,
            frames=frames,
            seed=seed,
            sampler=sampler,
            steps=steps,
            eta=eta,
            guidance=guidance,
            samples=samples,
            longform=longform,
            edit=edit,
            style=style,
            style_mix=style_mix,
            info=info,
            progress=progress,
        )
        motion = motions[0] if samples == 1 else combine_motions(motions, reduce)
        if timings is not None:
            timings["sampling"] = time.perf_counter() - start
        return motion

    def warm_up(self, **settings: Any) -> None:
        """One throw-away generation (8 s of tone: several windows; one model evaluation) so
        librosa/numba compilation, resampler set-up and a ``compile`` model's compilation are paid now,
        not by the first timed request. ``settings`` (``style``, ``samples``, ...) are those the requests
        will use: a bad one fails here."""
        tone = np.sin(2 * np.pi * 220 * np.arange(8 * 22050) / 22050).astype(np.float32)
        self.generate_bvh(tone, sr=22050, seed=0, **settings, sampler=WARM_UP_SAMPLER)

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
        """:meth:`generate`, then BVH text: for SMPL-24 models the validator-exact BVH the reference miner
        would send (``transform``: its placement); other rigs (gestures) in their own rig, as trained."""
        from a2a.motion.bvh import motion_to_bvh, motion_to_rig_bvh

        motion = self.generate(audio, sr, seed, timings=timings, **kwargs)
        start = time.perf_counter()
        if self.representation.validator_rig:
            text = motion_to_bvh(motion, transform)
        else:
            text = motion_to_rig_bvh(motion)
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
    return motions[0].with_poses(poses, trans)  # on the draws' own rig


def _local_settings(
    config: dict[str, Any],
    features_path: str | os.PathLike | None,
    device: str | torch.device,
    where: str,
) -> dict[str, Any]:
    """The extractor config with its local settings from the user, never from the checkpoint: the file's
    paths become ``None`` (a published checkpoint must not choose where the loader reads or writes),
    ``features_path`` fills the first one, and the extractor runs on the generator's ``device`` (not on
    the one it was trained on)."""
    cls = check_config(config, "features", where)
    local = cls.local_paths
    ignored = [key for key in local if config.get(key) is not None]
    if ignored:
        shown = ", ".join(ignored)
        log.warning("%s: the stored %s is not used (local paths come from you: features_path=)", where, shown)
    config = {**config, **dict.fromkeys(local)}
    if features_path is not None:
        config[local[0] if local else "path"] = str(features_path)
    if cls.local_device is not None:
        config[cls.local_device] = str(torch.device(device))
    return config


def load(
    path: str | os.PathLike,
    device: str | torch.device = "cpu",
    features_path: str | os.PathLike | None = None,
    precision: str = "fp32",
    compile: bool = False,
) -> Generator:
    """Rebuild the generator of an a2a checkpoint (any model family; training checkpoint or converted).

    ``features_path`` points the audio feature extractor at its weights (a WavLM-Large folder, the Jukebox
    files) where the checkpoint cannot carry them; without it such a model still loads, and generating
    from audio explains what is missing (``generate_features`` works). ``device`` is where the denoiser
    and the feature extractor run, whatever device the checkpoint was trained on. ``precision`` (fp32,
    bf16, fp16) and ``compile`` choose how the denoiser runs (:mod:`a2a.runtime`).
    """
    path = Path(path)
    ckpt = read_checkpoint(path)
    meta, hparams = ckpt["a2a"], ckpt["hyper_parameters"]
    if meta.get("kind") == "classifier":
        raise CheckpointError(
            f"{path}: a classifier checkpoint, not a generator; put it into a genre-conditioned model's "
            "checkpoint with `a2a attach-classifier MODEL CLASSIFIER OUT`"
        )
    where = f"{path}: checkpoint config"
    denoiser = build_network(
        hparams["denoiser"], "denoiser", f"{where} denoiser", denoiser_weights(ckpt, str(path))
    )
    longform = build(hparams["longform"], "longform", f"{where} longform")
    vocabularies = {
        str(k): [str(v) for v in values] for k, values in (meta.get("vocabularies") or {}).items()
    }
    consumed = tuple(getattr(denoiser, "conditions", (AUDIO,)))
    stored = list(hparams.get("conditions") or [AUDIO])
    # the generator makes audio from the request, categorical conditions from their stored values, and the
    # long-form strategy fills in its own (a seed from the previous window)
    producible = {*GENERATED_CONDITIONS, *vocabularies, *longform.provides}
    lacking = [key for key in consumed if key not in stored or key not in producible]
    if lacking:
        raise CheckpointError(
            f"{path}: the denoiser {type(denoiser).__name__} consumes condition(s) {', '.join(lacking)}, "
            f"which this checkpoint (conditions: {', '.join(stored)}; values stored for: "
            f"{', '.join(vocabularies) or 'none'}) and a2a's generator cannot provide"
        )
    classifier = None
    if "classifier" in meta:
        entry = meta["classifier"]
        classifier = {
            "network": build_classifier(entry, str(path)),
            "target": entry["target"],
            "labels": list(entry["labels"]),
            "window": int(entry.get("window", hparams["window"])),
        }
    features_cfg = hparams["features"]
    extractor_cfg = features_cfg.get("extractor")  # None: no a2a extractor (generate_features only)
    if extractor_cfg is not None:
        extractor_cfg = _local_settings(extractor_cfg, features_path, device, f"{where} features.extractor")
    features, features_error = None, None
    if extractor_cfg is not None:
        try:
            features = build(extractor_cfg, "features", f"{where} features.extractor")
        except AudioError as exc:  # the extractor's weights are not here: say so when audio comes
            features_error = str(exc)
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
        "features_error": features_error,
        "windowing": features_cfg.get("windowing", "per_song"),
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
    }
    representation = build(hparams["representation"], "representation", f"{where} representation")
    width = getattr(denoiser, "nfeats", representation.dim)
    if width != representation.dim:
        raise CheckpointError(
            f"{path}: the denoiser makes {width} motion channels but the representation "
            f"{type(representation).__name__} has {representation.dim}: its output cannot become motion"
        )
    schedule = build(hparams["schedule"], "schedule", f"{where} schedule")
    sampler = build(hparams["sampler"], "sampler", f"{where} sampler")
    try:  # the checkpoint's own sampler must fit its schedule: refused here, not at the first request
        sampler.timestep_pairs(schedule)
    except A2AError as exc:
        raise CheckpointError(f"{where} sampler: {exc}") from None
    return Generator(
        denoiser,
        schedule,
        representation,
        normalizer_from_state_dict(meta["normalizer"]),
        features,
        sampler,
        longform,
        sampler_config=dict(hparams["sampler"]),
        vocabularies=vocabularies,
        classifier=classifier,
        guidance_weight=hparams.get("guidance_weight", 2.0),
        fps=float(hparams["fps"]),
        window=int(hparams["window"]),
        info=info,
        device=device,
        precision=precision,
        compile=compile,
    )
