"""Constants of the miner and the local validator that need no bittensor import (the CLI uses them)."""

INPUT_URL = "url"
INPUT_DATA = "data"
INPUT_TYPES = (INPUT_URL, INPUT_DATA)
LOOPBACK = "127.0.0.1"
VALIDATOR_TIMEOUT = 180.0  # seconds; the subnet-25 validator's dendrite timeout
DEFAULT_WALLET_PATH = "~/.bittensor/wallets"
