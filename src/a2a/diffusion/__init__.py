"""Motion-agnostic diffusion core: schedules, samplers, guidance, constraints, long-form, training inputs.

Everything here works on tensors ``[B, T, D]`` and a conditioning object; nothing knows what the
channels mean. Typical generation::

    schedule = CosineSchedule(1000, prediction="x0", clip_x0=True)
    x = DDIMSampler(steps=50, eta=1.0).sample(model, (B, T, D), cond, schedule=schedule,
                                              generator=torch.Generator().manual_seed(0), guidance=2.0)
"""

from a2a.diffusion.conditions import ConditionDropout, ConditionMix, cond_rows, keep_mask
from a2a.diffusion.constraints import FINAL_STEP, Constraint, StepConstraint
from a2a.diffusion.guidance import (
    Conditioning,
    ConstantGuidance,
    Denoiser,
    GuidanceSchedule,
    GuidanceWeight,
    RampGuidance,
    guided_output,
    prepare_conditions,
)
from a2a.diffusion.longform import (
    LongFormSampler,
    LongFormStrategy,
    OverlapStitch,
    SeededContinuation,
    WindowOverlap,
    WindowPlan,
    linear_blend,
    plan_windows,
    slice_windows,
    stitch,
    window_conditions,
)
from a2a.diffusion.samplers import DDIMSampler, DDPMSampler, PosteriorMeanSampler, Sampler
from a2a.diffusion.schedules import CosineSchedule, LinearSchedule, NoiseSchedule, standard_normal
from a2a.diffusion.training import diffusion_training_inputs, sample_timesteps, training_target

__all__ = [
    "FINAL_STEP",
    "ConditionDropout",
    "ConditionMix",
    "Conditioning",
    "ConstantGuidance",
    "Constraint",
    "CosineSchedule",
    "DDIMSampler",
    "DDPMSampler",
    "Denoiser",
    "GuidanceSchedule",
    "GuidanceWeight",
    "LinearSchedule",
    "LongFormSampler",
    "LongFormStrategy",
    "NoiseSchedule",
    "OverlapStitch",
    "PosteriorMeanSampler",
    "RampGuidance",
    "Sampler",
    "SeededContinuation",
    "StepConstraint",
    "WindowOverlap",
    "WindowPlan",
    "cond_rows",
    "diffusion_training_inputs",
    "guided_output",
    "keep_mask",
    "linear_blend",
    "plan_windows",
    "prepare_conditions",
    "sample_timesteps",
    "slice_windows",
    "standard_normal",
    "stitch",
    "training_target",
    "window_conditions",
]
