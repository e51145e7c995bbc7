"""``evaluate_gestures(cfg)``: the gesture branch of ``python evaluate.py`` (data in the ZEGGS layout).

:func:`a2a.evaluate.evaluate` hands over when the data config is gesture data (:func:`is_gesture_data`).
For every take of the held-out split each checkpoint generates the take's speech with the take's own
style (the style of its name) and the same seed, timed per take. Rows: ground truth, three baselines
(mean pose; a random training take of the same style; the training take of the same style whose speech
is nearest by audio features) and every checkpoint. Each row is scored per style and over all takes,
on joint positions of the data's own rig at the data's frame rate:

- **FGD** (:mod:`a2a.metrics.fgd`): Fréchet distance between the latent features of the row's windows and
  of the ground-truth windows of the same takes, with an autoencoder trained on the *training* split of
  the evaluated data (GENEA's protocol), trained once and cached (``fgd_encoder=PATH``). The window
  counts are reported with it, and a value from fewer windows than latent dimensions is flagged.
- **beat consistency** (:mod:`a2a.metrics.gesture_beats`): speech onsets of the take's audio against the
  kinematic beats of the upper body (spine, neck, head, shoulders, arms, hands; positions relative to the
  hips), BEAT/EMAGE's definition; the ground truth's own value is the reference.
- **diversity**: mean pairwise distance of the row's latent window features
  (:func:`a2a.metrics.fgd.diversity`).
- **style accuracy** (:mod:`a2a.metrics.style`): the fraction of the row's windows that a classifier,
  trained on the training split (cached: ``style_classifier=PATH``), assigns to the requested style; the
  ground truth's accuracy under the same classifier is its ceiling, ``1 / styles`` is chance.

Outputs under the run directory: ``report.json`` (numbers or ``null``, strict JSON), ``report.md``,
``plots/``, ``bvh/`` (every generated take, on its rig) and ``renders/`` (generated next to ground
truth), plus the two metric networks when they were trained here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from a2a.audio.decode import load_audio
from a2a.audio.features import BaselineFeatures
from a2a.data.curated import open_source
from a2a.data.windows import DanceSequence
from a2a.doors import check_device
from a2a.errors import A2AError
from a2a.evaluate import (
    _checkpoints,
    _fit_length,
    _fmt,
    _labels,
    _song_embedding,
    json_ready,
    mean_pose_motion,
)
from a2a.metrics.fgd import FGDEncoder, diversity, fgd, load_fgd_encoder, train_fgd_encoder
from a2a.metrics.gesture_beats import BC_SIGMA, EMAGE_ORDER_SECONDS, beat_consistency, speech_onsets
from a2a.metrics.style import StyleClassifier, confusion_matrix, load_style_classifier, train_style_classifier
from a2a.motion.bvh import motion_to_rig_bvh
from a2a.motion.motion import Motion
from a2a.motion.skeleton import Skeleton
from a2a.version import __version__

log = logging.getLogger(__name__)

GESTURE_SOURCE_KINDS = ("zeggs",)
GESTURE_DATAMODULE = "a2a.data.gesture.GestureDataModule"
UPPER_BODY = (
    "Spine", "Spine1", "Spine2", "Spine3", "Neck", "Neck1", "Head",
    "LeftShoulder", "LeftArm", "LeftForeArm", "LeftHand",
    "RightShoulder", "RightArm", "RightForeArm", "RightHand",
)  # fmt: skip
"""Joints whose kinematic beats beat consistency scores: the ZEGGS rig's counterparts of EMAGE's 13
upper-body joints (spine, neck, head, collars, shoulders, elbows, wrists; ZEGGS has four spine and two
neck joints)."""

NetT = TypeVar("NetT", FGDEncoder, StyleClassifier)


def is_gesture_data(data: DictConfig) -> bool:
    """True for a data config of gesture takes: a ZEGGS-layout source or the gesture datamodule."""
    return data.get("source_kind") in GESTURE_SOURCE_KINDS or data.get("_target_") == GESTURE_DATAMODULE


@dataclass
class Row:
    """One row of the report: a motion per take, and the seconds each took to generate."""

    name: str
    kind: str  # "ground truth", "baseline" or "model"
    motions: dict[str, Motion] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class Judges:
    """What every row is scored with.

    Attributes:
        encoder: the FGD autoencoder.
        classifier: the style classifier.
        upper_body: joint indices scored by beat consistency.
        onsets: speech onset times (s) per take.
        real: ground-truth latent features ``[K, L]`` per take.
        fps: the data's frame rate.
    """

    encoder: FGDEncoder
    classifier: StyleClassifier
    upper_body: list[int]
    onsets: dict[str, np.ndarray]
    real: dict[str, np.ndarray]
    fps: float


@dataclass
class TakeScore:
    """A row's numbers for one take."""

    style: str
    latent: np.ndarray  # [K, L] FGD features of the take's windows
    labels: np.ndarray  # [K'] classifier ids of the requested style (empty if the classifier lacks it)
    predicted: np.ndarray  # [K'] the classifier's ids
    bc: tuple[float, float] | None  # (onsets, motion) directions; None: no speech onset inside the take
    frames: int
    seconds: float | None


