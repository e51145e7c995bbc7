"""``evaluate(cfg)``: the function behind ``python evaluate.py``; tests call it directly.

For every sequence of a held-out split it generates a dance per checkpoint and scores it two ways:

- **validator approximation**: the generated motion goes through the miner's export path
  (``Generator.generate`` → :func:`a2a.motion.bvh.motion_to_bvh`), is read back and scored against the
  ground-truth BVH (exported the same way) with the subnet-25 formula; the measured wall-clock time of
  generation + export gives the speed term. Reported as mean, std and a bootstrap 95 % CI.
- **dance metrics**: FID_k, FID_g, Div_k, Div_g (Bailando protocol: 60 fps, first 1,200 frames,
  frame-0 recentring, features normalised by a GT pool of *all* sequences of the dataset), BAS in both
  directions (Bailando: music → motion; FACT: motion → music) and PFC (EDGE: 5-s clips, 2.5-s stride).

Rows: ground truth, three baselines computed by the same code (mean pose, a random training clip,
nearest-neighbour retrieval by audio features) and every checkpoint (optionally with several
``samples`` reduced to one, to show reward-aware sampling). Outputs under the run directory:
``report.json``, ``report.md``, ``plots/``, ``bvh/`` and ``renders/``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, ListConfig, OmegaConf
from tqdm.auto import tqdm

from a2a.audio.features import BaselineFeatures
from a2a.config import group_member
from a2a.data.curated import open_source
from a2a.data.windows import DanceSequence
from a2a.doors import check_device
from a2a.errors import A2AError
from a2a.metrics import dance
from a2a.metrics.validator import correctness, reward, score, speed
from a2a.motion.bvh import motion_to_bvh, read_bvh
from a2a.motion.motion import Motion
from a2a.motion.rotations import axis_angle_to_quaternion, quaternion_mean, quaternion_to_axis_angle
from a2a.version import __version__

log = logging.getLogger(__name__)

EVAL_FPS = 30.0  # generation and the validator run at 30 fps
MAX_REWARD = reward(correctness(0.0), speed(0.0))  # rmse 0, answered in 0 s: the plot's dotted ceiling
METRIC_FPS = 60.0  # Bailando protocol


@dataclass
class MethodResult:
    """Everything measured for one row of the report."""

    name: str
    kind: str  # "ground truth", "baseline" or "model"
    motions: dict[str, Motion] = field(default_factory=dict)
    rewards: list[float] = field(default_factory=list)
    correctness: list[float] = field(default_factory=list)
    rmse: list[float] = field(default_factory=list)
    speed: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


# --- baselines -----------------------------------------------------------------------------------


def _fit_length(motion: Motion, frames: int) -> Motion:
    """Crop or loop ``motion`` to exactly ``frames`` frames (a baseline answer of the right length)."""
    reps = -(-frames // motion.num_frames)
    return motion.with_poses(
        np.tile(motion.poses, (reps, 1, 1))[:frames], np.tile(motion.trans, (reps, 1))[:frames]
    )


def mean_pose_motion(train: Sequence[DanceSequence], frames: int) -> Motion:
    """The training set's average pose (normalised quaternion mean per joint) and mean translation, held
    still for ``frames`` frames at the training motions' rate and on their rig: the answer that minimises
    error without listening to the music."""
    quats = np.concatenate([axis_angle_to_quaternion(s.motion.poses) for s in train])  # [M, J, 4]
    pose = quaternion_to_axis_angle(quaternion_mean(quats, dim=0))
    trans = np.concatenate([s.motion.trans for s in train]).mean(axis=0)
    return train[0].motion.with_poses(np.repeat(pose[None], frames, 0), np.repeat(trans[None], frames, 0))


def _song_embedding(features: np.ndarray) -> np.ndarray:
    """Per-song audio descriptor: mean and std of each feature over time."""
    return np.concatenate([features.mean(axis=0), features.std(axis=0)])


# --- scoring -------------------------------------------------------------------------------------


def _score_answer(
    method: MethodResult, name: str, motion: Motion, text: str, ref_bvh, seconds: float, bvh_dir: Path
) -> None:
    """Save the exported answer ``text`` (the BVH of ``motion``) and score it against ``ref_bvh``."""
    out = bvh_dir / method.name.replace("/", "_").replace(" ", "_") / f"{name}.bvh"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    result = score(read_bvh(text), ref_bvh, process_time=seconds, joint_map="edge_edge")
    method.motions[name] = motion
    method.rewards.append(result["reward"])
    method.correctness.append(result["correctness"])
    method.rmse.append(result["rmse"])
    method.speed.append(result["speed"])
    method.seconds.append(seconds)


def _dance_metrics(
    method: MethodResult, pool: tuple[np.ndarray, np.ndarray], beats: dict[str, np.ndarray]
) -> dict[str, Any]:
    kinetic, geometric, bas_b, bas_f, pfc_clips = [], [], [], [], []
    for name, motion in method.motions.items():
        joints60 = motion.resample(METRIC_FPS).joints()
        k, g = dance.clip_features(joints60, fps=METRIC_FPS)
        kinetic.append(k)
        geometric.append(g)
        if len(beats.get(name, ())):
            bas_b.append(dance.beat_align_score(joints60, beats[name], fps=METRIC_FPS, direction="bailando"))
            bas_f.append(dance.beat_align_score(joints60, beats[name], fps=METRIC_FPS, direction="fact"))
        joints30 = motion.joints()
        window, hop = int(5 * EVAL_FPS), int(2.5 * EVAL_FPS)
        starts = range(0, max(1, len(joints30) - window + 1), hop)
        pfc_clips += [joints30[s : s + window] for s in starts if len(joints30[s : s + window]) >= 3]
    out: dict[str, Any] = {}
    if len(kinetic) >= 2:
        out.update(dance.quantized_metrics(np.stack(kinetic), np.stack(geometric), *pool))
        # A degenerate GT pool makes the normalised numbers meaningless: null, explained in the report.
        for suffix, check in _pool_checks(pool).items():
            if not check.fid_ok:
                out[f"FID_{suffix}"] = None
            if not check.diversity_ok:
                out[f"Div_{suffix}"] = None
    out["BAS_bailando"] = float(np.mean(bas_b)) if bas_b else None
    out["BAS_fact"] = float(np.mean(bas_f)) if bas_f else None
    out["PFC"] = dance.pfc_dataset(pfc_clips, fps=EVAL_FPS, up_axis="y") if pfc_clips else None
    out["pfc_clips"] = len(pfc_clips)
    return out


def _pool_checks(pool: tuple[np.ndarray, np.ndarray]) -> dict[str, dance.PoolCheck]:
    """:func:`a2a.metrics.dance.check_pool` of the kinetic (``"k"``) and geometric (``"g"``) GT pools."""
    return {"k": dance.check_pool(pool[0]), "g": dance.check_pool(pool[1])}


def _pool_report(pool: tuple[np.ndarray, np.ndarray]) -> dict[str, dict[str, Any]]:
    """The pool checks for ``report.json``: sizes, constant features and the problem (``None`` if usable)."""
    return {
        suffix: {
            "clips": check.clips,
            "features": check.features,
            "constant": check.constant,
            "problem": check.problem(),
        }
        for suffix, check in _pool_checks(pool).items()
    }


def _summary(method: MethodResult, n_boot: int, seed: int) -> dict[str, Any]:
    rewards = np.asarray(method.rewards, dtype=np.float64)
    mean, lo, hi = (
        dance.bootstrap_ci(rewards, n_boot=n_boot, seed=seed)
        if len(rewards) > 1
        else (float(rewards.mean()), float("nan"), float("nan"))
    )
    return {
        "name": method.name,
        "kind": method.kind,
        "n": len(rewards),
        "reward_mean": float(mean),
        "reward_std": float(rewards.std(ddof=1)) if len(rewards) > 1 else 0.0,
        "reward_ci95": [float(lo), float(hi)],
        "correctness_mean": float(np.mean(method.correctness)),
        "rmse_mean": float(np.mean(method.rmse)),
        "speed_mean": float(np.mean(method.speed)),
        "seconds_mean": float(np.mean(method.seconds)),
    }


# --- report --------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN/inf as ``None``: strict JSON, no ``NaN``."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    return value


def _dance_cell(metrics: dict[str, Any], key: str, pool: dict[str, Any]) -> str:
    """A FID/Div table cell: the value, or why the degenerate GT pool leaves none."""
    if metrics.get(key) is None and "n_pred" in metrics and pool["problem"]:
        return "n/a (pool constant)" if pool["constant"] else "n/a (pool too small)"
    return _fmt(metrics.get(key), 2)


def _baseline_notes(report: dict[str, Any]) -> list[str]:
    """What each reference row is, and how to read a model against them."""
    rows = {row["name"]: row for row in report["rows"]}
    lines = [
        "",
        "## How to read the rows",
        "",
        f"- **ground truth** answers with the reference itself: the ceiling, reward "
        f"{rows['ground truth']['reward_mean']:.4f} (rmse 0, answered in 0 s).",
        "- **mean pose** holds the training set's average pose still for the whole song. It does not "
        "dance (Div 0, BAS 0), yet the validator's metric, a distance to the reference averaged over "
        "frames, scores a still average pose well: a model below it does not yet beat standing still "
        "by that metric. A barely trained model also answers with near-average, low-motion poses and can "
        "score close to (or above) this row; its Div and BAS show whether it dances.",
        "- **random train clip** is a real dance that ignores the music: real motion at a random phase "
        "is far from the reference at most frames, so it usually scores below the mean pose.",
        "- **audio nearest neighbour** is the training dance whose music is closest to the test song "
        "(retrieval, no generation).",
        f"- Every baseline answers in 0 s (speed term {speed(0.0):.4f}); a model's speed term comes "
        "from its measured time.",
    ]
    return lines


def write_markdown(report: dict[str, Any], path: Path) -> None:
    """The human-readable report: one table row per method, what the rows mean, protocol notes."""
    p = report["protocol"]
    pool = p["pool"]
    lines = [
        f"# a2a evaluation — {report['split']} split of `{report['data']}`",
        "",
        f"{report['n_sequences']} sequences, {report['seconds_total']:.1f} s of audio; "
        f"a2a {report['version']}.",
        "",
        "| method | reward (95% CI) | correctness | rmse | speed | s/seq | FID_k | FID_g | Div_k | Div_g "
        "| BAS (Bailando) | BAS (FACT) | PFC | genre acc. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        m = row["dance"]
        ci = row["reward_ci95"]
        dance_cells = " | ".join(
            _dance_cell(m, key, pool[key[-1]]) for key in ("FID_k", "FID_g", "Div_k", "Div_g")
        )
        lines.append(
            f"| {row['name']} | {row['reward_mean']:.4f} ({_fmt(ci[0], 4)}–{_fmt(ci[1], 4)}) "
            f"| {row['correctness_mean']:.4f} | {row['rmse_mean']:.1f} | {row['speed_mean']:.4f} "
            f"| {row['seconds_mean']:.2f} | {dance_cells} | {_fmt(m.get('BAS_bailando'))} "
            f"| {_fmt(m.get('BAS_fact'))} | {_fmt(m.get('PFC'))} | {_fmt(m.get('genre_accuracy'))} |"
        )
    lines += _baseline_notes(report)
    lines += _recommendation_lines(report)
    lines += _genre_lines(report)
    pool_notes = [
        f" FID_{suffix} and Div_{suffix} are n/a: {entry['problem']} (normalisation divides by the pool's "
        "std + 1e-10, so differences in a constant feature swamp everything else)."
        if entry["constant"]
        else f" FID_{suffix} is n/a: {entry['problem']} (the pool covariance is singular; Bailando's pool "
        "has 1,320 sequences)."
        for suffix, entry in pool.items()
        if entry["problem"]
    ]
    lines += [
        "",
        "## Protocol",
        "",
        "- **reward** = 0.7·correctness + 0.3·speed, the subnet-25 validator's formula; correctness from the "
        "summed per-joint RMS error (cm) of the exported BVH against the ground-truth BVH (edge→edge joint "
        "map); speed from the measured generation + export wall time per sequence (baselines and ground "
        "truth: 0 s). The CI is a percentile bootstrap over sequences.",
        f"- **FID/Div**: Bailando protocol at {p['metric_fps']:g} fps, first {p['max_frames']} frames, "
        f"frame-0 recentring; N = {p['n_pred']} generated clips against a GT pool of {p['n_gt']} sequences "
        "(all splits). FID has a small-sample floor: compare only rows with the same N."
        + "".join(pool_notes),
        "- **BAS**: Bailando direction scores music beats against motion beats (σ = 3 frames at 60 fps); "
        "FACT direction scores motion beats against music beats. Music beats from the baseline features' "
        "beat tracker.",
        f"- **PFC**: EDGE's physical foot contact score ×10⁴ over 5-s clips with 2.5-s stride "
        f"({p['pfc_note']}).",
    ]
    if report.get("renders"):
        lines += ["", "## Renders", ""] + [
            f"- [{Path(r).name}](renders/{Path(r).name})" for r in report["renders"]
        ]
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}](plots/{Path(p).name})" for p in report["plots"]]
    path.write_text("\n".join(lines) + "\n")


def _recommendation_lines(report: dict[str, Any]) -> list[str]:
    best = report.get("recommendation")
    if not best:
        return []
    settings = [row for row in report["rows"] if row.get("setting")]
    lines = ["", "## Which setting to mine with", ""]
    if settings:
        lines.append(
            "The sampler sweep (`sweep=`) trades realism for the validator's reward and speed: "
            + "; ".join(
                f"{row['name'].split(' (', 1)[1].rstrip(')')}: reward {row['reward_mean']:.4f} in "
                f"{row['seconds_mean']:.2f} s"
                for row in settings
            )
            + "."
        )
    beaten_by = best.get("beaten_by")
    if beaten_by:
        lines.append(
            f"On this data no model row beats the {beaten_by['name']} baseline "
            f"({beaten_by['reward_mean']:.4f}): the best model row, **{best['mining']}** "
            f"({best['reward_mean']:.4f}, {best['seconds_mean']:.2f} s per sequence), would earn less than "
            "answering that baseline; train longer or on more data before mining with it."
        )
    else:
        lines.append(
            f"On this data the best validator reward is **{best['mining']}** ({best['reward_mean']:.4f}, "
            f"{best['seconds_mean']:.2f} s per sequence)."
        )
    lines[-1] += f" {best['note'][0].upper() + best['note'][1:]}."
    return lines


def _genre_lines(report: dict[str, Any]) -> list[str]:
    """Per-genre rewards, genre fidelity and the audio genre classifier, where the data has genres."""
    rows = [row for row in report["rows"] if row.get("per_genre")]
    if not rows:
        return []
    genres = sorted({g for row in rows for g in row["per_genre"]})
    lines = [
        "",
        "## Per genre",
        "",
        "Validator reward per genre of the test sequences (genre-conditioned models dance each sequence's "
        "own genre). **genre acc.** above: how often a motion-genre classifier trained on the training "
        "split recognises the sequence's genre in each row's dances; compare models with the ground "
        "truth's own accuracy under the same classifier.",
        "",
        "| method | " + " | ".join(genres) + " |",
        "|---|" + "---|" * len(genres),
    ]
    for row in rows:
        cells = [
            f"{row['per_genre'][g]['reward_mean']:.4f}" if g in row["per_genre"] else "–" for g in genres
        ]
        lines.append(f"| {row['name']} | " + " | ".join(cells) + " |")
    for name, result in (report.get("genre_from_audio") or {}).items():
        labels = result["labels"]
        lines += [
            "",
            f"**Genre from audio** ({name}'s attached classifier): accuracy {result['accuracy']:.3f} on "
            f"{result['n']} test songs (chance {result['chance']:.3f}). Confusion (rows: true genre):",
            "",
            "| true \\ predicted | " + " | ".join(labels) + " |",
            "|---|" + "---|" * len(labels),
        ]
        lines += [
            f"| {label} | " + " | ".join(str(int(v)) for v in counts) + " |"
            for label, counts in zip(labels, result["confusion"], strict=True)
        ]
    return lines


def _plot_rewards(report: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    names = [r["name"] for r in rows]
    means = np.array([r["reward_mean"] for r in rows])
    ci = np.array([r["reward_ci95"] for r in rows], dtype=float)
    err = np.abs(np.nan_to_num(np.stack([means - ci[:, 0], ci[:, 1] - means]), nan=0.0))
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4))
    colors = [
        "#555555" if r["kind"] == "ground truth" else "#999999" if r["kind"] == "baseline" else "#1f77b4"
        for r in rows
    ]
    bars = ax.bar(names, means, yerr=err, color=colors, capsize=4)
    ax.bar_label(bars, labels=[f"{m:.3f}" for m in means], padding=2, fontsize=8)
    ax.set_ylabel("validator reward (mean, 95% CI)")
    # From 0: a cropped axis turns differences of 0.01 into towering bars.
    ax.set_ylim(0.0, 1.0)
    ax.axhline(MAX_REWARD, color="#555555", linestyle=":", linewidth=1)
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- main ----------------------------------------------------------------------------------------


def _per_genre(method: MethodResult, genre_of: dict[str, str]) -> dict[str, dict[str, float]]:
    """Reward and rmse means per genre of the sequences (AIST++ names carry the genre)."""
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(method.motions):
        if genre_of.get(name):
            groups.setdefault(genre_of[name], []).append(i)
    return {
        genre: {
            "n": len(idx),
            "reward_mean": float(np.mean([method.rewards[i] for i in idx])),
            "rmse_mean": float(np.mean([method.rmse[i] for i in idx])),
        }
        for genre, idx in sorted(groups.items())
    }


def _genre_fidelity_classifier(train: Sequence[DanceSequence], cfg: DictConfig):
    """A motion-genre classifier trained on the training split (None without two genres to tell apart)."""
    genres = sorted({s.genre for s in train if s.genre})
    steps = int(cfg.get("genre_classifier_steps", 300))
    if len(genres) < 2 or steps < 1:
        return None
    from a2a.metrics.style import train_style_classifier

    labelled = [s for s in train if s.genre]
    clips = [s.motion.joints() for s in labelled]
    return train_style_classifier(
        clips, [s.genre for s in labelled], fps=EVAL_FPS, steps=steps, seed=int(cfg.seed)
    )


def _genre_accuracy(classifier, method: MethodResult, genre_of: dict[str, str]) -> float | None:
    """How often the motion-genre classifier recognises each sequence's genre in this row's motions."""
    from a2a.metrics.style import style_accuracy

    windows, labels = [], []
    for name, motion in method.motions.items():
        if genre_of.get(name) in classifier.styles:
            clip_windows = classifier.windows(motion.joints())
            windows.append(clip_windows)
            labels += [genre_of[name]] * len(clip_windows)
    if not labels:
        return None
    return style_accuracy(classifier, np.concatenate(windows), labels)


def _genre_from_audio(generators, labels: list[str], test: Sequence[DanceSequence]) -> dict[str, Any]:
    """For checkpoints that carry a genre classifier: its accuracy and confusion matrix on the test songs."""
    from a2a.metrics.style import confusion_matrix

    out: dict[str, Any] = {}
    for label, generator in zip(labels, generators, strict=True):
        if generator.classifier is None:
            continue
        names = list(generator.classifier["labels"])
        truth, predicted = [], []
        for seq in test:
            if seq.genre in names:
                truth.append(names.index(seq.genre))
                predicted.append(names.index(generator.predict_style(seq.audio)[0]))
        if truth:
            matrix = confusion_matrix(truth, predicted, len(names))
            out[label] = {
                "accuracy": float(np.mean(np.asarray(truth) == np.asarray(predicted))),
                "chance": 1.0 / len(names),
                "n": len(truth),
                "labels": names,
                "confusion": matrix.tolist(),
            }
    return out


def _recommendation(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The model row with the best validator reward, and the realism it gives up (or keeps)."""
    models = [row for row in rows if row["kind"] == "model"]
    if not models:
        return None
    best = max(models, key=lambda row: row["reward_mean"])
    baselines = [row for row in rows if row["kind"] == "baseline"]
    beaten_by = max(baselines, key=lambda row: row["reward_mean"]) if baselines else None
    return {
        "mining": best["name"],
        "reward_mean": best["reward_mean"],
        "seconds_mean": best["seconds_mean"],
        "beaten_by": (
            None
            if beaten_by is None or beaten_by["reward_mean"] <= best["reward_mean"]
            else {"name": beaten_by["name"], "reward_mean": beaten_by["reward_mean"]}
        ),
        "note": (
            "the validator pays for closeness to one reference dance (the conditional mean wins) and for "
            "speed; FID, diversity, PFC and BAS measure realism, which full sampling keeps: pick by the "
            "column that matters to you"
        ),
    }


