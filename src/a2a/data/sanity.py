"""Physical sanity of dance data: implausible motions and sequences listed in more than one split.

A single corrupt sequence (a root translation of 1e7 m, a root that moves faster than anything human)
decides the normaliser's range for every channel it touches, so training on it silently ruins the model.
:func:`implausible` names what is wrong with one motion; the datamodule refuses such a sequence (or leaves
it out with ``skip_bad``) and ``a2a data describe`` lists it. :func:`split_overlap` finds sequence names
that appear in two splits, which inflates validation and test scores.

Non-finite poses or translations never get this far: :class:`a2a.motion.Motion` rejects them on load.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from a2a.errors import DatasetError
from a2a.motion.motion import Motion

log = logging.getLogger(__name__)

OVERLAP_POLICIES = ("warn", "error", "ignore")


@dataclass(frozen=True)
class SanityBounds:
    """Limits beyond which a motion is not a human dance (config: ``data.sanity``).

    Attributes:
        max_translation: largest root distance from the origin, metres (AIST++ stays within ~5 m).
        max_root_speed: largest root speed between consecutive frames, m/s (a sprinter reaches ~12).
        split_overlap: what a sequence name listed in two splits does: ``warn``, ``error`` or ``ignore``.
    """

    max_translation: float = 100.0
    max_root_speed: float = 50.0
    split_overlap: str = "warn"

    def __post_init__(self) -> None:
        for name in ("max_translation", "max_root_speed"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and value > 0):
                raise DatasetError(f"data.sanity.{name} must be a positive number, got {value!r}")
        if self.split_overlap not in OVERLAP_POLICIES:
            raise DatasetError(
                f"data.sanity.split_overlap must be one of {', '.join(OVERLAP_POLICIES)}, "
                f"got {self.split_overlap!r}"
            )


def implausible(motion: Motion, bounds: SanityBounds) -> str | None:
    """Why ``motion`` cannot be a human dance under ``bounds`` (naming the value, the frame and the
    option to change), or ``None`` when it is plausible."""
    distance = np.linalg.norm(motion.trans, axis=-1)  # [N]
    if len(distance) and distance.max() > bounds.max_translation:
        frame = int(distance.argmax())
        return (
            f"root translation reaches {distance[frame]:.4g} m at frame {frame} "
            f"(data.sanity.max_translation={bounds.max_translation:g})"
        )
    if motion.num_frames >= 2:
        speed = np.linalg.norm(np.diff(motion.trans, axis=0), axis=-1) * motion.fps  # [N-1] m/s
        if speed.max() > bounds.max_root_speed:
            frame = int(speed.argmax())
            return (
                f"root moves at {speed[frame]:.4g} m/s between frames {frame} and {frame + 1} "
                f"(data.sanity.max_root_speed={bounds.max_root_speed:g})"
            )
    return None


def split_overlap(names: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Sequence name → the splits listing it, for every name in more than one of ``names`` (split →
    sequence names)."""
    where: dict[str, list[str]] = {}
    for split, split_names in names.items():
        for name in dict.fromkeys(split_names):
            where.setdefault(name, []).append(split)
    return {name: splits for name, splits in where.items() if len(splits) > 1}


def describe_overlap(overlap: Mapping[str, list[str]], limit: int = 5) -> str:
    """One line: how many names overlap and the first ``limit`` of them with their splits."""
    shown = "; ".join(f"{name} in {' and '.join(splits)}" for name, splits in list(overlap.items())[:limit])
    more = f"; and {len(overlap) - limit} more" if len(overlap) > limit else ""
    return f"{len(overlap)} sequence(s) listed in more than one split: {shown}{more}"


def report_overlap(overlap: Mapping[str, list[str]], bounds: SanityBounds, root: str) -> None:
    """Apply ``bounds.split_overlap`` to ``overlap``: log a warning, raise :class:`DatasetError`, or do
    nothing."""
    if not overlap or bounds.split_overlap == "ignore":
        return
    message = f"{root}: {describe_overlap(overlap)}"
    if bounds.split_overlap == "error":
        raise DatasetError(f"{message} (data.sanity.split_overlap=error)")
    log.warning("%s; scores on the held-out splits will be optimistic (data.sanity.split_overlap)", message)
