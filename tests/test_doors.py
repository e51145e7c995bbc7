"""``python train.py`` and ``python evaluate.py`` as a user runs them (subprocesses, stdout not a terminal):
a2a's user errors are one line with exit status 2, checked before any long work; a failed run leaves no
directory; a run without a terminal prints progress lines and ``train.log`` records them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hydra import compose, initialize_config_dir

from a2a.errors import A2AError, CheckpointError
from a2a.evaluate import evaluate
from tests.conftest import CONF, REPO

NO_CUDA = not torch.cuda.is_available()


def _start(door: str, *overrides: str) -> subprocess.Popen:
    """``python DOOR OVERRIDES...``; the door ``a2a`` runs the console command (``python -m a2a.cli``)."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HYDRA_FULL_ERROR": "0"}
    program = ["-m", "a2a.cli"] if door == "a2a" else [str(REPO / door)]
    return subprocess.Popen(
        [sys.executable, *program, *overrides],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def runs(synthetic_root, tiny_checkpoint, tmp_path_factory) -> dict[str, dict]:
    """Every door run of this module, started together (each spends most of its time importing)."""
    tmp = tmp_path_factory.mktemp("doors")
    text = tmp / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    prior = tmp / "prior_run"  # an earlier run of train.py, resumed below with a wrong data.source
    (prior / ".hydra").mkdir(parents=True)
    (prior / "checkpoints").mkdir()
    shutil.copy(tiny_checkpoint, prior / "checkpoints" / "last.ckpt")
    song = tmp / "song.wav"
    sf.write(song, 0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * 22050) / 22050), 22050)
    (tmp / "answers").mkdir()
    # A miner started offline with a wallet folder of its own; it fails before it would serve.
    mine = ("mine.py", f"ckpt={tiny_checkpoint}", "offline=true", f"wallet.path={tmp / 'wallets'}")
    commands = {
        "train_resume_missing_data": (
            "train.py",
            "experiment=tiny",
            f"data.source={tmp / 'no_such_dataset'}",
            f"ckpt_path={prior / 'checkpoints' / 'last.ckpt'}",
        ),
        "train_missing_data": (
            "train.py",
            "experiment=tiny",
            f"data.source={tmp / 'no_such_dataset'}",
            f"hydra.run.dir={tmp / 'failed_run'}",
        ),
        "train_text_ckpt": (
            "train.py",
            "experiment=tiny",
            f"data.source={synthetic_root}",
            f"ckpt_path={text}",
            f"hydra.run.dir={tmp / 'failed_resume'}",
        ),
        "train_ok": (
            "train.py",
            "experiment=tiny",
            f"data.source={synthetic_root}",
            "callbacks.progress_log.every_seconds=0",
            f"hydra.run.dir={tmp / 'run'}",
        ),
        "evaluate_missing_ckpt": (
            "evaluate.py",
            f"ckpt={tmp / 'missing.ckpt'}",
            f"data.source={synthetic_root}",
            f"hydra.run.dir={tmp / 'eval1'}",
        ),
        "mine_unknown_sampler": (
            "mine.py",
            "ckpt=x.ckpt",
            "sampler=nope",
            f"hydra.run.dir={tmp / 'mine_unknown_sampler'}",
        ),
        "evaluate_null_group": (
            "evaluate.py",
            "ckpt=x.ckpt",
            "sampler=null",
            f"hydra.run.dir={tmp / 'evaluate_null_group'}",
        ),
        "train_gesture_model_on_dance_data": (
            "train.py",
            "model=dsg_tiny",
            "data=tiny",
            "features=wavlm_tiny",
            f"data.source={synthetic_root}",
            f"hydra.run.dir={tmp / 'train_gesture_model_on_dance_data'}",
        ),
        "train_unknown_key": (
            "train.py",
            "experiment=tiny",
            "trainer.nosuch=1",
            f"hydra.run.dir={tmp / 'train_unknown_key'}",
        ),
        "evaluate_without_ckpt": ("evaluate.py", f"hydra.run.dir={tmp / 'evaluate_without_ckpt'}"),
        "mine_without_ckpt": ("mine.py", "offline=true", f"hydra.run.dir={tmp / 'mine_without_ckpt'}"),
        "train_mistyped_epochs": (
            "train.py",
            "experiment=demo",
            "trainer.max_epochs=abc",
            f"hydra.run.dir={tmp / 'train_mistyped_epochs'}",
        ),
        "evaluate_mistyped_samples": (
            "evaluate.py",
            f"ckpt={tiny_checkpoint}",
            "samples=abc",
            f"hydra.run.dir={tmp / 'evaluate_mistyped_samples'}",
        ),
        "mine_mistyped_seconds": (
            *mine,
            "mine.max_audio_seconds=abc",
            f"hydra.run.dir={tmp / 'mine_mistyped_seconds'}",
        ),
        "mine_mistyped_port": (*mine, "axon.port=abc", f"hydra.run.dir={tmp / 'mine_mistyped_port'}"),
        "mine_negative_port": (*mine, "axon.port=-1", f"hydra.run.dir={tmp / 'mine_negative_port'}"),
        "mine_zero_samples": (
            *mine,
            "mine.generate.samples=0",
            f"hydra.run.dir={tmp / 'mine_zero_samples'}",
        ),
        "mine_style_on_a_styleless_model": (
            *mine,
            f"axon.port={_free_port()}",  # never bound: the settings are refused while the model warms up
            "mine.generate.style=gXX",
            f"hydra.run.dir={tmp / 'mine_style_on_a_styleless_model'}",
        ),
        "generate_into_a_directory": (
            "a2a",
            "generate",
            str(tiny_checkpoint),
            str(song),
            str(tmp / "answers"),
        ),
        "generate_unknown_device": (
            "a2a",
            "generate",
            str(tiny_checkpoint),
            str(song),
            str(tmp / "answers" / "tpu.bvh"),
            "--device",
            "tpu9",
        ),
        "score_negative_time": ("a2a", "score", str(song), str(song), "--time", "-1"),
        "score_nan_time": ("a2a", "score", str(song), str(song), "--time", "nan"),
    }
    if NO_CUDA:
        commands["mine_cuda"] = (*mine, "mine.device=cuda", f"hydra.run.dir={tmp / 'mine_cuda'}")
        commands["generate_cuda"] = (
            "a2a",
            "generate",
            str(tiny_checkpoint),
            str(song),
            str(tmp / "answers" / "cuda.bvh"),
            "--device",
            "cuda",
        )
    started = {name: (_start(*command), time.monotonic()) for name, command in commands.items()}
    results = {}
    for name, (proc, start) in started.items():
        out, err = proc.communicate(timeout=600)
        results[name] = {"rc": proc.returncode, "out": out, "err": err, "tmp": tmp, "text": text}
        results[name]["seconds"] = time.monotonic() - start
    return results


