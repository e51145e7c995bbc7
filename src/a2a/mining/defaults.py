"""Constants of the miner and the local validator that need no bittensor import (the CLI uses them)."""

INPUT_URL = "url"
INPUT_DATA = "data"
INPUT_TYPES = (INPUT_URL, INPUT_DATA)
LOOPBACK = "127.0.0.1"
VALIDATOR_TIMEOUT = 180.0  # seconds; the subnet-25 validator's dendrite timeout
DEFAULT_WALLET_PATH = "~/.bittensor/wallets"
# Offline mode creates its wallet unencrypted and unbacked-up: it must never be the wallet a user later
# registers and funds (the README's "Register and run" uses ``miner``), so it has a name of its own.
OFFLINE_WALLET = "a2a-offline"
ONLINE_WALLET = "miner"
