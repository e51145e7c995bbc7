"""Tier 2: a genre-conditioned EDGE learns the synthetic set's genres, the genre classifier hears them, and
genre guidance strengthens them (minutes on CPU)."""

from __future__ import annotations

import numpy as np
import pytest

import a2a
from a2a.config import compose_config
from a2a.data.aistpp import AISTPPDataset
from a2a.data.synthetic import synthesize
from a2a.metrics.style import style_accuracy, train_style_classifier
from a2a.train import train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

# genres whose synthetic styles differ most in torso lean (KR leans forward 0.30 rad, JB back 0.05) and arms
CONTRAST = ("KR", "JB")


def _train(root, out, *overrides):
    cfg = compose_config(
        "train",
        [
            "data=synthetic",
            "sampler=tiny",
            "logger=tiny",
            f"data.source={root}",
            "data.window_seconds=2.0",
            "data.test_stride=1.0",
            "data.batch_size=16",
            "data.cache_dir=null",
            f"output_dir={out}",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
            "trainer.check_val_every_n_epoch=10",
            *overrides,
        ],
    )
    return train(cfg)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("genres")
    root = synthesize(tmp / "syn", sequences=30, seconds=6.0, seed=3, progress=False)
    model = _train(
        root,
        tmp / "model",
        "model=edge_genre_tiny",
        "trainer.max_epochs=40",
        "model.validation.every_n_epochs=0",
    )
    classifier = _train(root, tmp / "classifier", "model=genre_classifier", "trainer.max_epochs=30")
    return root, model, classifier


def _lean(motion) -> float:
    """Mean forward lean (m) of the neck over the pelvis in the dancer's facing direction (+z)."""
    joints = motion.joints()
    return float(np.mean(joints[:, 12, 2] - joints[:, 0, 2]))


def test_genre_label_changes_the_dance_and_guidance_strengthens_it(trained):
    root, model, _ = trained
    gen = a2a.load(model["last_checkpoint"])
    data = AISTPPDataset(root)
    train_seqs = data.sequences("train")
    classifier = train_style_classifier(
        [s.motion.joints() for s in train_seqs], [s.genre for s in train_seqs], fps=30.0, steps=600, seed=0
    )
    genres = sorted({s.genre for s in train_seqs})
    songs = [s.audio for s in data.sequences("test") + data.sequences("val")]

    def fidelity(guidance):
        windows, labels, leans = [], [], {g: [] for g in CONTRAST}
        for song in songs:
            for genre in genres:
                motion = gen.generate(song, seed=0, style=genre, guidance=guidance)
                clip_windows = classifier.windows(motion.joints())
                windows.append(clip_windows)
                labels += [genre] * len(clip_windows)
                if genre in leans:
                    leans[genre].append(_lean(motion))
        return style_accuracy(classifier, np.concatenate(windows), labels), {
            g: np.mean(v) for g, v in leans.items()
        }

    plain, plain_lean = fidelity(None)
    guided, guided_lean = fidelity({"genre": 3.0, "audio": 2.0})
    chance = 1 / len(genres)
    truth = [s for s in data.sequences("test") + data.sequences("val") if s.genre in genres]
    truth_acc = style_accuracy(
        classifier,
        np.concatenate([classifier.windows(s.motion.joints()) for s in truth]),
        [g for s in truth for g in [s.genre] * len(classifier.windows(s.motion.joints()))],
    )
    print(
        f"genre fidelity: ground truth {truth_acc:.3f}, generated {plain:.3f}, with genre guidance 3 "
        f"{guided:.3f}, chance {chance:.3f}; lean KR/JB: {plain_lean} → guided {guided_lean}"
    )
    assert plain > 2 * chance
    assert guided > plain
    assert plain_lean["KR"] > plain_lean["JB"]
    assert guided_lean["KR"] - guided_lean["JB"] > plain_lean["KR"] - plain_lean["JB"]


def test_genre_from_audio_beats_chance(trained, tmp_path):
    from a2a.checkpoint.attach import attach_classifier

    root, model, classifier = trained
    gen = a2a.load(
        attach_classifier(model["last_checkpoint"], classifier["last_checkpoint"], tmp_path / "a.ckpt")
    )
    data = AISTPPDataset(root)
    held_out = data.sequences("test") + data.sequences("val")
    hits = [gen.predict_style(s.audio)[0] == s.genre for s in held_out]
    print(f"genre from audio on {len(hits)} held-out songs: {np.mean(hits):.3f} (chance 0.1)")
    assert np.mean(hits) > 0.3
