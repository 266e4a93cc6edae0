"""Acquisition noise: Gaussian, Rician (MR magnitude) and Poisson-like (CT, signal-dependent)."""

from __future__ import annotations

import numpy as np

from ..errors import MedSRError

NOISE_KINDS = ("gaussian", "rician", "poisson")


def add_noise(array: np.ndarray, kind: str, level: float, rng: np.random.Generator) -> np.ndarray:
    """Noisy copy of ``array`` (float32).

    ``level`` is a fraction: for ``gaussian`` and ``rician`` the standard
    deviation of each Gaussian channel is ``level * max|array|``; for
    ``poisson`` the intensities above the minimum (air, for CT) are treated as
    photon counts so the variance grows with the signal, and the standard
    deviation at the maximum is ``level * (max - min)``.
    """
    if kind not in NOISE_KINDS:
        raise MedSRError(f"noise must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
    if not 0 <= level <= 1:
        raise MedSRError(f"noise level is a fraction of the maximum in [0, 1], got {level}")
    data = array.astype(np.float32, copy=False)
    if level == 0:
        return data.copy()
    if kind == "gaussian":
        sigma = level * float(np.abs(data).max())
        return data + rng.normal(0.0, sigma, data.shape).astype(np.float32)
    if kind == "rician":
        if data.min() < 0:
            raise MedSRError("Rician noise models MR magnitude images, which are never negative; this volume is")
        sigma = level * float(data.max())
        real = data + rng.normal(0.0, sigma, data.shape).astype(np.float32)
        imaginary = rng.normal(0.0, sigma, data.shape).astype(np.float32)
        return np.sqrt(real * real + imaginary * imaginary)
    low, high = float(data.min()), float(data.max())
    span = max(high - low, 1e-12)
    counts = rng.poisson((data - low) / span / level**2)
    return (counts * (level**2 * span) + low).astype(np.float32)
