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
        # the correction starts at zero (ReZero), so training starts from the identity, not a random offset
        self.gain = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x + self.gain * self.unet(x)


class NeighbourResidualUNet(torch.nn.Module):
    """A MONAI UNet that corrects the mean of each voxel's 6 face neighbours (the voxel itself left out).

    For blind-spot (Noise2Self) training: the skip path never carries a voxel's
    own noisy value, so the network starts from a sensible denoiser and cannot
    learn the identity through it.
    """

    def __init__(self, **kwargs):
        super().__init__()
        self.unet = _unet(**kwargs)
        kernel = torch.zeros(1, 1, 3, 3, 3)
        for index in ((0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)):
            kernel[(0, 0) + index] = 1.0 / 6.0
        self.register_buffer("neighbours", kernel, persistent=False)
        self.gain = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        mean = torch.nn.functional.conv3d(torch.nn.functional.pad(x, (1,) * 6, mode="replicate"), self.neighbours)
        return mean + self.gain * self.unet(x)


ARCHITECTURES = {"monai.UNet": _unet, "medsr.ResidualUNet": ResidualUNet, "medsr.NeighbourResidualUNet": NeighbourResidualUNet}


def build_network(architecture: Dict) -> torch.nn.Module:
    name = architecture.get("name")
    if name not in ARCHITECTURES:
        raise MedSRError(f"unknown network architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](**architecture.get("arguments", {}))