def _one_line(result: dict, program: str) -> str:
    lines = result["err"].strip().splitlines()
    assert result["rc"] == 2, result["err"][-3000:]
    assert len(lines) == 1 and lines[0].startswith(f"{program}: error: "), result["err"][-3000:]
    assert "Traceback" not in result["err"] + result["out"]
    return lines[0]


MEMBERS = "checkpoint, ddim, ddim_2, ddim_20, ddim_5, ddim_50, ddpm, posterior_mean, tiny"


@pytest.mark.parametrize(
    ("run", "program", "line"),
    [
        ("mine_unknown_sampler", "mine", f"sampler=nope: no such sampler; the sampler group has {MEMBERS}"),
        (
            "evaluate_null_group",
            "evaluate",
            f"sampler=null: sampler is a config group; name one of its members: {MEMBERS}",
        ),
        (
            "train_gesture_model_on_dance_data",
            "train",
            "model=dsg_tiny (conf/model/dsg_tiny.yaml): the model is trained on condition(s) style, which "
            "data=tiny (conf/data/tiny.yaml) does not provide (data.provides: audio, genre, seed)",
        ),
        (
            "train_unknown_key",
            "train",
            "Could not override 'trainer.nosuch'. To append to your config use +trainer.nosuch=1",
        ),
        ("evaluate_without_ckpt", "evaluate", "ckpt is required: give ckpt=VALUE on the command line"),
        ("mine_without_ckpt", "mine", "ckpt is required: give ckpt=VALUE on the command line"),
        (
            "train_mistyped_epochs",
            "train",
            "trainer.max_epochs=abc: trainer.max_epochs must be a whole number (default 30)",
        ),
        (
            "evaluate_mistyped_samples",
            "evaluate",
            "samples=abc: samples must be a whole number or a list of whole numbers (default [1])",
        ),
        (
            "mine_mistyped_seconds",
            "mine",
            "mine.max_audio_seconds=abc: mine.max_audio_seconds must be a number (default 300)",
        ),
        ("mine_mistyped_port", "mine", "axon.port=abc: axon.port must be a whole number (default 8091)"),
    ],
)
def test_a_bad_override_is_one_line_before_hydra_starts_a_run(runs, run, program, line):
    assert _one_line(runs[run], program) == f"{program}: error: {line}"
    assert not (runs[run]["tmp"] / run).exists()  # no run directory, no log