# --- helpers -------------------------------------------------------------------------------------


def upper_body_joints(skeleton: Skeleton) -> list[int]:
    """Indices of the :data:`UPPER_BODY` joints that ``skeleton`` has.

    Raises:
        A2AError: the rig has none of them (beat consistency would score nothing).
    """
    found = [skeleton.names.index(name) for name in UPPER_BODY if name in skeleton.names]
    if not found:
        raise A2AError(
            f"the data's {skeleton.num_joints}-joint rig has none of the upper-body joints beat consistency "
            f"scores ({', '.join(UPPER_BODY[:4])}, ...)"
        )
    return found


def _metric_net(
    what: str,
    path: Any,
    default: Path,
    load: Callable[[Path], NetT],
    train: Callable[[], NetT],
) -> tuple[NetT, dict[str, Any]]:
    """Load the network at ``path`` if that file exists; otherwise train it and save it there (or at
    ``default`` when ``path`` is null). Returns the network and how it was obtained."""
    target = Path(str(path)) if path is not None else default
    if path is not None and target.is_file():
        log.info("%s: reusing %s", what, target)
        return load(target), {"path": str(target), "trained": False}
    log.info("%s: training on the training split (saved to %s)", what, target)
    net = train()
    net.save(target)
    return net, {"path": str(target), "trained": True}


def _root_relative(joints: np.ndarray) -> np.ndarray:
    """``[N, J, 3]`` positions relative to the root joint per frame: the hips' travel is no gesture."""
    return joints - joints[:, :1]


def _take_bc(joints: np.ndarray, onsets: np.ndarray, judges: Judges) -> tuple[float, float] | None:
    """Beat consistency of one take in both directions (over the onsets, BEAT/EMAGE's; over the motion
    beats, which penalises beats without an onset), ``None`` when no onset falls inside the take."""
    end = (len(joints) - 1) / judges.fps
    if len(joints) < 2 or not np.any((onsets >= 0) & (onsets <= end)):
        return None
    positions = _root_relative(joints)
    return (
        beat_consistency(positions, onsets, judges.fps, joint_indices=judges.upper_body),
        beat_consistency(positions, onsets, judges.fps, joint_indices=judges.upper_body, direction="motion"),
    )


def _score_take(row: Row, seq: DanceSequence, judges: Judges) -> TakeScore:
    motion = row.motions[seq.name]
    joints = motion.joints()
    latent = judges.encoder.features(joints)
    classifier = judges.classifier
    windows = classifier.windows(joints)
    if seq.genre in classifier.styles and len(windows):
        predicted = classifier.predict(windows)
        labels = np.full(len(windows), classifier.styles.index(seq.genre))
    else:
        predicted = labels = np.zeros(0, dtype=np.int64)
    return TakeScore(
        style=seq.genre,
        latent=latent,
        labels=labels,
        predicted=predicted,
        bc=_take_bc(joints, judges.onsets[seq.name], judges),
        frames=motion.num_frames,
        seconds=row.seconds.get(seq.name),
    )


