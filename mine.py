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
from a2a.doors import FailedRunCleanup, one_line_errors


@hydra.main(version_base="1.3", config_path="conf", config_name="mine")
def main(cfg: DictConfig) -> None:
    from a2a.mining import serve  # imports bittensor: not for --help

    # The run directory stays once the miner serves: its log records the requests.
    with one_line_errors("mine"), FailedRunCleanup() as run:
        serve(cfg, on_serving=run.keep)


if __name__ == "__main__":
    check_command_line("mine", "mine", sys.argv[1:])
    main()
