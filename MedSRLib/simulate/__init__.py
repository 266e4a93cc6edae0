"""Acquisition simulator: thick slices, downsampling, k-space truncation and noise."""

from .acquisition import SAMPLINGS, Acquisition, degrade
from .noise import NOISE_KINDS, add_noise

__all__ = ["Acquisition", "SAMPLINGS", "NOISE_KINDS", "add_noise", "degrade"]