def _frame_weighted(values: list[float], takes: list[TakeScore]) -> float | None:
    """Mean of per-take values weighted by the takes' frames (EMAGE's dataset BC); ``None`` for none."""
    return float(np.average(values, weights=[t.frames for t in takes])) if values else None


def _aggregate(row: Row, takes: dict[str, TakeScore], judges: Judges) -> dict[str, Any]:
    """FGD (with its window counts), BC, diversity, style accuracy and seconds over ``takes``."""
    latent = np.concatenate([t.latent for t in takes.values()])
    real = np.concatenate([judges.real[name] for name in takes])
    n_gen, n_real = len(latent), len(real)
    labels = np.concatenate([t.labels for t in takes.values()])
    predicted = np.concatenate([t.predicted for t in takes.values()])
    scored = [t for t in takes.values() if t.bc is not None]
    seconds = [t.seconds for t in takes.values() if t.seconds is not None]
    # The ground truth against itself is 0 by construction: it is the reference, not a score.
    measurable = row.kind != "ground truth" and n_gen >= 2 and n_real >= 2
    return {
        "takes": len(takes),
        "FGD": fgd(real, latent) if measurable else None,
        "fgd_windows": n_gen,
        "fgd_real_windows": n_real,
        "fgd_rank_deficient": min(n_gen, n_real) <= judges.encoder.latent,
        "BC": _frame_weighted([t.bc[0] for t in scored], scored),
        "BC_motion": _frame_weighted([t.bc[1] for t in scored], scored),
        "bc_takes": len(scored),
        "diversity": diversity(latent) if n_gen >= 2 else None,
        "style_accuracy": float(np.mean(predicted == labels)) if len(labels) else None,
        "style_windows": len(labels),
        "seconds_mean": float(np.mean(seconds)) if seconds else None,
    }


def _score_row(row: Row, test: Sequence[DanceSequence], styles: list[str], judges: Judges) -> dict[str, Any]:
    takes = {seq.name: _score_take(row, seq, judges) for seq in test}
    classes = len(judges.classifier.styles)
    all_labels = np.concatenate([t.labels for t in takes.values()])
    all_predicted = np.concatenate([t.predicted for t in takes.values()])
    return {
        "name": row.name,
        "kind": row.kind,
        "overall": _aggregate(row, takes, judges),
        "per_style": {
            style: _aggregate(row, {n: t for n, t in takes.items() if t.style == style}, judges)
            for style in styles
        },
        "confusion": {
            "styles": judges.classifier.styles,  # rows: requested style, columns: predicted
            "counts": confusion_matrix(all_labels, all_predicted, classes).tolist(),
        },
        "per_take": {
            name: {
                "style": t.style,
                "seconds": t.seconds,
                "BC": None if t.bc is None else t.bc[0],
                "BC_motion": None if t.bc is None else t.bc[1],
                "style_accuracy": float(np.mean(t.predicted == t.labels)) if len(t.labels) else None,
                "windows": len(t.latent),
            }
            for name, t in takes.items()
        },
    }


# --- baselines and generation --------------------------------------------------------------------


def _same_style(train: Sequence[DanceSequence], style: str) -> list[DanceSequence]:
    """The training takes of ``style``; all of them when the training split has none of that style."""
    return [s for s in train if s.genre == style] or list(train)


def _check_generator(path: Path, generator, styles: list[str]) -> None:
    """Refuse a checkpoint that cannot answer these takes: no style input, a style it does not know."""
    if not generator.styles:
        raise A2AError(
            f"{path}: this checkpoint takes no style input, so it cannot be scored on gesture data "
            "(a dance checkpoint? evaluate it with a dance data config)"
        )
    unknown = [s for s in styles if s not in generator.styles]
    if unknown:
        raise A2AError(
            f"{path}: the test takes have style {unknown[0]!r}, which this checkpoint does not know "
            f"(it knows {', '.join(generator.styles)})"
        )


