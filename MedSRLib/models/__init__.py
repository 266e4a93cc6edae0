"""Networks and the versioned model catalog (torch is imported only when a network is built)."""

from .catalog import find_entry, load_catalog, load_model, save_weights, sha256_of


def build_network(architecture):
    from .networks import build_network as build

    return build(architecture)


__all__ = ["build_network", "find_entry", "load_catalog", "load_model", "save_weights", "sha256_of"]
