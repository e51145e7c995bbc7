"""Tier 2: dsg_tiny learns style control on the synthetic gesture set (minutes on CPU).

One model is trained for a few thousand steps on ``a2a data synth-gesture`` data (24 takes of 10 s: three
of each style for training, one held out). Every held-out take's speech is then generated with each of
the six styles (same seed, the experiment's 5-step DDIM sampler), so that only the style label differs
between the motions compared:

(a) the gesture amplitude per style separates like the data's (Happy and Angry large, Sad and Relaxed
    small);
(b) a style classifier trained on the training split recognises the requested style of generated motion
    far above chance;
(c) style guidance with weight > 1 (``guidance={"style": w}``; ``style_mix=w`` with one style is the same
    sum) widens the separation of (a), and, in a snapshot taken at a third of the training, where the
    plain model's style is still ambiguous to the classifier, raises the style accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import open_dict

import a2a
from a2a.data.synthetic_gesture import synthesize_gestures
from a2a.data.zeggs import ZeggsFolder
from a2a.metrics.style import train_style_classifier
from a2a.motion.rigs import ZEGGS75
from a2a.train import train
from tests.conftest import compose_train

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

TRAIN_STEPS = 3000
EARLY_STEPS = 1000
LARGE, SMALL = ("Happy", "Angry"), ("Sad", "Relaxed")
HANDS = [ZEGGS75.names.index("LeftHand"), ZEGGS75.names.index("RightHand")]
GUIDED = 2.0  # see test_style_guidance_strengthens_the_style for 3.0


def hand_amplitude(joints: np.ndarray) -> float:
    """Mean distance of the wrists from their average position in the take, relative to the hips (m).

    Args:
        joints: ``[N, 75, 3]`` positions of the ZEGGS rig.
    """
    wrists = (joints - joints[:, :1])[:, HANDS]
    return float(np.linalg.norm(wrists - wrists.mean(axis=0), axis=-1).mean())


def separation(amplitude: dict[str, float]) -> float:
    """Smallest large-style amplitude over the largest small-style one: > 1 when every large style moves
    more than every small one."""
    return min(amplitude[s] for s in LARGE) / max(amplitude[s] for s in SMALL)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data folder, generator after :data:`TRAIN_STEPS` steps, generator after :data:`EARLY_STEPS`) of
    dsg_tiny on synthetic gestures; one run, the early generator from a snapshot along the way."""
    tmp = tmp_path_factory.mktemp("dsg_learning")
    root = synthesize_gestures(tmp / "gestures", sequences=24, seconds=10.0, seed=0, progress=False)
    cfg = compose_train(
        [
            "experiment=dsg_tiny",
            f"data.source={root}",
            f"output_dir={tmp / 'run'}",
            "data.batch_size=32",
            "trainer.limit_train_batches=1.0",
            "trainer.max_epochs=-1",
            f"+trainer.max_steps={TRAIN_STEPS}",
            "trainer.check_val_every_n_epoch=100000",  # no validation: the checks below are the test
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
        ]
    )
    with open_dict(cfg):
        cfg.callbacks.snapshots = {
            "_target_": "pytorch_lightning.callbacks.ModelCheckpoint",
            "dirpath": str(tmp / "snapshots"),
            "every_n_train_steps": EARLY_STEPS,
            "save_top_k": -1,
            "save_weights_only": True,
        }
    final = a2a.load(train(cfg)["last_checkpoint"])
    (early,) = (tmp / "snapshots").glob(f"*step={EARLY_STEPS}.ckpt")
    return root, final, a2a.load(early)


@pytest.fixture(scope="module")
def data(trained):
    folder = ZeggsFolder(trained[0])
    return folder.sequences("train"), folder.sequences("val")


@pytest.fixture(scope="module")
def classifier(data):
    """A style classifier trained on the training split (34-frame windows; loss ≈ 0 well before 300 steps)."""
    takes = data[0]
    return train_style_classifier(
        [s.motion.joints() for s in takes], [s.genre for s in takes], 20.0, window=34, steps=300, seed=0
    )


def _generate(gen, takes, **options) -> dict[str, list[np.ndarray]]:
    """Joints of every take's speech generated in every style: ``{style: [[N, 75, 3] per take]}``."""
    return {
        style: [gen.generate(take.audio, seed=0, style=style, **options).joints() for take in takes]
        for style in gen.styles
    }


@pytest.fixture(scope="module")
def generated(trained, data):
    """Generated joints with the plain model (weight 1) and with style guidance :data:`GUIDED`."""
    gen, val = trained[1], data[1]
    return {1.0: _generate(gen, val), GUIDED: _generate(gen, val, guidance={"style": GUIDED})}