def _reference_rows(test: Sequence[DanceSequence], train: Sequence[DanceSequence], seed: int) -> list[Row]:
    """Ground truth and the three baselines, every take answered at its own length."""
    rng = np.random.default_rng(seed)
    features = BaselineFeatures()
    embed = {
        s.name: _song_embedding(features.for_file(s.audio))
        for s in tqdm([*train, *test], desc="speech features", disable=None)
    }
    mean_pose = mean_pose_motion(train, 1)
    rows = [
        Row("ground truth", "ground truth"),
        Row("mean pose", "baseline"),
        Row("random train clip", "baseline"),
        Row("audio nearest neighbour", "baseline"),
    ]
    for seq in test:
        frames = seq.motion.num_frames
        pool = _same_style(train, seq.genre)
        distances = [np.linalg.norm(embed[s.name] - embed[seq.name]) for s in pool]
        answers = [
            seq.motion,
            _fit_length(mean_pose, frames),
            _fit_length(pool[int(rng.integers(len(pool)))].motion, frames),
            _fit_length(pool[int(np.argmin(distances))].motion, frames),
        ]
        for row, motion in zip(rows, answers, strict=True):
            row.motions[seq.name] = motion
    return rows


def _generate_rows(
    cfg: DictConfig, generators: list, labels: list[str], test: Sequence[DanceSequence], bvh_dir: Path
) -> list[Row]:
    """Every checkpoint answers every take with the take's style and the same seed, timed per take."""
    sampler = OmegaConf.to_container(cfg.sampler, resolve=True) if cfg.get("sampler") else None
    rows = [Row(label, "model") for label in labels]
    for generator in generators:
        generator.warm_up()  # the first timed take must not pay for library initialisation
    for seq in tqdm(test, desc=f"generate {cfg.split}", disable=None):
        for row, generator in zip(rows, generators, strict=True):
            start = time.perf_counter()
            motion = generator.generate(
                seq.audio,
                seed=int(cfg.seed),
                style=seq.genre,
                sampler=sampler,
                steps=cfg.get("steps"),
                guidance=cfg.get("guidance"),
            )
            row.seconds[seq.name] = time.perf_counter() - start
            if motion.skeleton.names != seq.motion.skeleton.names:
                raise A2AError(
                    f"{row.name}: generates on a {motion.skeleton.num_joints}-joint rig, but {seq.name} is "
                    f"on a {seq.motion.skeleton.num_joints}-joint rig"
                )
            row.motions[seq.name] = motion
            out = bvh_dir / row.name.replace("/", "_").replace(" ", "_") / f"{seq.name}.bvh"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(motion_to_rig_bvh(motion))
    return rows


# --- report --------------------------------------------------------------------------------------


def _fgd_cell(entry: dict[str, Any], kind: str) -> str:
    if kind == "ground truth":
        return f"reference (N={entry['fgd_real_windows']})"
    if entry["FGD"] is None:
        return "–"
    mark = "†" if entry["fgd_rank_deficient"] else ""
    return f"{entry['FGD']:.2f}{mark} (N={entry['fgd_windows']})"


def _per_style_table(
    report: dict[str, Any], title: str, cell: Callable[[dict[str, Any], str], str]
) -> list[str]:
    styles = report["styles"]
    lines = [f"### {title}", "", "| method | " + " | ".join(styles) + " |", "|---|" + "---|" * len(styles)]
    for row in report["rows"]:
        cells = " | ".join(cell(row["per_style"][s], row["kind"]) for s in styles)
        lines.append(f"| {row['name']} | {cells} |")
    return [*lines, ""]


