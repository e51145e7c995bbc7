"""Evaluate checkpoints: ``python evaluate.py ckpt=PATH`` (see conf/evaluate.yaml)."""

import sys

import hydra
from omegaconf import DictConfig

from a2a.config import check_command_line  # also registers the config resolvers
from a2a.doors import FailedRunCleanup, one_line_errors
from a2a.evaluate import evaluate


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    with one_line_errors("evaluate"), FailedRunCleanup():
        evaluate(cfg)


if __name__ == "__main__":
    check_command_line("evaluate", "evaluate", sys.argv[1:])
    main()
