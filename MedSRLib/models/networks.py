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
    """A MONAI UNet that predicts a correction added to its input (denoisers learn the noise, not the image).

    The U-Net's last two convolutions (the top level's transposed convolution
    and the residual unit after it, whose skip would pass the first one on)
    start at zero, so training starts from the identity, not a random offset,
    and they get a gradient from the first step. (A zero scalar gain in front
    of a randomly initialised U-Net, tried first, stayed near zero while the
    raw U-Net output grew, and the network barely learnt.)

    Input channels beyond the output's (a noise-level map, say) condition the
    correction and are not part of the residual.
    """

    def __init__(self, **kwargs):
        super().__init__()
        self.unet = _unet(**kwargs)
        self.out_channels = kwargs.get("out_channels", 1)
        for layer in [m for m in self.unet.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)][-2:]:
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
        self.gain = torch.nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x[:, : self.out_channels] + self.gain * self.unet(x)


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


class _ResidualBlock(torch.nn.Module):
    def __init__(self, channels: int, scale: float):
        super().__init__()
        self.first = torch.nn.Conv3d(channels, channels, 3, padding=1)
        self.second = torch.nn.Conv3d(channels, channels, 3, padding=1)
        self.scale = scale

    def forward(self, x):
        return x + self.scale * self.second(torch.relu(self.first(x)))


class ResidualSR(torch.nn.Module):
    """3-D super-resolution refiner in the line of VDSR / EDSR: residual blocks without normalisation.

    Its input is the low-resolution volume already interpolated (windowed sinc)
    onto the target grid of the resampling contract, so one network serves any
    factor and the output grid is exact by construction; it predicts the missing
    detail, added to that input. The last convolution starts at zero, so
    training starts from the interpolation itself.
    """

    def __init__(self, channels: int = 32, blocks: int = 3, residual_scale: float = 0.2):
        super().__init__()
        self.head = torch.nn.Conv3d(1, channels, 3, padding=1)
        self.body = torch.nn.Sequential(*[_ResidualBlock(channels, residual_scale) for _ in range(blocks)])
        self.tail = torch.nn.Conv3d(channels, 1, 3, padding=1)
        torch.nn.init.zeros_(self.tail.weight)
        torch.nn.init.zeros_(self.tail.bias)

    def forward(self, x):
        features = self.head(x)
        return x + self.tail(features + self.body(features))


class PatchDiscriminator(torch.nn.Module):
    """3-D patch discriminator (PatchGAN): strided convolutions, one realness logit per receptive field."""

    def __init__(self, channels: int = 32, layers: int = 3):
        super().__init__()
        parts, width_in = [], 1
        for index in range(layers):
            width = channels * 2 ** index
            parts += [torch.nn.Conv3d(width_in, width, 4, stride=2, padding=1), torch.nn.LeakyReLU(0.2)]
            width_in = width
        parts.append(torch.nn.Conv3d(width_in, 1, 3, padding=1))
        self.body = torch.nn.Sequential(*parts)

    def forward(self, x):
        return self.body(x)


ARCHITECTURES = {
    "monai.UNet": _unet, "medsr.ResidualUNet": ResidualUNet, "medsr.NeighbourResidualUNet": NeighbourResidualUNet,
    "medsr.ResidualSR": ResidualSR,
}


def build_network(architecture: Dict) -> torch.nn.Module:
    name = architecture.get("name")
    if name not in ARCHITECTURES:
        raise MedSRError(f"unknown network architecture {name!r}; known: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](**architecture.get("arguments", {}))