@pytest.fixture(scope="module")
def generated_early(trained, data):
    """The same, from the snapshot after :data:`EARLY_STEPS` steps."""
    gen, val = trained[2], data[1]
    return {1.0: _generate(gen, val), GUIDED: _generate(gen, val, guidance={"style": GUIDED})}


def _amplitudes(motions: dict[str, list[np.ndarray]]) -> dict[str, float]:
    return {style: float(np.mean([hand_amplitude(j) for j in clips])) for style, clips in motions.items()}


def _accuracy(classifier, motions: dict[str, list[np.ndarray]]) -> float:
    correct = [
        classifier.predict(classifier.windows(j)) == classifier.styles.index(style)
        for style, clips in motions.items()
        for j in clips
    ]
    return float(np.mean(np.concatenate(correct)))


def _show(label: str, amplitude: dict[str, float]) -> None:
    cells = ", ".join(f"{style} {value:.4f}" for style, value in amplitude.items())
    print(f"{label}: {cells}; separation {separation(amplitude):.2f}")


def test_style_changes_gesture_amplitude_like_the_data(data, generated, generated_early):
    real = {
        style: float(np.mean([hand_amplitude(t.motion.joints()) for t in data[0] if t.genre == style]))
        for style in generated[1.0]
    }
    model, early = _amplitudes(generated[1.0]), _amplitudes(generated_early[1.0])
    _show("data amplitude (m)", real)
    _show("model amplitude (m)", model)
    _show(f"after {EARLY_STEPS} steps (m)", early)
    # Measured: data 2.25 (Happy 0.112, Angry 0.116 against Sad 0.050, Relaxed 0.049); model 2.31
    # (training seed 1: 2.18). Learned, not given: the snapshot after a third of the steps is the wrong
    # way round (0.59; seed 1: 0.40), as is a model after 200 steps (0.26). 1.5 leaves room for another
    # machine's arithmetic.
    assert separation(real) > 1.5
    assert separation(model) > 1.5
    assert separation(early) < separation(model)


def test_classifier_recognises_the_generated_style(data, classifier, generated):
    held_out = {s: [t.motion.joints() for t in data[1] if t.genre == s] for s in classifier.styles}
    ceiling = _accuracy(classifier, held_out)
    accuracy = _accuracy(classifier, generated[1.0])
    chance = 1.0 / len(classifier.styles)
    print(
        f"style accuracy: generated {accuracy:.3f}, held-out ground truth {ceiling:.3f}, chance {chance:.3f}"
    )
    # Measured: 1.000 for both (seed 1 too; the snapshot after 1000 steps: 0.73); three times chance
    # is far from either.
    assert accuracy > 3 * chance
    assert ceiling > 3 * chance


def test_style_guidance_strengthens_the_style(trained, data, classifier, generated, generated_early):
    plain, guided = _amplitudes(generated[1.0]), _amplitudes(generated[GUIDED])
    _show("weight 1", plain)
    _show(f"weight {GUIDED:g}", guided)
    accuracy = {w: _accuracy(classifier, motions) for w, motions in generated.items()}
    early = {w: _accuracy(classifier, motions) for w, motions in generated_early.items()}
    print(f"style accuracy by weight: {accuracy}; after {EARLY_STEPS} steps: {early}")
    # Measured separation 2.31 → 6.25 (training seed 1: 2.18 → 5.6; weight 3: 5.0 and 6.4). The small
    # styles nearly stop (Sad 0.027 → 0.006 m) while Happy's amplitude falls too (0.072 → 0.043) and
    # Angry's holds (0.062 → 0.064): the null-style branch moves more than any style (0.12 m, hand speed
    # 0.84 m/s against the data's 0.14–0.53), so moving away from it damps motion, the small styles most.
    assert separation(guided) > 1.5 * separation(plain)
    # The final model's accuracy is at its ceiling (1.0) with weight 1 already; the early snapshot's is
    # not: measured 0.73 → 0.90 (seed 1: 0.54 → 0.73; weight 3 gives 1.0 and 0.66).
    assert accuracy[GUIDED] >= accuracy[1.0]
    assert early[GUIDED] > early[1.0] + 0.1
    # Extrapolating away from the null style with style_mix is the same weighted sum.
    gen = trained[1]
    np.testing.assert_allclose(
        gen.generate(data[1][0].audio, seed=0, style="Happy", style_mix=GUIDED).joints(),
        generated[GUIDED]["Happy"][0],
        atol=1e-4,
    )
