"""The README, the Makefile and the config comments say what the code does."""

from __future__ import annotations

import json
import re
import shlex
import subprocess

import pytest
from hydra import compose, initialize_config_dir

from a2a.cli import build_parser
from a2a.config import compose_config
from a2a.metrics.validator import correctness, reward, speed
from tests.conftest import CONF, REPO

README = (REPO / "README.md").read_text()


def _bash_lines(prefix: str) -> list[list[str]]:
    """Commands starting with ``prefix`` inside the README's bash blocks, split as a shell would."""
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.startswith(prefix)]
    return [shlex.split(line, comments=True) for line in lines]


def test_readme_score_example_follows_the_formula():
    (command,) = _bash_lines("a2a score ")
    time = float(command[command.index("--time") + 1])
    printed = next(line for line in README.splitlines() if line.startswith('# {"rmse"'))
    shown = json.loads(printed.removeprefix("# ").replace(", ...}", "}"))
    c, s = correctness(shown["rmse"]), speed(time)
    assert shown["correctness"] == round(c, 4) and shown["speed"] == round(s, 4)
    assert shown["reward"] == round(reward(c, s), 4)


def test_readme_a2a_commands_parse():
    commands = _bash_lines("a2a ")
    assert len(commands) >= 4
    for command in commands:
        build_parser().parse_args(command[1:])  # exits (SystemExit) on an unknown option


@pytest.mark.parametrize("command", _bash_lines("python mine.py "), ids=lambda c: " ".join(c[2:]))
def test_readme_mine_commands_compose(command):
    cfg = compose_config("mine", command[2:])
    assert str(cfg.ckpt).endswith((".ckpt", "CKPT"))


def test_readme_never_sends_miners_to_finney_netuid_25():
    assert "--netuid 25" not in README and "netuid=25" not in README
    assert "since\n20 May 2024 finney's netuid 25 has belonged to another subnet" in README
    assert "Virtual-Protocol/tao-vpsubnet, last changed on 8 May 2024" in README
    assert "mine.force=true" in README


def test_readme_says_how_to_get_the_cpu_torch_build():
    pin = (REPO / "constraints.txt").read_text().strip()
    assert f".venv/bin/pip install {pin} --index-url https://download.pytorch.org/whl/cpu" in README


def test_make_install_says_what_it_installs(tmp_path):
    dry = subprocess.run(
        ["make", "-n", "install", f"VENV={tmp_path / 'venv'}"], cwd=REPO, capture_output=True, text=True
    )
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    pip = next(i for i, line in enumerate(lines) if "pip install --quiet" in line)
    announced = " ".join(lines[:pip])
    assert "Installing a2a with its dev extras" in announced and "torch" in announced
    assert "minutes" in announced


def test_trainer_comment_names_the_demo_trainer():
    with initialize_config_dir(str(CONF), version_base="1.3"):
        demo = compose("train", overrides=["experiment=demo"], return_hydra_config=True)
    trainer = demo.hydra.runtime.choices["trainer"]
    assert trainer != "tiny"
    comment = (CONF / "trainer" / "tiny.yaml").read_text().splitlines()[0]
    assert f"`make demo` trains longer with trainer={trainer}" in comment


def test_readme_python_api_example_runs(tiny_checkpoint, tmp_path, monkeypatch):
    import numpy as np
    import soundfile as sf

    block = re.search(r"```python\n(import a2a\n.*?)```", README, flags=re.S).group(1)
    sf.write(tmp_path / "song.wav", np.sin(np.linspace(0, 900, 22050 * 3)).astype(np.float32), 22050)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(block.replace('"last.ckpt"', repr(str(tiny_checkpoint))), namespace)
    assert namespace["motion"].num_frames == namespace["fast"].num_frames == 90
    assert namespace["bvh"].startswith("HIERARCHY")
