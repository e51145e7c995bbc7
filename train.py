"""Train a model: ``python train.py model=edge data=aistpp data.source=PATH`` (see conf/train.yaml)."""

import hydra
from omegaconf import DictConfig

import a2a.config  # noqa: F401  (config resolvers)
from a2a.train import train_command


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    train_command(cfg)


if __name__ == "__main__":
    main()
