"""Style accuracy: a small style classifier on motion windows, trained on the training split.

The classifier is the FGD encoder's temporal-conv trunk (:class:`~a2a.metrics.window_nets.ConvWindowEncoder`)
with one logit per style, trained with cross-entropy (Adam, lr 1e-3) on root-relative windows of the
training clips, each window labelled with its clip's style. A generated clip asked for style ``s`` counts
as correct in a window when the classifier's arg-max is ``s``; :func:`style_accuracy` is the fraction of
correct windows. Report it next to the classifier's accuracy on held-out ground truth (its ceiling) and
``1 / styles`` (chance). Windows are uniformly sampled: with unbalanced styles the classifier leans to the
frequent ones, which the confusion matrix (:func:`confusion_matrix`) shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from a2a.errors import A2AError
from a2a.metrics.kinetic import validate_fps, validate_joints
from a2a.metrics.motion_windows import WindowSpec
from a2a.metrics.window_nets import ConvWindowEncoder, WindowNet, fit, sizes

__all__ = [
    "StyleClassifier",
    "accuracy",
    "confusion_matrix",
    "load_style_classifier",
    "style_accuracy",
    "train_style_classifier",
]

STYLE_LR = 1e-3
STYLE_BETAS = (0.9, 0.999)


class StyleClassifier(WindowNet):
    """A trained style classifier; :attr:`labels` are the style names in logit order."""

    kind = "style_classifier"

    def build(self) -> nn.Module:
        if not self.labels:
            raise A2AError("a style classifier needs at least one style")
        return ConvWindowEncoder(
            3 * self.spec.num_joints,
            self.spec.window,
            len(self.labels),
            channels=self.size["channels"],
            hidden=self.size["hidden"],
        )

    @property
    def styles(self) -> list[str]:
        """Style names, index = class id."""
        return list(self.labels)

    def label_ids(self, labels: Sequence[str] | np.ndarray) -> np.ndarray:
        """Class ids ``[K]`` of style names, or integer ids checked against the number of styles.

        Raises:
            A2AError: an unknown style name (the known ones are listed) or an id out of range.
        """
        array = np.asarray(labels)
        if array.ndim != 1:
            raise A2AError(f"labels: expected shape [K], got {array.shape}")
        if array.dtype.kind in "iu":
            bad = array[(array < 0) | (array >= len(self.labels))]
            if bad.size:
                raise A2AError(f"labels: class id {bad[0]} out of range for {len(self.labels)} styles")
            return array.astype(np.int64)
        index = {name: i for i, name in enumerate(self.labels)}
        unknown = sorted({str(name) for name in array.tolist()} - index.keys())
        if unknown:
            raise A2AError(f"unknown style {unknown[0]!r}; {self.source} knows {', '.join(self.labels)}")
        return np.array([index[str(name)] for name in array.tolist()], dtype=np.int64)

    def logits(self, windows: np.ndarray) -> np.ndarray:
        """``[K, styles]`` float64 logits of windows ``[K, W, J, 3]``."""
        return self.run(self.net, self.inputs(windows), len(self.labels))

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """``[K]`` predicted class ids of windows ``[K, W, J, 3]``."""
        return self.logits(windows).argmax(axis=1)


def train_style_classifier(
    clips: Sequence[np.ndarray],
    styles: Sequence[str],
    fps: float,
    *,
    window: int = 34,
    stride: int | None = None,
    root: int | None = 0,
    steps: int = 2000,
    batch_size: int = 64,
    lr: float = STYLE_LR,
    channels: int = 32,
    hidden: int = 128,
    seed: int = 0,
) -> StyleClassifier:
    """Train a style classifier on the training split's clips.

    Args:
        clips: ``[N_i, J, 3]`` joint positions, all with the same ``J``.
        styles: the style name of each clip; the classes are the sorted distinct names.
        fps: frame rate of the clips (stored and checked when the classifier is used).
        window, stride, root: windowing (:class:`~a2a.metrics.motion_windows.WindowSpec`; stride default
            ``window // 2``).
        steps, batch_size, lr: Adam training (betas 0.9, 0.999), cross-entropy.
        channels, hidden: network width.
        seed: initial weights and shuffling; the same seed and data give the same classifier.

    Returns:
        The trained :class:`StyleClassifier` (eval mode).

    Raises:
        A2AError: no clips, ``len(styles) != len(clips)``, fewer than 2 windows, bad sizes.
    """
    if not clips:
        raise A2AError("train_style_classifier: no clips given")
    if len(styles) != len(clips):
        raise A2AError(f"train_style_classifier: {len(clips)} clips but {len(styles)} styles")
    num_joints = validate_joints(clips[0], min_frames=1, what="clips[0]").shape[1]
    spec = WindowSpec(num_joints, window, window // 2 if stride is None else stride, validate_fps(fps), root)
    names = sorted({str(style) for style in styles})
    windows = spec.cut_all(clips)
    labels = np.repeat([names.index(str(s)) for s in styles], [spec.count(len(clip)) for clip in clips])
    classifier = StyleClassifier.for_training(
        windows, spec, sizes(channels=channels, hidden=hidden), labels=names, seed=seed
    )
    inputs = classifier.inputs(windows)
    targets = torch.from_numpy(labels.astype(np.int64))

    def loss_of(batch: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(classifier.net(inputs[batch]), targets[batch])

    fit(
        classifier.net,
        loss_of,
        len(inputs),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        betas=STYLE_BETAS,
        seed=seed,
        what="train_style_classifier",
    )
    return classifier


def load_style_classifier(
    path: str | Path, *, num_joints: int | None = None, window: int | None = None, fps: float | None = None
) -> StyleClassifier:
    """Load a saved style classifier (weights-only), checked against the data (:meth:`WindowNet.load`)."""
    return StyleClassifier.load(path, num_joints=num_joints, window=window, fps=fps)


def _class_ids(values: Sequence[int] | np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise A2AError(f"{what}: expected integer class ids of shape [K], got {array.dtype} {array.shape}")
    return array.astype(np.int64)


def accuracy(predicted: Sequence[int] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Fraction of ``predicted[k] == labels[k]`` over ``K ≥ 1`` class ids."""
    pred, true = _class_ids(predicted, "predicted"), _class_ids(labels, "labels")
    if pred.shape != true.shape or pred.size == 0:
        raise A2AError(f"accuracy: needs equal, non-empty shapes, got {pred.shape} and {true.shape}")
    return float(np.mean(pred == true))


def style_accuracy(
    classifier: StyleClassifier, windows: np.ndarray, labels: Sequence[str] | np.ndarray
) -> float:
    """Fraction of windows the classifier assigns to their requested style.

    Args:
        classifier: a trained :class:`StyleClassifier`.
        windows: ``[K, W, J, 3]`` (``classifier.windows(clip)`` cuts them).
        labels: ``[K]`` the style each window was generated with: names or class ids.

    Returns:
        Accuracy in [0, 1] (chance: ``1 / len(classifier.styles)``).
    """
    return accuracy(classifier.predict(windows), classifier.label_ids(labels))


def confusion_matrix(
    labels: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray, num_classes: int
) -> np.ndarray:
    """``[C, C]`` counts: row = true class, column = predicted class.

    Raises:
        A2AError: different lengths, or an id outside ``0 .. C−1``.
    """
    true, pred = _class_ids(labels, "labels"), _class_ids(predicted, "predicted")
    if true.shape != pred.shape:
        raise A2AError(f"confusion_matrix: labels {true.shape} and predicted {pred.shape} differ")
    for name, ids in (("labels", true), ("predicted", pred)):
        if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
            raise A2AError(f"confusion_matrix: {name} has ids outside 0..{num_classes - 1}")
    return np.bincount(true * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )
