"""ONNX export of catalog models and an ONNX Runtime backend for the inference engine.

Exported graphs take (N, 1, i, j, k) float32 with free batch and spatial sizes.
The runtime picks TensorRT, then CUDA, then the CPU provider among those this
onnxruntime build has; the CPU is always there.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from ..errors import MedSRError
from .catalog import load_model, sha256_of

OPSET = 17
#: torch and ONNX Runtime agree to this (largest absolute difference of the outputs, float32)
AGREEMENT_TOLERANCE = 1e-3


def export_onnx(name: str, path: Path, folder: Optional[Path] = None) -> Dict:
    """Write catalog model ``name`` as ONNX to ``path``; returns its sha256 and the torch/ONNX agreement."""
    network, entry = load_model(name, folder)
    channels = entry["architecture"].get("arguments", {}).get("in_channels", 1)  # 2 for a noise-conditioned denoiser
    example = torch.zeros((1, channels) + (32,) * 3)
    axes = {0: "batch", 2: "i", 3: "j", 4: "k"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, example, str(path), input_names=["image"], output_names=["output"],
                          dynamic_axes={"image": axes, "output": axes}, opset_version=OPSET, dynamo=False)
    check = torch.from_numpy(np.random.default_rng(0).random((1, channels, 48, 40, 32), dtype=np.float32))
    with torch.no_grad():
        expected = network(check).numpy()
    actual = OnnxNetwork(path, "cpu")(check).numpy()
    difference = float(np.abs(actual - expected).max())
    if difference > AGREEMENT_TOLERANCE:
        raise MedSRError(f"the ONNX export of {name} differs from torch by {difference:.3g} (> {AGREEMENT_TOLERANCE})")
    return {"model": f"{entry['name']} {entry['version']}", "path": str(path), "sha256": sha256_of(Path(path)),
            "opset": OPSET, "max_abs_difference": difference}


def providers_for(device: str) -> List[str]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    wanted = ["CPUExecutionProvider"]
    if device != "cpu":
        wanted = ["TensorrtExecutionProvider", "CUDAExecutionProvider"] + wanted
    return [p for p in wanted if p in available]


class OnnxNetwork:
    """Callable like a torch network (tensor in, tensor out), run by ONNX Runtime."""

    def __init__(self, path: Path, device: str = "auto"):
        import onnxruntime

        self.providers = providers_for(device)
        self.session = onnxruntime.InferenceSession(str(path), providers=self.providers)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        array = batch.detach().to("cpu", torch.float32).numpy()
        # back where the batch came from: the engine blends on its device (CUDA on a GPU machine)
        return torch.from_numpy(self.session.run(None, {"image": array})[0]).to(batch.device)


def onnx_network(name: str, device: str = "auto"):
    """(ONNX Runtime network, catalog entry): the catalog model exported into a temporary file first."""
    _, entry = load_model(name)
    with tempfile.TemporaryDirectory(prefix="medsr-onnx-") as folder:
        path = Path(folder) / f"{name}.onnx"
        export_onnx(name, path)
        network = OnnxNetwork(path, device)
    return network, entry


BACKENDS = ("torch", "onnxruntime")


def load_network(name: str, backend: str = "torch", device: str = "auto"):
    """(network, catalog entry) of catalog model ``name``, run by torch or by ONNX Runtime."""
    if backend == "torch":
        return load_model(name)
    if backend == "onnxruntime":
        return onnx_network(name, device)
    raise MedSRError(f"backend must be torch or onnxruntime, got {backend!r}")
