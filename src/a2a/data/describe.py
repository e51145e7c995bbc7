"""What a dataset holds: sequences, hours, windows and genres (dance) or styles (gesture) per split, plus
what was left out and what looks wrong (physically implausible motions, sequences listed in two splits;
see :mod:`a2a.data.sanity`).

``describe_dataset(path)`` reads motions only (no audio decoding), so it is quick even on AIST++;
``format_description`` turns its dict into the table ``a2a data describe PATH`` prints. Gesture data
(the ZEGGS layout) is counted in DSG's windows (4.4 s every 0.5 s at 20 fps) unless a window is given.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict
from typing import Any

from a2a.data.curated import detect_kind, open_source
from a2a.data.sanity import SanityBounds, describe_overlap, implausible, split_overlap
from a2a.data.windows import DanceSequence, DanceSource, WindowSpec, window_starts
from a2a.data.zeggs import GESTURE_FPS, ZeggsFolder

# DSG's windows: 88 frames every 10 at 20 fps (a2a.data.gesture has the same numbers).
GESTURE_WINDOW = WindowSpec(seconds=4.4, train_stride=0.5, test_stride=0.5, fps=GESTURE_FPS)


def summarize_sequences(
    sequences: list[DanceSequence], window: WindowSpec, split: str, labels: str = "genres"
) -> dict[str, Any]:
    """Counts for one split: ``sequences``, ``seconds``, ``hours``, ``windows`` (at the split's stride),
    ``shorter_than_window`` and ``labels`` (``genres`` or ``styles``: label → sequences, ``""`` shown as
    ``unknown``)."""
    seconds = float(sum(s.duration for s in sequences))
    length, stride = window.frames, window.stride_frames(split)
    windows = sum(len(window_starts(s.motion.num_frames, length, stride)) for s in sequences)
    genres = Counter(s.genre or "unknown" for s in sequences)
    return {
        "sequences": len(sequences),
        "seconds": round(seconds, 3),
        "hours": round(seconds / 3600.0, 4),
        "windows": windows,
        "shorter_than_window": sum(1 for s in sequences if s.motion.num_frames < length),
        labels: dict(sorted(genres.items())),
    }


def summarize_source(
    source: DanceSource,
    window: WindowSpec | None = None,
    progress: bool = False,
    bounds: SanityBounds | None = None,
) -> dict:
    """:func:`describe_dataset` for an open source."""
    gesture = isinstance(source, ZeggsFolder)
    window = window or (GESTURE_WINDOW if gesture else WindowSpec())
    labels = "styles" if gesture else "genres"
    bounds = bounds or SanityBounds()
    sequences = {split: source.sequences(split, progress) for split in source.split_names()}
    splits = {split: summarize_sequences(seqs, window, split, labels) for split, seqs in sequences.items()}
    implausible_items = [
        {"name": seq.name, "split": split, "reason": reason}
        for split, seqs in sequences.items()
        for seq in seqs
        if (reason := implausible(seq.motion, bounds)) is not None
    ]
    total_seconds = sum(s["seconds"] for s in splits.values())
    return {
        "path": str(source.root),
        "kind": type(source).__name__,
        "labels": labels,
        "fps": window.fps,
        "window": {
            "seconds": window.seconds,
            "frames": window.frames,
            "train_stride": window.train_stride,
            "test_stride": window.test_stride,
        },
        "splits": splits,
        "total": {
            "sequences": sum(s["sequences"] for s in splits.values()),
            "seconds": round(total_seconds, 3),
            "hours": round(total_seconds / 3600.0, 4),
        },
        "ignored": len(source.ignored),
        "ignored_names": list(source.ignored),
        "skipped": list(getattr(source, "skipped", [])),
        "bad": [{"name": b.name, "path": b.path, "reason": b.reason} for b in source.bad],
        "sanity": asdict(bounds),
        "implausible": implausible_items,
        "overlap": split_overlap({split: [s.name for s in seqs] for split, seqs in sequences.items()}),
    }


def describe_dataset(
    path: str | os.PathLike,
    window: WindowSpec | None = None,
    *,
    kind: str = "auto",
    progress: bool = False,
    bounds: SanityBounds | None = None,
    **source_options: Any,
) -> dict[str, Any]:
    """Counts, hours and genres (styles) per split of the dataset at ``path`` (AIST++ layout, curated
    folder, Hugging Face dataset or ZEGGS gesture takes; see :func:`a2a.data.curated.open_source`).
    Unusable items are listed under ``bad`` instead of raising; physically implausible sequences (under
    ``bounds``) under ``implausible``; sequence names listed in more than one split under ``overlap``."""
    if kind == "auto":
        kind = detect_kind(path)
    window = window or (GESTURE_WINDOW if kind == "zeggs" else WindowSpec())
    source_options.setdefault("skip_bad", True)
    source = open_source(path, kind=kind, fps=window.fps, **source_options)
    return summarize_source(source, window, progress, bounds)


def format_description(description: dict[str, Any]) -> str:
    """A plain-text table of :func:`describe_dataset`'s result."""
    window = description["window"]
    lines = [
        f"{description['path']}  ({description['kind']}, {description['fps']:g} fps, "
        f"windows of {window['seconds']:g} s, stride {window['train_stride']:g} s train / "
        f"{window['test_stride']:g} s otherwise)",
        "",
        f"{'split':<8}{'sequences':>10}{'hours':>10}{'windows':>10}  {description['labels']}",
    ]
    for split, info in description["splits"].items():
        genres = ", ".join(f"{g} {n}" for g, n in info[description["labels"]].items()) or "-"
        lines.append(
            f"{split:<8}{info['sequences']:>10}{info['hours']:>10.3f}{info['windows']:>10}  {genres}"
        )
        if info["shorter_than_window"]:
            lines.append(
                f"{'':<8}{info['shorter_than_window']} sequence(s) shorter than one window (no windows)"
            )
    total = description["total"]
    lines.append(f"{'total':<8}{total['sequences']:>10}{total['hours']:>10.3f}")
    if description["ignored"]:
        lines.append(f"\nignore list: {description['ignored']} sequence(s) dropped")
    if description["skipped"]:
        lines.append(f"\nother styles: {len(description['skipped'])} take(s) skipped")
    if description["bad"]:
        lines.append(f"\n{len(description['bad'])} bad item(s) left out:")
        lines.extend(f"  {b['name']} ({b['path']}): {b['reason']}" for b in description["bad"])
    if description.get("implausible"):
        lines.append(
            f"\n{len(description['implausible'])} implausible sequence(s): training refuses them "
            "(data.skip_bad=true leaves them out):"
        )
        lines.extend(f"  {i['name']} ({i['split']}): {i['reason']}" for i in description["implausible"])
    if description.get("overlap"):
        lines.append(f"\nwarning: {describe_overlap(description['overlap'])}")
    return "\n".join(lines)


def print_description(description: dict[str, Any]) -> None:
    """Print :func:`format_description`."""
    print(format_description(description))
