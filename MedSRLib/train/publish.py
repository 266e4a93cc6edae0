"""Turn a finished training run into a catalog model: safetensors weights, sha256 and provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

from ..io.writing import write_text_atomic
from ..models.catalog import models_folder, sha256_of
from .loop import checkpoint_weights


def publish(checkpoint: Path, entry: Dict, folder: Path | None = None) -> Dict:
    """Copy the model weights of ``checkpoint`` into the catalog folder and add or replace ``entry`` there.

    ``entry`` holds everything but ``file`` and ``sha256``, which are filled in here.
    """
    from safetensors.torch import load_file, save_file

    folder = folder or models_folder()
    tensors = load_file(str(Path(checkpoint) / "checkpoint.safetensors"))
    weights = checkpoint_weights(tensors)
    name = f"{entry['name']}-{entry['version']}.safetensors"
    save_file(weights, str(folder / name), metadata={"name": entry["name"], "version": entry["version"]})
    entry = dict(entry, file=name, sha256=sha256_of(folder / name))
    catalog_path = folder / "catalog.json"
    catalog = json.loads(catalog_path.read_text())
    catalog["models"] = [m for m in catalog["models"] if m["name"] != entry["name"]] + [entry]
    write_text_atomic(catalog_path, json.dumps(catalog, indent=2) + "\n")
    return entry
