"""The networks a catalog entry may name: MONAI architectures built from their constructor arguments.

Only names in this table are built, so a catalog file can never make us run code.
"""

from __future__ import annotations

from typing import Dict

import torch

from ..errors import MedSRError


def _unet(**kwargs) -> torch.nn.Module:
    from monai.networks.nets import UNet

    return UNet(**kwargs)


class ResidualUNet(torch.nn.Module):
    """A MONAI UNet that predicts a correction added to its input (denoisers learn the noise, not the image)."""

    def __init__(self, **kwargs):
        super().__init__()
        self.unet = _unet(**kwargs)

    def forward(self, x):
        return x + self.unet(x)


ARCHITECTURES = {"monai.UNet": _unet, "medsr.ResidualUNet": ResidualUNet}


def build_network(architecture: Dict) -> torch.nn.Module:
    name = architecture.get("name")
    if name not in ARCHITECTURES:
        raise MedSRError(f"unknown network architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](**architecture.get("arguments", {}))