@pytest.mark.parametrize(
    ("run", "line"),
    [
        ("mine_negative_port", "axon.port=-1: not a TCP port; choose one from 1 to 65535"),
        ("mine_zero_samples", "mine.generate.samples=0: draws per answer must be a whole number >= 1"),
        (
            "mine_style_on_a_styleless_model",
            "mine.generate.style=gXX: this EdgeDenoiser checkpoint takes no style input",
        ),
    ],
)
def test_bad_miner_settings_are_refused_at_start_and_leave_no_run_directory(runs, run, line):
    assert _one_line(runs[run], "mine") == f"mine: error: {line}"
    assert not (runs[run]["tmp"] / run).exists()


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_cuda_without_cuda_is_one_line_at_the_miner_and_the_cli(runs):
    reason = f"this torch build ({torch.__version__}) has no CUDA support"
    if torch.version.cuda is not None:
        reason = "no CUDA device is visible"
    assert (
        _one_line(runs["mine_cuda"], "mine")
        == f"mine: error: mine.device=cuda: {reason}; use mine.device=cpu"
    )
    assert not (runs["mine_cuda"]["tmp"] / "mine_cuda").exists()
    line = _one_line(runs["generate_cuda"], "a2a generate")
    assert line == f"a2a generate: error: --device=cuda: {reason}; use --device=cpu"


def test_the_cli_checks_device_and_output_before_generating(runs):
    answers = runs["generate_into_a_directory"]["tmp"] / "answers"
    assert _one_line(runs["generate_into_a_directory"], "a2a generate") == (
        f"a2a generate: error: {answers}: is a directory; OUT names the file to write "
        f"(e.g. {answers / 'dance.bvh'})"
    )
    assert _one_line(runs["generate_unknown_device"], "a2a generate") == (
        "a2a generate: error: --device=tpu9: not a torch device (Invalid device string: 'tpu9')"
    )
    assert list(answers.iterdir()) == []
    for run in ("score_negative_time", "score_nan_time"):
        value = "-1" if run == "score_negative_time" else "nan"
        assert _one_line(runs[run], "a2a score") == (
            f"a2a score: error: --time {value}: the response time must be a finite number of seconds >= 0"
        )


def test_train_missing_dataset_is_one_line_and_leaves_no_run_directory(runs):
    result = runs["train_missing_data"]
    line = _one_line(result, "train")
    assert line.endswith("no_such_dataset: dataset path does not exist")
    assert not (result["tmp"] / "failed_run").exists()


def test_a_failed_resume_keeps_the_original_run_intact(runs):
    result = runs["train_resume_missing_data"]
    line = _one_line(result, "train")
    assert line.endswith("no_such_dataset: dataset path does not exist")
    prior = result["tmp"] / "prior_run"
    # The resume ran in the checkpoint's run directory (its train.log is there, not in a new timestamped
    # folder) and removed only the config folder it had added to it.
    assert sorted(p.name for p in prior.iterdir()) == [".hydra", "checkpoints", "train.log"]
    assert list((prior / ".hydra").iterdir()) == []
    assert (prior / "checkpoints" / "last.ckpt").exists()


def test_train_text_file_as_ckpt_path_is_one_line(runs):
    result = runs["train_text_ckpt"]
    line = _one_line(result, "train")
    assert f"ckpt_path={result['text']}: not a readable checkpoint" in line
    assert not (result["tmp"] / "failed_resume").exists()


def test_evaluate_missing_checkpoint_fails_before_reading_data(runs):
    result = runs["evaluate_missing_ckpt"]
    line = _one_line(result, "evaluate")
    assert line.endswith("missing.ckpt: no such checkpoint file")
    assert "music features" not in result["err"] + result["out"]  # no feature extraction ran
    assert not (result["tmp"] / "eval1").exists()  # the failed run removed its run directory


def test_training_without_a_terminal_prints_progress_and_train_log_keeps_it(runs):
    result = runs["train_ok"]
    assert result["rc"] == 0, result["err"][-3000:]
    periodic = [line for line in result["out"].splitlines() if "] - epoch 1/1 step " in line]
    assert len(periodic) == 2 and "windows/s" in periodic[-1] and "ETA" in periodic[-1]
    log = (result["tmp"] / "run" / "train.log").read_text()
    assert "training: 1 epochs of 2 batches" in log and "epoch 1/1 step 2/2" in log
    assert "val/loss" in log and "training finished" in log


def _evaluate_cfg(tmp_path: Path, *overrides: str):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("evaluate", overrides=[f"output_dir={tmp_path}", *overrides])


