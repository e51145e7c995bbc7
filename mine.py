"""Serve a checkpoint to audio-to-animation validators: ``python mine.py ckpt=best.ckpt netuid=N``.

Finney's netuid 25 has been another subnet since 20 May 2024; the miner checks the subnet's on-chain
identity first (see conf/mine.yaml and the README).

Offline loopback, no chain: ``python mine.py ckpt=best.ckpt offline=true``, then
``a2a query --port 8091 song.wav``.
"""

import sys

import hydra
from omegaconf import DictConfig

from a2a.config import check_command_line  # also registers the config resolvers
from a2a.errors import A2AError


@hydra.main(version_base="1.3", config_path="conf", config_name="mine")
def main(cfg: DictConfig) -> None:
    from a2a.mining import serve  # imports bittensor: not for --help

    try:
        serve(cfg)
    except A2AError as exc:
        print(f"mine: error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    check_command_line("mine", "mine", sys.argv[1:])
    main()
