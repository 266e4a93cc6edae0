"""The model catalog: versioned weights with sha256 and provenance, loaded without pickle.

``Resources/Models/catalog.json`` lists each model: name, version, task,
modality, valid input spacing, the architecture (a MONAI network and its
constructor arguments), the weight file (safetensors) with its sha256, how it
was trained (data, command, device, time) and its validation figures.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional

from ..errors import MedSRError


def models_folder() -> Path:
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "Resources" / "Models", here / "resources" / "Models"):
        if (candidate / "catalog.json").exists():
            return candidate
    raise MedSRError("the model catalog (Resources/Models/catalog.json) is missing from this installation")


def load_catalog(folder: Optional[Path] = None) -> List[Dict]:
    folder = folder or models_folder()
    return json.loads((folder / "catalog.json").read_text())["models"]


def find_entry(name: str, folder: Optional[Path] = None) -> Dict:
    entries = load_catalog(folder)
    for entry in entries:
        if entry["name"] == name:
            return entry
    raise MedSRError(f"no model {name!r} in the catalog; it has {', '.join(e['name'] for e in entries) or 'none'}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_model(name: str, folder: Optional[Path] = None):
    """(network in eval mode, catalog entry); refuses weights whose sha256 differs from the catalog's."""
    from safetensors.torch import load_file

    folder = folder or models_folder()
    entry = find_entry(name, folder)
    path = folder / entry["file"]
    if not path.exists():
        raise MedSRError(f"the weights of model {name!r} ({path.name}) are missing")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise MedSRError(
            f"the weights of model {name!r} fail their checksum (sha256 {actual[:12]}... instead of "
            f"{entry['sha256'][:12]}...): the file is corrupt or was changed; reinstall it"
        )
    from .networks import build_network

    network = build_network(entry["architecture"])
    network.load_state_dict(load_file(str(path)), strict=True)
    network.eval()
    return network, entry


def save_weights(network, path: Path) -> str:
    """Write the weights as safetensors (no code inside) and return their sha256."""
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}, str(path))
    return sha256_of(path)
