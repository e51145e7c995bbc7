"""Mine on Bittensor subnet 25: ``python mine.py ckpt=best.ckpt`` (see conf/mine.yaml and the README).

Offline loopback, no chain: ``python mine.py ckpt=best.ckpt offline=true``, then
``a2a query --port 8091 song.wav``.
"""

import sys

import hydra
from omegaconf import DictConfig

import a2a.config  # noqa: F401  (config resolvers)
from a2a.errors import A2AError
from a2a.mining import serve


@hydra.main(version_base="1.3", config_path="conf", config_name="mine")
def main(cfg: DictConfig) -> None:
    try:
        serve(cfg)
    except A2AError as exc:
        print(f"mine: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