def _how_to_read(report: dict[str, Any]) -> list[str]:
    gt = report["rows"][0]["overall"]
    chance = report["protocol"]["style_classifier"]["chance"]
    return [
        "## How to read",
        "",
        "- **FGD** (lower is better) compares the row's windows with the ground-truth windows of the same "
        "takes in the latent space of an autoencoder trained on the training split. N is the number of "
        "windows: FGD is biased upwards for small N, so compare rows only at the same N (every row has "
        "the same N here). The ground-truth row is the reference itself (its FGD would be 0).",
        f"- **BC** (beat consistency, BEAT/EMAGE) is how close each speech onset is to an upper-body "
        f"kinematic beat (a local minimum of joint speed). The ground truth's own value ({_fmt(gt['BC'])}) "
        "is the target, not 1: every stop of a jittering body counts as a beat, so jitter scores high "
        "over the onsets. **BC (motion)** averages over the motion beats instead (how close each beat is "
        f"to an onset; ground truth {_fmt(gt['BC_motion'])}), which penalises beats far from any onset — "
        "though with onsets as dense as syllables and σ = 0.3 s few beats are far. The random train "
        "clip's BC is what chance alignment scores: a BC near it says nothing about timing to the speech.",
        f"- **Div** is the spread of the row's windows in the autoencoder's latent space; the ground "
        f"truth's ({_fmt(gt['diversity'], 2)}) is the target. Much lower: the model collapses to an "
        "average gesture; much higher: noise.",
        f"- **style acc.** is the fraction of the row's windows that the style classifier assigns to the "
        f"style asked for. The ground truth's value ({_fmt(gt['style_accuracy'])}) is the classifier's "
        f"ceiling on held-out takes; chance is {chance:.3f}.",
        "- **mean pose** stands still in the training set's average pose: Div 0, BC 0 (no beats), "
        "style accuracy whatever style a still average body looks like.",
        "- **random train clip** is a random training take of the requested style, cropped or looped to "
        "the length: real motion of the right style that ignores the speech. Its FGD is roughly what two "
        "sets of real takes of the same style score.",
        "- **audio nearest neighbour** is the training take of the requested style whose speech is "
        "closest (mean and std of EDGE's 35-d audio features): retrieval, no generation.",
        "- A model row generates every take with the take's own style and the same seed; **s/take** is "
        "the measured generation time per take.",
        "",
    ]


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """``report.md``: the overall table, per-style tables, how to read them, and the protocol."""
    p = report["protocol"]
    lines = [
        f"# a2a gesture evaluation — {report['split']} split of `{report['data']}`",
        "",
        f"{report['n_sequences']} takes ({', '.join(report['styles'])}), {report['seconds_total']:.1f} s of "
        f"speech at {p['fps']:g} fps; each checkpoint generates every take with the take's own style, seed "
        f"{p['seed']}; a2a {report['version']}.",
        "",
        "| method | FGD | BC | BC (motion) | Div | style acc. | s/take |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        m = row["overall"]
        lines.append(
            f"| {row['name']} | {_fgd_cell(m, row['kind'])} | {_fmt(m['BC'])} | {_fmt(m['BC_motion'])} "
            f"| {_fmt(m['diversity'], 2)} "
            f"| {_fmt(m['style_accuracy'])} | {_fmt(m['seconds_mean'], 2)} |"
        )
    lines += ["", "## Per style", ""]
    lines += _per_style_table(report, "FGD", _fgd_cell)
    lines += _per_style_table(
        report, "Beat consistency (onsets / motion)", lambda m, _: f"{_fmt(m['BC'])} / {_fmt(m['BC_motion'])}"
    )
    lines += _per_style_table(report, "Diversity", lambda m, _: _fmt(m["diversity"], 2))
    lines += _per_style_table(report, "Style accuracy", lambda m, _: _fmt(m["style_accuracy"]))
    lines += _how_to_read(report)
    f, c, b = p["fgd"], p["style_classifier"], p["beat_consistency"]
    deficient = any(
        entry["fgd_rank_deficient"]
        for row in report["rows"]
        for entry in [row["overall"], *row["per_style"].values()]
    )
    lines += [
        "## Protocol",
        "",
        f"- **FGD autoencoder**: `{f['path']}` ({'trained here' if f['trained'] else 'reused'}; "
        f"{f['window']}-frame windows every {f['stride']} frames at {p['fps']:g} fps, positions relative to "
        f"the root joint, {f['latent']} latent dimensions"
        + (f"; {f['steps']} steps on {f['train_windows']} training windows" if f["trained"] else "")
        + "). Train it once per dataset and reuse it with `fgd_encoder=PATH`."
        + (
            f" † marks an FGD from no more windows than its {f['latent']} latent dimensions: the covariance "
            "is rank-deficient and the value mostly measures the small sample; add takes (or prefer the "
            "overall column) before reading differences into it."
            if deficient
            else ""
        ),
        f"- **Style classifier**: `{c['path']}` ({'trained here' if c['trained'] else 'reused'}; styles "
        f"{', '.join(c['styles'])}; {c['window']}-frame windows"
        + (f"; {c['steps']} steps on {c['train_windows']} training windows" if c["trained"] else "")
        + f"). Chance: {c['chance']:.3f}. Reuse it with `style_classifier=PATH`.",
        f"- **BC**: librosa onsets of the take's speech vs minima of the upper-body joint speeds "
        f"({len(b['joints'])} joints relative to the hips), σ = {b['sigma']} s, minima over "
        f"±{b['order_seconds']:.3f} s; per take, averaged weighted by frames.",
        "- **Div**: mean pairwise Euclidean distance between the row's latent window features.",
    ]
    if report.get("renders"):
        lines += ["", "## Renders", ""] + [
            f"- [{Path(r).name}](renders/{Path(r).name})" for r in report["renders"]
        ]
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{Path(q).stem}](plots/{Path(q).name})" for q in report["plots"]]
    path.write_text("\n".join(lines) + "\n")


