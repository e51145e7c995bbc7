"""Denoisers and their shared layers; EDGE's decoder and the key mapping for its released weights."""

from a2a.models.edge import EdgeDenoiser
from a2a.models.edge_checkpoint import (
    a2a_state_dict_to_edge,
    edge_config_from_state_dict,
    edge_state_dict_to_a2a,
)

__all__ = [
    "EdgeDenoiser",
    "a2a_state_dict_to_edge",
    "edge_config_from_state_dict",
    "edge_state_dict_to_a2a",
]
