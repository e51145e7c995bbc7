"""Long-form generation: sequences longer than one training window (EDGE ``long_ddim_sample``).

A sequence of ``num_frames`` is cut into windows of ``window`` frames starting every ``hop`` frames
(EDGE: hop = window/2). All windows of ONE sequence are denoised together as one batch
(B = number of windows). After every step but the last, the first ``window − hop`` frames of window i
are overwritten with the last ``window − hop`` frames of window i − 1, so the overlaps nearly agree; as in
EDGE the final x̂0 keeps each window's own overlap, and :func:`stitch` cross-fades the two versions while
joining the windows into one sequence of ``window + hop·(n − 1)`` frames (cropped to the caller's length).
``constrain_final=True`` copies on the final step too (the windows then agree exactly and every boundary
is a hard switch: a2a 0.1's seams).

The last window is padded when the frames do not fill it (also when the sequence is shorter than one
window). :func:`plan_windows` reports the padding; the caller pads the conditioning the same way (for
example with :func:`slice_windows`, which repeats the last frame or appends zeros) and crops the
stitched result to ``num_frames``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence

import torch
from torch import Tensor

from a2a.diffusion.conditions import DenoiserWrapper
from a2a.diffusion.constraints import FINAL_STEP, Constraint, StepConstraint, as_constraint_list
from a2a.diffusion.guidance import (
    Conditioning,
    ConstantGuidance,
    Denoiser,
    GuidanceSchedule,
    GuidanceWeight,
    RampGuidance,
)
from a2a.diffusion.samplers import Sampler, StepPlan
from a2a.diffusion.schedules import NoiseSchedule
from a2a.errors import A2AError

BlendFn = Callable[[Tensor, Tensor, Tensor], Tensor]
# align_fn(reference [C], window [W, C]) -> window moved so that its first frame continues the reference
AlignFn = Callable[[Tensor, Tensor], Tensor]
# Windows start at least this fraction of a window apart: a smaller hop only adds windows (one per frame
# at the limit, each a full denoising batch row) for overlaps that the cross-fade cannot use.
MIN_HOP_FRACTION = 0.1


def _check_window_hop(window: int, hop: int) -> tuple[int, int]:
    if isinstance(window, bool) or int(window) != window or int(window) < 1:
        raise A2AError(f"window must be a positive integer, got {window!r}")
    if isinstance(hop, bool) or int(hop) != hop or not 1 <= int(hop) <= int(window):
        raise A2AError(f"hop must be an integer in 1..window ({window}), got {hop!r}")
    return int(window), int(hop)


class WindowPlan(Sequence[tuple[int, int]]):
    """The windows ``(start, end)`` (end exclusive) covering ``num_frames``; behaves as a list of them.

    Only the last window may end past ``num_frames``; ``padding`` frames must be added at the end of
    the conditioning, and the stitched output is cropped back to ``num_frames``.
    """

    def __init__(self, num_frames: int, window: int, hop: int) -> None:
        self.num_frames = num_frames
        self.window = window
        self.hop = hop
        count = 1 + max(0, math.ceil((num_frames - window) / hop))
        self.windows = [(k * hop, k * hop + window) for k in range(count)]

    @property
    def padded_frames(self) -> int:
        """Frames covered by the windows: ``window + hop·(n − 1)``."""
        return self.windows[-1][1]

    @property
    def padding(self) -> int:
        """Frames appended after ``num_frames`` to fill the last window."""
        return self.padded_frames - self.num_frames

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index):  # type: ignore[override]
        return self.windows[index]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.windows)

    def __repr__(self) -> str:
        return (
            f"WindowPlan(num_frames={self.num_frames}, window={self.window}, hop={self.hop}, "
            f"windows={len(self)}, padding={self.padding})"
        )


def plan_windows(num_frames: int, window: int, hop: int | None = None) -> WindowPlan:
    """Windows of ``window`` frames every ``hop`` frames (default window // 2) covering ``num_frames``.

    ``plan_windows(900, 150, 75)`` gives 11 windows (0, 150) … (750, 900) and no padding;
    ``plan_windows(100, 150, 75)`` gives one window (0, 150) with padding 50.
    """
    window, hop = _check_window_hop(window, window // 2 if hop is None else hop)
    if isinstance(num_frames, bool) or int(num_frames) != num_frames or int(num_frames) < 1:
        raise A2AError(f"num_frames must be a positive integer, got {num_frames!r}")
    return WindowPlan(int(num_frames), window, hop)


def slice_windows(sequence: Tensor, plan: WindowPlan, pad: str = "edge") -> Tensor:
    """Cut a per-frame sequence ``[N, ...]`` (e.g. audio features) into ``[n_windows, window, ...]``.

    Args:
        sequence: ``[plan.num_frames, ...]``.
        plan: from :func:`plan_windows`.
        pad: how the ``plan.padding`` missing frames are filled: "edge" repeats the last frame,
            "zeros" appends zeros.
    """
    if sequence.dim() < 1 or sequence.shape[0] != plan.num_frames:
        raise A2AError(
            f"sequence shape {tuple(sequence.shape)}: the plan expects {plan.num_frames} frames first"
        )
    if plan.padding:
        if pad == "edge":
            filler = sequence[-1:].expand(plan.padding, *sequence.shape[1:])
        elif pad == "zeros":
            filler = sequence.new_zeros(plan.padding, *sequence.shape[1:])
        else:
            raise A2AError(f"pad must be 'edge' or 'zeros', got {pad!r}")
        sequence = torch.cat([sequence, filler], dim=0)
    return torch.stack([sequence[start:end] for start, end in plan])


class WindowOverlap:
    """Step constraint making each window's first ``window − hop`` frames equal the previous window's last.

    ``x [n_windows, window, D]``; applied after every step, the final one included unless ``final`` is
    False (then the final x̂0 of each window keeps its own overlap, for the stitch to blend).
    """

    def __init__(self, hop: int, final: bool = True) -> None:
        if isinstance(hop, bool) or int(hop) != hop or int(hop) < 1:
            raise A2AError(f"hop must be a positive integer, got {hop!r}")
        self.hop = int(hop)
        self.final = bool(final)

    def check(self, shape: tuple[int, int, int]) -> None:
        if self.hop > shape[1]:
            raise A2AError(f"hop={self.hop} exceeds the window length {shape[1]} (shape[1])")

    def apply(
        self, x: Tensor, t_next: int, schedule: NoiseSchedule, generator: torch.Generator | None
    ) -> Tensor:
        window, hop = x.shape[1], self.hop
        overlap = window - hop
        if x.shape[0] < 2 or overlap == 0 or (t_next == FINAL_STEP and not self.final):
            return x
        x = x.clone()
        if overlap <= hop:
            # the frames written (:overlap) and read (hop:) are disjoint: one copy, as EDGE does it
            x[1:, :overlap] = x[:-1, hop:].clone()
        else:
            # a frame lies in more than two windows: propagate in order so all copies agree
            for i in range(1, x.shape[0]):
                x[i, :overlap] = x[i - 1, hop:]
        return x


class LongFormSampler:
    """Wrap any sampler for long-form generation of ONE sequence: batch = its windows, in order.

    Same ``sample`` signature as the inner sampler; ``shape = (n_windows, window, D)`` and ``cond`` holds
    one entry per window (see :func:`slice_windows`). A user ``constraint`` (e.g. keyframes laid out per
    window, consistent across overlaps) is applied before the overlap copy at every step. EDGE pairs this
    with :class:`~a2a.diffusion.RampGuidance`; pass it as ``guidance``.

    Args:
        inner_sampler: e.g. ``DDIMSampler(steps=50, eta=1.0)``.
        hop: frames between window starts (EDGE: window/2 = 75).
        constrain_final: copy the overlaps on the final x̂0 as well (off, as in EDGE).
    """

    def __init__(self, inner_sampler: Sampler, hop: int, constrain_final: bool = False) -> None:
        if not isinstance(inner_sampler, Sampler):
            raise A2AError(f"inner_sampler must be a Sampler, got {type(inner_sampler).__name__}")
        self.inner_sampler = inner_sampler
        self.overlap = WindowOverlap(hop, final=constrain_final)

    @property
    def hop(self) -> int:
        return self.overlap.hop

    def plan(self, schedule: NoiseSchedule, guidance: float | GuidanceSchedule | None = None) -> StepPlan:
        """The inner sampler's ``(t, t_next, weight)`` steps."""
        return self.inner_sampler.plan(schedule, guidance)

    def sample(
        self,
        denoiser: Denoiser,
        shape: Sequence[int],
        cond: Conditioning,
        *,
        schedule: NoiseSchedule,
        generator: torch.Generator | None = None,
        guidance: float | GuidanceSchedule | None = None,
        constraint: StepConstraint | Sequence[StepConstraint] | None = None,
        x_T: Tensor | None = None,
        progress: bool = False,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Sample all windows ``[n_windows, window, D]`` of one sequence with exactly agreeing overlaps."""
        constraints = [*as_constraint_list(constraint), self.overlap]
        return self.inner_sampler.sample(
            denoiser,
            shape,
            cond,
            schedule=schedule,
            generator=generator,
            guidance=guidance,
            constraint=constraints,
            x_T=x_T,
            progress=progress,
            device=device,
        )

    def __repr__(self) -> str:
        return f"LongFormSampler(inner_sampler={self.inner_sampler!r}, hop={self.hop})"


def linear_blend(a: Tensor, b: Tensor, w: Tensor) -> Tensor:
    """Linear cross-fade ``a·(1 − w) + b·w``; ``a, b [L, ...]``, ``w [L]`` from 0 (all a) to 1 (all b)."""
    w = w.reshape(w.shape + (1,) * (a.dim() - 1))
    return a * (1 - w) + b * w


def stitch(
    windows: Tensor,
    hop: int,
    total_frames: int | None = None,
    blend_fn: BlendFn | None = None,
) -> Tensor:
    """Overlap-add windows ``[n, window, ...]`` into one sequence ``[total_frames, ...]``.

    Each overlap of L = window − hop frames is blended with weights ``w = linspace(0, 1, L)`` (EDGE's
    fade-out ``1 − w`` for the earlier window, fade-in ``w`` for the later). ``blend_fn(a [L, ...],
    b [L, ...], w [L]) -> [L, ...]`` replaces the linear blend (e.g. slerp for quaternion channels;
    it sees all trailing channels, so it can treat groups differently). The full length is
    ``window + hop·(n − 1)``; ``total_frames`` (default: the full length) crops the end (padding).
    """
    if windows.dim() < 2 or windows.shape[0] < 1:
        raise A2AError(f"windows must be [n, window, ...] with n >= 1, got shape {tuple(windows.shape)}")
    count, window = windows.shape[0], windows.shape[1]
    window, hop = _check_window_hop(window, hop)
    full = window + hop * (count - 1)
    total = full if total_frames is None else total_frames
    if isinstance(total, bool) or int(total) != total or not 1 <= int(total) <= full:
        raise A2AError(
            f"total_frames must be an integer in 1..{full} (window + hop·(n − 1)), got {total_frames!r}"
        )
    blend = linear_blend if blend_fn is None else blend_fn
    overlap = window - hop
    weights = torch.linspace(0, 1, overlap, dtype=windows.dtype, device=windows.device)
    committed: list[Tensor] = []
    current = windows[0]
    for i in range(1, count):
        if overlap:
            blended = blend(current[hop:], windows[i, :overlap], weights)
            if blended.shape != current[hop:].shape:
                raise A2AError(
                    f"blend_fn returned shape {tuple(blended.shape)}, expected {tuple(current[hop:].shape)}"
                )
            current_next = torch.cat([blended, windows[i, overlap:]], dim=0)
        else:
            current_next = windows[i]
        committed.append(current[:hop])
        current = current_next
    committed.append(current)
    return torch.cat(committed, dim=0)[: int(total)]


class LongFormStrategy(ABC):
    """How a model family turns audio of any length into one motion: plan the windows, denoise them,
    join them. Stored in the checkpoint (``longform`` config) and swappable at generation time.

    Conditions come in three mappings: ``frame_cond`` holds per-frame tensors ``[N, ...]`` (audio features)
    that the strategy cuts into windows; ``window_cond`` holds tensors already cut into the strategy's
    windows ``[n, window, ...]`` (features extracted per window's audio, EDGE's per-slice way; window k
    starts at frame ``window_starts(N, window)[k]``); ``static_cond`` holds per-sequence tensors ``[...]``
    (a style) given to every window. Denoised windows stay in the model's normalised space; :meth:`join`
    works on whatever per-frame channels the caller hands it (the representation's stitch space).
    """

    @abstractmethod
    def hop(self, window: int) -> int:
        """Frames between the starts of consecutive windows of ``window`` frames."""

    def plan(self, frames: int, window: int) -> WindowPlan:
        """The windows covering ``frames`` frames (the last one padded)."""
        return plan_windows(frames, window, self.hop(window))

    def window_starts(self, frames: int, window: int) -> list[int]:
        """The first frame of each window the strategy denoises for a sequence of ``frames`` frames."""
        return [start for start, _ in self.plan(frames, window)]

    @abstractmethod
    def sample(
        self,
        sampler: Sampler,
        denoiser: Denoiser,
        *,
        frames: int,
        window: int,
        dim: int,
        frame_cond: Mapping[str, Tensor],
        static_cond: Mapping[str, Tensor],
        schedule: NoiseSchedule,
        guidance: GuidanceWeight,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
        window_cond: Mapping[str, Tensor] | None = None,
        keep: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """Denoised windows ``[n, window, dim]`` covering ``frames`` frames.

        ``keep = (mask [frames, dim], value [frames, dim])`` (normalised space): values to keep exactly
        where the mask is 1 (editing; replace-style inpainting through every step, final one included).
        """

    #: condition keys the strategy fills in itself (e.g. the seed frames of seeded continuation)
    provides: tuple[str, ...] = ()

    @property
    def min_frames(self) -> int:
        """The shortest sequence the strategy generates (seeded continuation: its seed)."""
        return 1

    @abstractmethod
    def join(
        self, windows: Tensor, frames: int, blend_fn: BlendFn | None = None, align_fn: AlignFn | None = None
    ) -> Tensor:
        """Windows ``[n, window, C]`` (as returned by :meth:`sample`, mapped channel-wise by the caller)
        → one sequence ``[frames, C]``; ``blend_fn`` cross-fades overlapping frames, ``align_fn`` (where
        the strategy uses it) moves a window to continue from a frame of the previous one."""


def window_conditions(
    frame_cond: Mapping[str, Tensor],
    static_cond: Mapping[str, Tensor],
    plan: WindowPlan,
    window_cond: Mapping[str, Tensor] | None = None,
) -> dict[str, Tensor]:
    """Per-window conditions: per-frame tensors cut by ``plan`` (last frame repeated into the padding),
    per-window tensors as given (``[len(plan), window, ...]``), per-sequence tensors repeated for every
    window."""
    cond = {key: slice_windows(value, plan) for key, value in frame_cond.items()}
    for key, value in (window_cond or {}).items():
        if key in cond:
            raise A2AError(f"condition {key!r} is given both per frame and per window")
        if value.dim() < 2 or tuple(value.shape[:2]) != (len(plan), plan.window):
            raise A2AError(
                f"per-window condition {key!r} has shape {tuple(value.shape)}; the plan has {len(plan)} "
                f"windows of {plan.window} frames"
            )
        cond[key] = value
    for key, value in static_cond.items():
        if key in cond:
            raise A2AError(f"condition {key!r} is given both per frame and per sequence")
        cond[key] = value.unsqueeze(0).expand(len(plan), *value.shape).contiguous()
    return cond


class OverlapStitch(LongFormStrategy):
    """EDGE's long form: windows every ``hop`` frames, all denoised in ONE batch, their overlaps made
    to agree after every step (:class:`WindowOverlap`), then stitched with a cross-fade.

    Args:
        hop_fraction: hop as a fraction of the window, in [:data:`MIN_HOP_FRACTION`, 1] (EDGE: 0.5, i.e. 75
            of 150 frames).
        ramp_guidance: with more than one window, ramp the guidance weight in over the steps
            (:class:`RampGuidance`, EDGE's ``long_ddim_sample``); a single window always uses it throughout.
        constrain_final: copy the overlaps on the final x̂0 as well (then the windows agree exactly, the
            cross-fade has nothing to blend and each boundary is a hard switch; a2a 0.1's behaviour, kept
            as an option). Off by default, as in EDGE: the final windows disagree a little and are blended.
    """

    def __init__(
        self, hop_fraction: float = 0.5, ramp_guidance: bool = True, constrain_final: bool = False
    ) -> None:
        hop_fraction = float(hop_fraction)
        if not MIN_HOP_FRACTION <= hop_fraction <= 1.0:
            raise A2AError(f"longform.hop_fraction must lie in [{MIN_HOP_FRACTION}, 1], got {hop_fraction}")
        self.hop_fraction = hop_fraction
        self.ramp_guidance = bool(ramp_guidance)
        self.constrain_final = bool(constrain_final)

    def hop(self, window: int) -> int:
        """Frames between window starts for a window of ``window`` frames (at least 1)."""
        return max(1, int(window * self.hop_fraction))

    def sample(
        self,
        sampler: Sampler,
        denoiser: Denoiser,
        *,
        frames: int,
        window: int,
        dim: int,
        frame_cond: Mapping[str, Tensor],
        static_cond: Mapping[str, Tensor],
        schedule: NoiseSchedule,
        guidance: GuidanceWeight,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
        window_cond: Mapping[str, Tensor] | None = None,
        keep: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        plan = self.plan(frames, window)
        cond = window_conditions(frame_cond, static_cond, plan, window_cond)
        if device is not None:
            cond = {key: value.to(device) for key, value in cond.items()}
        constraint = None
        if keep is not None:
            mask, value = keep
            if mask.shape != (frames, dim) or value.shape != (frames, dim):
                raise A2AError(
                    f"keep mask {tuple(mask.shape)} and value {tuple(value.shape)} must be [frames, dim] = "
                    f"[{frames}, {dim}]"
                )
            # Windows read the same sequence, so their overlaps agree on what is kept.
            constraint = Constraint(
                slice_windows(mask.float(), plan, pad="zeros"),
                slice_windows(value.float(), plan, pad="zeros"),
            )
        if guidance is None:
            guide = None
        elif len(plan) > 1 and self.ramp_guidance:
            guide = RampGuidance(guidance)
        else:
            guide = ConstantGuidance(guidance)
        return LongFormSampler(sampler, plan.hop, self.constrain_final).sample(
            denoiser,
            (len(plan), window, dim),
            cond,
            schedule=schedule,
            generator=generator,
            guidance=guide,
            constraint=constraint,
            progress=progress,
            device=device,
        )

    def join(
        self, windows: Tensor, frames: int, blend_fn: BlendFn | None = None, align_fn: AlignFn | None = None
    ) -> Tensor:
        return stitch(windows, self.hop(windows.shape[1]), total_frames=frames, blend_fn=blend_fn)

    def __repr__(self) -> str:
        return (
            f"OverlapStitch(hop_fraction={self.hop_fraction}, ramp_guidance={self.ramp_guidance}, "
            f"constrain_final={self.constrain_final})"
        )


class SeededContinuation(LongFormStrategy):
    """DiffuseStyleGesture's long form: windows one after another, each conditioned on the previous
    window's last ``n_seed`` frames (the ``seed`` condition) and starting on them, so consecutive windows
    overlap by ``n_seed`` frames.

    Better than the released sampler: the first window gets the model's learned null seed (it was trained
    with seed dropout) instead of zeros; the overlap is cross-faded over all ``n_seed`` frames (the
    original averages one frame); each window is moved to continue from the previous one
    (``align_fn``: the root re-alignment); and the last, partial window is generated (its conditions
    padded) rather than dropped, so any length works, shorter than one window included. Windows are
    sequential by nature; several draws of one request could share them as a batch.

    Args:
        n_seed: seed frames (DSG: 8 of 88).
        seed_key: the condition the seed frames go to.
    """

    def __init__(self, n_seed: int = 8, seed_key: str = "seed") -> None:
        if isinstance(n_seed, bool) or int(n_seed) != n_seed or int(n_seed) < 1:
            raise A2AError(f"longform.n_seed must be a positive whole number of frames, got {n_seed!r}")
        self.n_seed = int(n_seed)
        self.seed_key = str(seed_key)
        self.provides = (self.seed_key,)

    @property
    def min_frames(self) -> int:
        return self.n_seed

    def hop(self, window: int) -> int:
        if window <= self.n_seed:
            raise A2AError(f"longform.n_seed={self.n_seed} leaves no new frames in a {window}-frame window")
        return window - self.n_seed

    def sample(
        self,
        sampler: Sampler,
        denoiser: Denoiser,
        *,
        frames: int,
        window: int,
        dim: int,
        frame_cond: Mapping[str, Tensor],
        static_cond: Mapping[str, Tensor],
        schedule: NoiseSchedule,
        guidance: GuidanceWeight,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        progress: bool = False,
        window_cond: Mapping[str, Tensor] | None = None,
        keep: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        if keep is not None:
            raise A2AError("seeded continuation does not support editing constraints")
        if frames < self.n_seed:
            raise A2AError(f"{frames} frames are fewer than the {self.n_seed} seed frames of {self!r}")
        plan = self.plan(frames, window)
        cond = window_conditions(frame_cond, static_cond, plan, window_cond)
        if self.seed_key in cond:
            raise A2AError(
                f"condition {self.seed_key!r} is the strategy's own (the previous window's frames)"
            )
        windows: list[Tensor] = []
        seed = torch.zeros(1, self.n_seed, dim, device=device)
        for k in range(len(plan)):
            window_cond_k = {key: value[k : k + 1].to(device) for key, value in cond.items()}
            window_cond_k[self.seed_key] = seed
            # the first window has no past: the model's null seed (trained with seed dropout)
            keep_seed = torch.tensor([k > 0], device=device)
            x = sampler.sample(
                _SeedKept(denoiser, self.seed_key, keep_seed),
                (1, window, dim),
                window_cond_k,
                schedule=schedule,
                generator=generator,
                guidance=guidance,
                progress=progress,
                device=device,
            )
            windows.append(x)
            seed = x[:, -self.n_seed :].clone()
        return torch.cat(windows)

    def join(
        self, windows: Tensor, frames: int, blend_fn: BlendFn | None = None, align_fn: AlignFn | None = None
    ) -> Tensor:
        hop = self.hop(windows.shape[1])
        if align_fn is not None:
            aligned = [windows[0]]
            for k in range(1, windows.shape[0]):
                # window k's first frame is the previous window's frame `hop`
                aligned.append(align_fn(aligned[-1][hop], windows[k]))
            windows = torch.stack(aligned)
        return stitch(windows, hop, total_frames=frames, blend_fn=blend_fn)

    def __repr__(self) -> str:
        return f"SeededContinuation(n_seed={self.n_seed}, seed_key={self.seed_key!r})"


class _SeedKept(DenoiserWrapper):
    """The denoiser with the seed condition kept or dropped per row (``keep [B]``), whatever guidance
    does to the other conditions; guidance's enlarged batches repeat the rows."""

    def __init__(self, denoiser: Denoiser, key: str, keep: Tensor) -> None:
        super().__init__(denoiser)
        self.key, self.keep = key, keep

    def forward(self, x: Tensor, t: Tensor, cond: Conditioning, keep_cond=None) -> Tensor:
        batch = x.shape[0]
        seed_keep = self.keep.repeat(batch // len(self.keep))
        if keep_cond is None:
            masks: dict[str, Tensor] = {}
        elif isinstance(keep_cond, Mapping):
            masks = dict(keep_cond)
        else:
            # one mask for every droppable condition: apply it to the others, decide the seed here
            masks = {key: keep_cond for key in self.droppable if key != self.key}
        if self.key in masks:
            seed_keep = seed_keep & masks[self.key]
        masks[self.key] = seed_keep
        return self.denoiser(x, t, cond, masks)