def _plot(report: dict[str, Any], path: Path) -> Path:
    """Style accuracy per row (chance dotted) and the FGD of every row that has one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    names = [r["name"] for r in rows]
    shade = {"ground truth": "#555555", "baseline": "#999999", "model": "#1f77b4"}
    colors = [shade[r["kind"]] for r in rows]
    accuracy = [
        np.nan if r["overall"]["style_accuracy"] is None else r["overall"]["style_accuracy"] for r in rows
    ]
    scored = [r for r in rows if r["overall"]["FGD"] is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(8, 2.2 * len(rows)), 4))
    left.bar(names, accuracy, color=colors)
    left.axhline(
        report["protocol"]["style_classifier"]["chance"], color="#aa3333", linestyle=":", label="chance"
    )
    left.set_ylim(0.0, 1.0)
    left.set_ylabel("style accuracy")
    left.legend(loc="upper right", fontsize=8)
    right.bar(
        [r["name"] for r in scored],
        [r["overall"]["FGD"] for r in scored],
        color=[shade[r["kind"]] for r in scored],
    )
    right.set_ylabel(f"FGD (N = {rows[0]['overall']['fgd_real_windows']} windows)")
    for ax in (left, right):
        ax.tick_params(axis="x", rotation=25)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- main ----------------------------------------------------------------------------------------


def _open(cfg: DictConfig) -> tuple[Any, str]:
    """The gesture source at the data config's frame rate and styles, and the split to evaluate (ZEGGS
    has no test split: ``split=test`` falls back to its held-out ``val`` takes)."""
    data = cfg.data
    options = OmegaConf.to_container(data.source_options, resolve=True) if data.get("source_options") else {}
    options.setdefault(
        "styles", OmegaConf.to_container(data.styles) if data.get("styles") is not None else None
    )
    options.setdefault("skip_bad", bool(data.get("skip_bad", False)))
    source = open_source(
        data.source, kind=str(data.get("source_kind", "zeggs")), fps=float(data.fps), **options
    )
    split = str(cfg.split)
    names = source.split_names()
    if split == "test" and "test" not in names and "val" in names:
        log.info("%s has no test split: evaluating its held-out val takes", data.source)
        split = "val"
    if split not in names:
        raise A2AError(f"split {cfg.split!r} not in {data.source} (has: {', '.join(names)})")
    if "train" not in names:
        raise A2AError(f"{data.source} has no train split: the baselines and metric networks need one")
    return source, split


def evaluate_gestures(cfg: DictConfig) -> dict[str, Any]:
    """Generate every held-out take with every checkpoint, score all rows and write the report."""
    import a2a

    paths = _checkpoints(cfg.ckpt)
    device = str(check_device(str(cfg.get("device", "cpu"))))
    samples = [int(k) for k in (cfg.get("samples") or [1])]
    if samples != [1]:
        raise A2AError(f"samples={samples}: the gesture evaluation draws one sample per take (samples=[1])")
    generators = [a2a.load(path, device=device) for path in paths]  # fail fast, before any data is read
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source, split = _open(cfg)
    test = source.sequences(split, progress=True)
    if cfg.get("max_sequences"):
        test = test[: int(cfg.max_sequences)]
    if not test:
        raise A2AError(f"split {split!r} of {cfg.data.source} has no takes")
    train = source.sequences("train", progress=True)
    skeleton = test[0].motion.skeleton
    present = {s.genre for s in test}
    styles = [s for s in (cfg.data.get("styles") or sorted(present)) if s in present]
    for path, generator in zip(paths, generators, strict=True):
        _check_generator(path, generator, styles)

    fps = float(test[0].motion.fps)
    train_joints = [s.motion.joints() for s in train]
    window, seed = int(cfg.gesture_window), int(cfg.seed)
    encoder, fgd_info = _metric_net(
        "FGD encoder",
        cfg.get("fgd_encoder"),
        out_dir / "fgd_encoder.pt",
        lambda p: load_fgd_encoder(p, num_joints=skeleton.num_joints, fps=fps),
        lambda: train_fgd_encoder(
            train_joints, fps, window=window, steps=int(cfg.fgd_encoder_steps), seed=seed
        ),
    )
    classifier, style_info = _metric_net(
        "style classifier",
        cfg.get("style_classifier"),
        out_dir / "style_classifier.pt",
        lambda p: load_style_classifier(p, num_joints=skeleton.num_joints, fps=fps),
        lambda: train_style_classifier(
            train_joints,
            [s.genre for s in train],
            fps,
            window=window,
            steps=int(cfg.style_classifier_steps),
            seed=seed,
        ),
    )
    judges = Judges(
        encoder=encoder,
        classifier=classifier,
        upper_body=upper_body_joints(skeleton),
        onsets={s.name: speech_onsets(*load_audio(s.audio)) for s in test},
        real={s.name: encoder.features(s.motion.joints()) for s in test},
        fps=fps,
    )

    rows = _reference_rows(test, train, seed)
    rows += _generate_rows(cfg, generators, _labels(paths), test, out_dir / "bvh")
    scored = [_score_row(row, test, styles, judges) for row in tqdm(rows, desc="score", disable=None)]
    report: dict[str, Any] = {
        "version": __version__,
        "kind": "gesture",
        "data": str(cfg.data.source),
        "split": split,
        "checkpoints": [str(p) for p in paths],
        "n_sequences": len(test),
        "seconds_total": float(sum(s.motion.duration for s in test)),
        "styles": styles,
        "protocol": {
            "fps": fps,
            "seed": seed,
            "fgd": {
                **fgd_info,
                "steps": int(cfg.fgd_encoder_steps) if fgd_info["trained"] else None,
                "train_windows": len(encoder.windows(train_joints)),
                "window": encoder.spec.window,
                "stride": encoder.spec.stride,
                "latent": encoder.latent,
            },
            "style_classifier": {
                **style_info,
                "steps": int(cfg.style_classifier_steps) if style_info["trained"] else None,
                "train_windows": len(classifier.windows(train_joints)),
                "window": classifier.spec.window,
                "styles": classifier.styles,
                "chance": 1.0 / len(classifier.styles),
            },
            "beat_consistency": {
                "joints": [skeleton.names[j] for j in judges.upper_body],
                "sigma": BC_SIGMA,
                "order_seconds": EMAGE_ORDER_SECONDS,
                "relative_to": skeleton.names[0],
            },
        },
        "rows": scored,
    }
    renders = []
    models = [row for row in rows if row.kind == "model"]
    if models:
        from a2a.render import render

        for seq in test[: int(cfg.get("render", 0) or 0)]:
            out = render(
                [models[0].motions[seq.name], seq.motion],
                out_dir / "renders" / f"{seq.name}.mp4",
                audio=seq.audio if isinstance(seq.audio, Path) else None,
                titles=[f"{models[0].name} ({seq.genre})", "ground truth"],
                progress=False,
            )
            renders.append(str(out))
    report["renders"] = renders
    report["plots"] = [str(_plot(report, out_dir / "plots" / "gestures.png"))]
    (out_dir / "report.json").write_text(json.dumps(json_ready(report), indent=2, allow_nan=False))
    write_markdown(report, out_dir / "report.md")
    log.info("report: %s", out_dir / "report.md")
    return report
