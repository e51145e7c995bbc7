"""Train a model: ``python train.py model=edge data=aistpp data.source=PATH`` (see conf/train.yaml)."""

import sys

import hydra
from omegaconf import DictConfig

from a2a.config import check_command_line  # also registers the config resolvers
from a2a.train import train_command


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    train_command(cfg)


if __name__ == "__main__":
    check_command_line("train", "train", sys.argv[1:])
    main()
