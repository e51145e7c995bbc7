"""Put a trained classifier into a model's checkpoint, so that one file generates and chooses its style.

``a2a attach-classifier MODEL.ckpt CLASSIFIER.ckpt OUT.ckpt``: the classifier (``model=genre_classifier``)
predicts the categorical condition a genre- or style-conditioned model takes (``genre``) from the same audio
features; with it attached, ``generate(audio)`` without a style picks the one the music implies
(``style="auto"``). Both must agree on the labels (in the same one-hot order) and on the audio features.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from a2a.checkpoint.configs import check_config
from a2a.checkpoint.format import read_checkpoint, save_checkpoint
from a2a.errors import CheckpointError

CLASSIFIER_KIND = "classifier"
NETWORK_PREFIX = "network."


def _features_signature(features: dict[str, Any]) -> tuple:
    extractor = dict(features.get("extractor") or {})
    extractor.pop("path", None)  # where the weights live may differ between machines
    return (
        features.get("dim"),
        features.get("fps"),
        features.get("windowing", "per_song"),
        sorted(extractor.items()),
    )


def attach_classifier(
    model: str | os.PathLike, classifier: str | os.PathLike, out: str | os.PathLike
) -> Path:
    """Write ``out``: the checkpoint ``model`` with ``classifier`` inside its ``a2a`` block.

    Raises:
        CheckpointError: unreadable files, a file that is not a classifier, labels or features that differ,
            or ``out`` naming one of the inputs.
    """
    model, classifier, out = Path(model), Path(classifier), Path(out)
    if out.resolve() in (model.resolve(), classifier.resolve()):
        raise CheckpointError(f"{out}: the output would overwrite an input; choose another OUT")
    ckpt = read_checkpoint(model)
    clf = read_checkpoint(classifier)
    meta, clf_meta = ckpt["a2a"], clf["a2a"]
    if clf_meta.get("kind") != CLASSIFIER_KIND:
        raise CheckpointError(f"{classifier}: a {clf_meta.get('kind')!r} checkpoint, not a classifier")
    hparams = clf["hyper_parameters"]
    target = str(hparams.get("target"))
    labels = list((clf_meta.get("vocabularies") or {}).get(target) or [])
    wanted = list((meta.get("vocabularies") or {}).get(target) or [])
    if not wanted:
        known = ", ".join(meta.get("vocabularies") or {}) or "none"
        raise CheckpointError(f"{model}: the model takes no {target!r} condition (it knows {known})")
    if labels != wanted:
        raise CheckpointError(
            f"{classifier}: its {target} labels ({', '.join(labels)}) differ from the model's "
            f"({', '.join(wanted)})"
        )
    if _features_signature(hparams["features"]) != _features_signature(ckpt["hyper_parameters"]["features"]):
        raise CheckpointError(
            f"{classifier}: it hears other audio features than {model} "
            f"({hparams['features'].get('dim')}-d vs {ckpt['hyper_parameters']['features'].get('dim')}-d, or "
            "another extractor or windowing); train it with the model's features"
        )
    check_config(hparams["network"], "classifier", f"{classifier}: classifier network")
    weights = {
        k[len(NETWORK_PREFIX) :]: v for k, v in clf["state_dict"].items() if k.startswith(NETWORK_PREFIX)
    }
    if not weights:
        raise CheckpointError(f"{classifier}: no classifier weights ('{NETWORK_PREFIX}*') in its state_dict")
    attached = dict(ckpt)
    attached["a2a"] = {
        **meta,
        "classifier": {
            "network": dict(hparams["network"]),
            "state_dict": {k: v.detach().contiguous() for k, v in weights.items()},
            "target": target,
            "labels": labels,
            "window": int(hparams["window"]),
            "source": str(classifier),
        },
    }
    return save_checkpoint(attached, out)


def build_classifier(entry: dict[str, Any], where: str) -> torch.nn.Module:
    """The network of a checkpoint's ``a2a.classifier`` entry, weights loaded, in eval mode."""
    from a2a.checkpoint.configs import build_network

    where = f"{where}: checkpoint a2a.classifier.network"
    return build_network(entry["network"], "classifier", where, entry["state_dict"]).eval()
