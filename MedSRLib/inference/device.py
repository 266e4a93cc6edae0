"""Choosing the compute device: `auto`, `cpu`, `cuda`, `cuda:N` or `mps`."""

from __future__ import annotations

import torch

from ..errors import MedSRError


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for ``name``; ``auto`` takes CUDA, then Apple MPS, then the CPU."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise MedSRError("device mps asked for, but this torch has no Apple MPS device")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise MedSRError(f"device {name} asked for, but torch {torch.__version__} sees no CUDA GPU")
        index = int(name.split(":", 1)[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise MedSRError(f"device {name} asked for, but there are only {torch.cuda.device_count()} CUDA GPU(s)")
        return torch.device("cuda", index)
    raise MedSRError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps")