def test_evaluate_checks_checkpoints_and_device_before_opening_data(
    synthetic_root, tiny_checkpoint, tmp_path, monkeypatch
):
    opened = []
    monkeypatch.setattr("a2a.evaluate.open_source", lambda *a, **k: opened.append(a))
    text = tmp_path / "notes.ckpt"
    text.write_text("hello\n")
    with pytest.raises(CheckpointError, match="notes.ckpt: not a readable checkpoint"):
        evaluate(_evaluate_cfg(tmp_path, f"ckpt=[{tiny_checkpoint},{text}]", f"data.source={synthetic_root}"))
    with pytest.raises(A2AError, match="device=cude: not a torch device"):
        evaluate(_evaluate_cfg(tmp_path, f"ckpt={tiny_checkpoint}", "device=cude"))
    assert opened == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sweep=[posterior_mean,ddim_3]"], "no sampler named 'ddim_3'; the sampler group has"),
        (
            ["sweep=[ddim_2,posterior_mean]", "steps=5"],
            "steps=5: the sampler a2a.diffusion.PosteriorMeanSampler has no 'steps' setting",
        ),
        (["samples=[0]"], r"samples=\[0\]: draws per answer must be whole numbers >= 1"),
        (["samples=[1,0]"], r"samples=\[1,0\]: draws per answer must be whole numbers >= 1"),
        (["reduce=median"], "reduce=median: draws combine by one of mean, medoid"),
    ],
)
def test_evaluate_refuses_bad_row_settings_before_opening_data(
    synthetic_root, tiny_checkpoint, tmp_path, monkeypatch, overrides, message
):
    opened = []
    monkeypatch.setattr("a2a.evaluate.open_source", lambda *a, **k: opened.append(a))
    with pytest.raises(A2AError, match=f"^{message}"):
        evaluate(
            _evaluate_cfg(tmp_path, f"ckpt={tiny_checkpoint}", f"data.source={synthetic_root}", *overrides)
        )
    assert opened == []


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_cuda_on_a_machine_without_it_is_one_clear_error(synthetic_root, tiny_checkpoint, tmp_path):
    from a2a.train import train
    from tests.conftest import compose_train

    with pytest.raises(A2AError, match=r"^device=cuda: .*; use device=cpu$"):
        evaluate(_evaluate_cfg(tmp_path, f"ckpt={tiny_checkpoint}", "device=cuda"))
    cfg = compose_train(
        ["experiment=tiny", f"data.source={synthetic_root}", f"output_dir={tmp_path}", "trainer=gpu"]
    )
    with pytest.raises(A2AError, match=r"^trainer.accelerator=gpu: .*; train with trainer=cpu$"):
        train(cfg)


def test_evaluate_empty_folder_is_one_line_and_exit_2(tiny_checkpoint, tmp_path, capsys):
    from a2a.doors import one_line_errors

    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exited, one_line_errors("evaluate"):
        evaluate(_evaluate_cfg(tmp_path, f"ckpt={tiny_checkpoint}", f"data.source={tmp_path / 'empty'}"))
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"evaluate: error: {tmp_path / 'empty'}: ")


def _hydra_run(run_dir: Path, output_subdir: str = ".hydra") -> None:
    """Record a Hydra run in ``run_dir`` as the doors see it (``HydraConfig``), job name ``app``."""
    from hydra.core.hydra_config import HydraConfig

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            overrides=["data.source=x", f"hydra.run.dir={run_dir}", f"hydra.output_subdir={output_subdir}"],
            return_hydra_config=True,
        )
    cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)


def _fail(keep_checkpoints: bool, checkpoint: Path | None = None) -> None:
    """A run that fails, after writing ``checkpoint`` when one is named."""
    from a2a.doors import FailedRunCleanup

    with pytest.raises(A2AError), FailedRunCleanup(keep_checkpoints=keep_checkpoints):
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.write_bytes(b"weights")
        raise A2AError("the run failed")


@pytest.mark.parametrize(
    ("keep_checkpoints", "checkpoint", "kept"),
    [(True, False, False), (True, True, True), (False, True, False), (False, False, False)],
)
def test_a_failed_run_removes_its_directory_unless_training_saved_a_checkpoint(
    tmp_path, keep_checkpoints, checkpoint, kept
):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    (run / "app.log").write_text("")
    _hydra_run(run)
    _fail(keep_checkpoints, run / "checkpoints" / "last.ckpt" if checkpoint else None)
    assert run.exists() == kept


def test_a_failed_resume_removes_only_the_config_folder_it_added(tmp_path):
    prior = tmp_path / "prior"
    (prior / ".hydra" / "resumed-1").mkdir(parents=True)
    (prior / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (prior / "checkpoints").mkdir()
    (prior / "checkpoints" / "last.ckpt").write_bytes(b"weights")
    _hydra_run(prior, ".hydra/resumed-1")
    _fail(keep_checkpoints=True)
    assert sorted(p.relative_to(prior).as_posix() for p in prior.rglob("*")) == [
        ".hydra",
        ".hydra/config.yaml",
        "checkpoints",
        "checkpoints/last.ckpt",
    ]