def _plot_reward_time(report: dict[str, Any], path: Path) -> Path:
    """Validator reward against seconds per sequence for the model rows (the sampler sweep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in report["rows"] if row["kind"] == "model"]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for row in rows:
        ax.scatter(row["seconds_mean"], row["reward_mean"], color="#1f77b4")
        ax.annotate(row.get("setting") or row["name"], (row["seconds_mean"], row["reward_mean"]), fontsize=8)
    for row in report["rows"]:
        if row["kind"] != "model":
            ax.axhline(row["reward_mean"], color="#999999", linewidth=0.8, linestyle=":")
            ax.annotate(row["name"], (0, row["reward_mean"]), fontsize=7, color="#666666")
    ax.set_xlabel("seconds per sequence (generation + export)")
    ax.set_ylabel("validator reward (mean)")
    ax.set_xlim(left=0)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _checkpoints(ckpt: Any) -> list[Path]:
    if ckpt is None or ckpt == "???":
        raise A2AError("evaluate needs ckpt=PATH (or ckpt=[a.ckpt,b.ckpt] to compare several)")
    items = list(ckpt) if isinstance(ckpt, list | tuple | ListConfig) else [ckpt]
    return [Path(str(c)) for c in items]


def _samples(samples: Any) -> list[int]:
    """``samples=[1, 4]``: the draws per answer of each row, whole numbers >= 1."""
    items = list(samples) if isinstance(samples, list | tuple | ListConfig) else [samples]
    if samples is None or not items:
        return [1]
    if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in items):
        raise A2AError(
            f"samples={_show(items)}: draws per answer must be whole numbers >= 1, e.g. samples=[1,4]"
        )
    return [int(k) for k in items]


def _show(items: list[Any]) -> str:
    return "[" + ",".join(str(k) for k in items) + "]"


def _labels(paths: list[Path]) -> list[str]:
    stems = [p.stem for p in paths]
    return [f"{p.parent.parent.name}/{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Generate for every sequence of ``cfg.split``, score, and write the report; returns the report dict.
    Gesture data (ZEGGS layout) goes to :func:`a2a.evaluate_gestures.evaluate_gestures`."""
    import a2a
    from a2a.evaluate_gestures import evaluate_gestures, is_gesture_data  # it imports this module's helpers
    from a2a.generate import REDUCTIONS

    if is_gesture_data(cfg.data):
        return evaluate_gestures(cfg)

    paths = _checkpoints(cfg.ckpt)
    device = str(check_device(str(cfg.get("device", "cpu"))))
    # Checkpoints load before any data is read: a wrong path fails in a second, not after feature extraction.
    features_path = cfg.get("features_path")
    precision = str(cfg.get("precision", "fp32"))
    generators = [
        a2a.load(path, device=device, precision=precision, features_path=features_path) for path in paths
    ]
    labels = _labels(paths)
    samples_list = _samples(cfg.get("samples"))
    if str(cfg.reduce) not in REDUCTIONS:
        raise A2AError(f"reduce={cfg.reduce}: draws combine by one of {', '.join(REDUCTIONS)}")
    sampler = OmegaConf.to_container(cfg.sampler, resolve=True) if cfg.get("sampler") else None
    sweep = [str(name) for name in (cfg.get("sweep") or [])]
    sweep_samplers = {name: group_member("sampler", name) for name in sweep}
    # Every setting a row will use is checked now, not after the data is read and the features extracted.
    for path, generator in zip(paths, generators, strict=True):
        if not generator.representation.validator_rig:
            raise A2AError(
                f"{path}: this checkpoint answers in its own rig ({type(generator.representation).__name__}: "
                "a gesture model?), so it cannot be scored on dance data; evaluate it with gesture data "
                "(data=zeggs or data=gesture_synthetic)"
            )
        for setting in list(sweep_samplers.values()) or [sampler]:
            generator.sampler_for(setting, cfg.get("steps"))
        if generator.features is None:  # raises the error that names the missing weights (features_path)
            generator.audio_features(np.zeros(1, dtype=np.float32), sr=22050)
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kind = cfg.data.get("source_kind", "auto")
    options = cfg.data.get("source_options")
    options = OmegaConf.to_container(options, resolve=True) if options else {}
    source = open_source(cfg.data.source, kind=kind, fps=EVAL_FPS, **options)
    if cfg.split not in source.split_names():
        raise A2AError(
            f"split {cfg.split!r} not in {cfg.data.source} (has: {', '.join(source.split_names())})"
        )
    test = source.sequences(cfg.split, progress=True)
    if cfg.get("max_sequences"):
        test = test[: int(cfg.max_sequences)]
    if len(test) == 0:
        raise A2AError(f"split {cfg.split!r} of {cfg.data.source} has no sequences")
    train = source.sequences("train") if "train" in source.split_names() else []
    if not train:
        raise A2AError(f"{cfg.data.source} has no train split: the baselines need one")
    pool_source = open_source(cfg.data.source, kind=kind, fps=METRIC_FPS, **options)
    pool_k, pool_g = [], []
    for split in pool_source.split_names():
        for seq in pool_source.sequences(split):
            k, g = dance.clip_features(seq.motion.joints(), fps=METRIC_FPS, max_frames=None)
            pool_k.append(k)
            pool_g.append(g)
    pool = (np.stack(pool_k), np.stack(pool_g))

    # Music beats and song embeddings from EDGE's baseline features (the beat column, 30 fps).
    features = BaselineFeatures()
    beat_col = features.COLUMNS["beat"].start

    def song_features(seq: DanceSequence) -> np.ndarray:
        return features.for_file(seq.audio, start_bpm=seq.tempo)

    test_feats = {s.name: song_features(s) for s in tqdm(test, desc="music features (test)")}
    beats = {n: np.flatnonzero(f[:, beat_col]) / features.fps for n, f in test_feats.items()}
    train_emb = np.stack(
        [_song_embedding(song_features(s)) for s in tqdm(train, desc="music features (train)")]
    )

    rng = np.random.default_rng(int(cfg.seed))
    methods = [MethodResult("ground truth", "ground truth")]
    methods += [
        MethodResult(n, "baseline") for n in ("mean pose", "random train clip", "audio nearest neighbour")
    ]
    # Model rows: every checkpoint × sampler setting (the sweep, or the chosen/checkpoint sampler) × draws.
    settings: list[tuple[int, dict[str, Any]]] = []
    for g_index, label in enumerate(labels):
        for sweep_name in sweep or [None]:
            setting_sampler = sweep_samplers[sweep_name] if sweep_name else sampler
            for k in samples_list:
                parts = [p for p in (sweep_name, f"{k} samples, {cfg.reduce}" if k > 1 else None) if p]
                name = f"{label} ({', '.join(parts)})" if parts else label
                methods.append(MethodResult(name, "model"))
                settings.append((g_index, {"samples": k, "sampler": setting_sampler, "setting": sweep_name}))

    # Warm-up so the first timed request does not pay for library initialisation.
    for generator in generators:
        generator.warm_up()

    bvh_dir = out_dir / "bvh"
    mean_pose = mean_pose_motion(train, 1)  # one still frame, repeated to each sequence's length
    for seq in tqdm(test, desc=f"evaluate {cfg.split}"):
        frames = seq.motion.num_frames
        gt_text = motion_to_bvh(seq.motion)
        ref = read_bvh(gt_text)
        answers = [
            seq.motion,
            _fit_length(mean_pose, frames),
            _fit_length(train[int(rng.integers(len(train)))].motion, frames),
            _fit_length(
                train[
                    int(np.argmin(np.linalg.norm(train_emb - _song_embedding(test_feats[seq.name]), axis=1)))
                ].motion,
                frames,
            ),
        ]
        for method, motion in zip(methods[:4], answers, strict=True):
            text = gt_text if motion is seq.motion else motion_to_bvh(motion)
            _score_answer(method, seq.name, motion, text, ref, 0.0, bvh_dir)
        for method, (g_index, setting) in zip(methods[4:], settings, strict=True):
            generator = generators[g_index]
            # a genre-conditioned model dances the sequence's own genre
            style = seq.genre if generator.style_key == "genre" and seq.genre in generator.styles else None
            start = time.perf_counter()
            motion = generator.generate(
                seq.audio,
                seed=int(cfg.seed),
                samples=setting["samples"],
                reduce=str(cfg.reduce),
                sampler=setting["sampler"],
                steps=cfg.get("steps"),
                guidance=cfg.get("guidance"),
                style=style,
            )
            text = motion_to_bvh(motion)  # generation + export is what a miner's answer costs
            elapsed = time.perf_counter() - start
            _score_answer(method, seq.name, motion, text, ref, elapsed, bvh_dir)

    genre_of = {seq.name: seq.genre for seq in test}
    fidelity = _genre_fidelity_classifier(train, cfg)
    rows = []
    for method in methods:
        row = _summary(method, int(cfg.bootstrap), int(cfg.seed))
        row["dance"] = _dance_metrics(method, pool, beats)
        row["per_sequence"] = dict(zip(method.motions, method.rewards, strict=True))
        row["per_genre"] = _per_genre(method, genre_of)
        if fidelity is not None:
            row["dance"]["genre_accuracy"] = _genre_accuracy(fidelity, method, genre_of)
        rows.append(row)
    for row, (_, setting) in zip(rows[4:], settings, strict=True):
        row["setting"] = setting["setting"]
    report: dict[str, Any] = {
        "version": __version__,
        "data": str(cfg.data.source),
        "split": str(cfg.split),
        "checkpoints": [str(p) for p in paths],
        "n_sequences": len(test),
        "seconds_total": float(sum(s.duration for s in test)),
        "protocol": {
            "metric_fps": METRIC_FPS,
            "max_frames": dance.BAILANDO_MAX_FRAMES,
            "n_pred": len(test),
            "n_gt": len(pool_k),
            "joint_map": "edge_edge",
            "pool": _pool_report(pool),
            "pfc_note": f"{rows[0]['dance']['pfc_clips']} clips per method, 30 fps",
        },
        "rows": rows,
        "genre_from_audio": _genre_from_audio(generators, labels, test),
        "recommendation": _recommendation(rows),
    }
    if fidelity is not None:
        report["protocol"]["genre_classifier"] = {
            "windows": f"{fidelity.spec.window} frames at {fidelity.spec.fps:g} fps",
            "genres": fidelity.styles,
            "steps": int(cfg.get("genre_classifier_steps", 300)),
        }
    renders = []
    n_render = int(cfg.get("render", 0) or 0)
    if n_render and generators:
        from a2a.render import render

        for seq in test[:n_render]:
            model_method = methods[4]
            out = render(
                [model_method.motions[seq.name], seq.motion],
                out_dir / "renders" / f"{seq.name}.mp4",
                audio=seq.audio if isinstance(seq.audio, Path) else None,
                titles=[model_method.name, "ground truth"],
                progress=False,
            )
            renders.append(str(out))
    report["renders"] = renders
    report["plots"] = [str(_plot_rewards(report, out_dir / "plots" / "rewards.png"))]
    if sweep:
        report["plots"].append(str(_plot_reward_time(report, out_dir / "plots" / "reward_vs_time.png")))
    (out_dir / "report.json").write_text(json.dumps(json_ready(report), indent=2, allow_nan=False))
    write_markdown(report, out_dir / "report.md")
    log.info("report: %s", out_dir / "report.md")
    return report
