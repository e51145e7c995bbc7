"""Genre-conditioned dance: EDGE with a genre (edge_genre), DSG's denoiser on dance (dsg_dance), the genre
classifier (model=genre_classifier), attaching it (style=auto), and the errors a user can meet."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

import a2a
from a2a.checkpoint.attach import attach_classifier
from a2a.cli import main as cli
from a2a.config import compose_config
from a2a.errors import A2AError, CheckpointError, DatasetError
from a2a.train import train

SR = 22050


def _train(source, out, *overrides):
    cfg = compose_config(
        "train",
        [
            "data=tiny",
            "sampler=tiny",
            "trainer=tiny",
            "logger=tiny",
            f"data.source={source}",
            f"output_dir={out}",
            "~callbacks.progress",
            "+trainer.enable_progress_bar=false",
            *overrides,
        ],
    )
    return train(cfg)["last_checkpoint"]


@pytest.fixture(scope="module")
def genre_model(synthetic_root, tmp_path_factory):
    return _train(synthetic_root, tmp_path_factory.mktemp("edge_genre"), "model=edge_genre_tiny")


@pytest.fixture(scope="module")
def classifier(synthetic_root, tmp_path_factory):
    return _train(synthetic_root, tmp_path_factory.mktemp("classifier"), "model=genre_classifier")


def _music(seconds: float = 2.5) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + (np.sin(2 * np.pi * 2 * t) > 0.9))).astype(np.float32)


def test_genre_changes_the_dance(genre_model):
    gen = a2a.load(genre_model)
    assert gen.style_key == "genre" and gen.styles == [
        "BR",
        "PO",
        "LO",
        "MH",
        "LH",
        "HO",
        "WA",
        "KR",
        "JS",
        "JB",
    ]
    house = gen.generate(_music(), sr=SR, seed=0, style="gHO")  # AIST++'s spelling
    assert np.array_equal(house.poses, gen.generate(_music(), sr=SR, seed=0, style="HO").poses)
    breaking = gen.generate(_music(), sr=SR, seed=0, style="BR")
    assert np.abs(house.joints() - breaking.joints()).max() > 1e-4
    mixed = gen.generate(_music(), sr=SR, seed=0, style=["HO", "BR"], style_mix=1.0)
    np.testing.assert_allclose(mixed.joints(), house.joints(), atol=1e-4)  # a batch of two: float noise
    guided = gen.generate(_music(), sr=SR, seed=0, style="HO", guidance={"genre": 3.0})
    assert np.abs(guided.joints() - house.joints()).max() > 1e-5
    with pytest.raises(A2AError, match="unknown style 'gXX'; this model knows BR, PO, LO"):
        gen.generate(_music(), sr=SR, style="gXX")
    with pytest.raises(A2AError, match="style=auto needs a classifier in the checkpoint"):
        gen.generate(_music(), sr=SR, style="auto")


def test_classifier_attached_picks_the_genre(genre_model, classifier, tmp_path):
    with pytest.raises(CheckpointError, match="a classifier checkpoint, not a generator"):
        a2a.load(classifier)
    both = attach_classifier(genre_model, classifier, tmp_path / "both.ckpt")
    gen = a2a.load(both)
    info: dict = {}
    motion = gen.generate(_music(), sr=SR, seed=0, info=info)  # no style: the music's
    assert info["style"] in gen.styles and 0 < info["style_probability"] <= 1
    named = gen.generate(_music(), sr=SR, seed=0, style=info["style"])
    np.testing.assert_array_equal(motion.poses, named.poses)
    # the attached network is the trained one: same prediction as the classifier module itself
    stored = torch.load(classifier, weights_only=True)
    weights = {k[len("network.") :]: v for k, v in stored["state_dict"].items() if k.startswith("network.")}
    for name, value in gen.classifier["network"].state_dict().items():
        assert torch.equal(value, weights[name])
    with pytest.raises(CheckpointError, match="would overwrite an input"):
        attach_classifier(genre_model, classifier, genre_model)


def test_cli_says_which_genre_it_picked(genre_model, classifier, tmp_path, capsys):
    both = attach_classifier(genre_model, classifier, tmp_path / "both.ckpt")
    wav = tmp_path / "music.wav"
    sf.write(wav, _music(), SR)
    genre, probabilities = a2a.load(both).predict_style(wav)
    heard = f"genre: {genre} (probability {probabilities[genre]:.2f}, picked from the audio)"
    for style in ([], ["--style", "auto"]):  # no style on a model with a classifier is style=auto
        assert cli(["generate", str(both), str(wav), str(tmp_path / "dance.bvh"), *style]) == 0
        assert capsys.readouterr().out.splitlines()[0] == heard
    assert cli(["generate", str(both), str(wav), str(tmp_path / "dance.bvh"), "--style", "gHO"]) == 0
    assert capsys.readouterr().out.startswith("wrote ")  # a named genre: nothing was picked


def test_attach_refuses_what_does_not_fit(tiny_checkpoint, classifier, genre_model, tmp_path, capsys):
    with pytest.raises(CheckpointError, match="the model takes no 'genre' condition"):
        attach_classifier(tiny_checkpoint, classifier, tmp_path / "x.ckpt")
    other = torch.load(classifier, weights_only=True)
    other["a2a"]["vocabularies"]["genre"] = ["A", "B"]
    torch.save(other, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match=r"its genre labels \(A, B\) differ from the model's \(BR, PO"):
        attach_classifier(genre_model, tmp_path / "other.ckpt", tmp_path / "x.ckpt")
    args = ["attach-classifier", str(genre_model), str(classifier), str(tmp_path / "cli.ckpt")]
    assert cli(args) == 0 and (tmp_path / "cli.ckpt").exists()


def test_dsg_dance_trains_and_generates_with_a_genre(synthetic_root, tmp_path):
    ckpt = _train(
        synthetic_root, tmp_path, "model=dsg_dance_tiny", "data.n_seed=15", "model.denoiser.local_window=15"
    )
    gen = a2a.load(ckpt)
    assert gen.style_key == "genre" and gen.window == 60
    motion = gen.generate(_music(4.3), sr=SR, seed=0, style="JB")
    assert motion.num_frames == 129 and np.isfinite(motion.poses).all()
    text = gen.generate_bvh(_music(1.0), sr=SR, seed=0, style="BR")
    assert text.startswith("HIERARCHY") and "Pelvis" in text


def test_genre_model_needs_genre_labels(tmp_path):
    from a2a.data.synthetic import synthesize

    root = synthesize(tmp_path / "syn", sequences=4, seconds=3.0, seed=1, progress=False)
    # a curated folder of the same files, without a genre column
    folder = tmp_path / "curated"
    folder.mkdir()
    for wav in sorted((root / "wavs").glob("*.wav"))[:2]:
        (folder / f"song{wav.stem[-1]}.wav").write_bytes(wav.read_bytes())
    for i, pkl in enumerate(sorted((root / "motions").glob("*.pkl"))[:2]):
        (folder / f"song{sorted((root / 'wavs').glob('*.wav'))[i].stem[-1]}.pkl").write_bytes(
            pkl.read_bytes()
        )
    with pytest.raises(DatasetError, match="no genre labels.*data.source_options.genre_column"):
        _train(folder, tmp_path / "run", "model=edge_genre_tiny", "data.source_kind=folder")


def test_cli_picks_genres(genre_model, tmp_path, capsys):
    wav = tmp_path / "music.wav"
    sf.write(wav, _music(), SR)
    out = tmp_path / "dance.bvh"
    assert (
        cli(["generate", str(genre_model), str(wav), str(out), "--style", "gHO", "--style-guidance", "2"])
        == 0
    )
    assert out.read_text().startswith("HIERARCHY")


def test_evaluate_reports_genres(genre_model, classifier, tmp_path):
    from a2a.data.synthetic import synthesize
    from a2a.evaluate import evaluate

    # 24 sequences: every test genre also dances in the training split, so fidelity can be measured
    data = synthesize(tmp_path / "syn", sequences=24, seconds=3.0, seed=2, progress=False)
    both = attach_classifier(genre_model, classifier, tmp_path / "both.ckpt")
    cfg = compose_config(
        "evaluate",
        [
            f"ckpt={both}",
            f"data.source={data}",
            f"output_dir={tmp_path / 'eval'}",
            "render=0",
            "bootstrap=50",
            "genre_classifier_steps=40",
        ],
    )
    report = evaluate(cfg)
    gt, model = report["rows"][0], report["rows"][4]
    assert set(gt["per_genre"]) and set(model["per_genre"]) == set(gt["per_genre"])
    assert 0 <= model["dance"]["genre_accuracy"] <= 1 and 0 <= gt["dance"]["genre_accuracy"] <= 1
    audio = report["genre_from_audio"]["both"]
    assert audio["n"] == report["n_sequences"] and audio["chance"] == pytest.approx(0.1)
    assert np.asarray(audio["confusion"]).sum() == audio["n"]
    markdown = (tmp_path / "eval" / "report.md").read_text()
    assert "## Per genre" in markdown and "**Genre from audio**" in markdown


def test_a_miner_refuses_a_checkpoint_its_style_setting_does_not_fit(genre_model, tiny_checkpoint, tmp_path):
    """mine.generate.style names a genre: a checkpoint without it is refused at start, and a hot reload to
    one keeps the old model serving (every request used to be answered "")."""
    import shutil

    from a2a.mining.intake import IntakeLimits
    from a2a.mining.miner import MinerSettings
    from a2a.mining.reload import ModelSlot
    from a2a.mining.service import warm_loader

    settings = MinerSettings(limits=IntakeLimits(), generate_kwargs={"style": "gHO", "samples": 2})
    load_warm = warm_loader(settings, device="cpu")
    with pytest.raises(A2AError, match="^mine.generate.style=gHO mine.generate.samples=2: this EdgeDenoiser"):
        ModelSlot(tiny_checkpoint, load_warm, poll_seconds=0)  # no genre input: refused at start
    served = tmp_path / "best.ckpt"
    shutil.copy(genre_model, served)
    slot = ModelSlot(served, load_warm, poll_seconds=0)
    first = slot.current
    shutil.copy(tiny_checkpoint, served)
    assert slot.reload_now() is False and slot.current is first and slot.generation == 1
