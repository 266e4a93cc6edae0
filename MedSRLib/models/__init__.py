"""Networks and the versioned model catalog."""

from .catalog import find_entry, load_catalog, load_model, save_weights, sha256_of
from .networks import ARCHITECTURES, build_network

__all__ = ["ARCHITECTURES", "build_network", "find_entry", "load_catalog", "load_model", "save_weights", "sha256_of"]
