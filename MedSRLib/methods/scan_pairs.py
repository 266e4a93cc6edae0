"""Training pairs made from the scan itself, for the methods that adapt to it (`adapt`) and for the calibration of
every learned method's uncertainty map (methods/uncertainty.py).

Thick slices: each sharp in-plane axis is acquired again with the thick axis's factor and slice profile and
interpolated back by the windowed sinc, then moved last (the thick-slice networks' canonical thick axis); the
truth is the scan. Isotropic scans: every coarse axis is acquired once more (ZSSR), the truth being the scan.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..geometry import degrade_and_interpolate

#: (degraded, truth, the exact factor of the degraded axis, or None for a pair degraded along every axis)
Pair = Tuple[np.ndarray, np.ndarray, Optional[float]]


def scan_pairs(data: np.ndarray, factors: Sequence[float], kind: str, profile: str, first_only: bool = False,
               noise_sigma: float = 0.0, seed: int = 0, thicknesses: Sequence[float] = (1.0, 1.0, 1.0)) -> List[Pair]:
    """Pairs from ``data`` (the scan, normalised) for a model of ``kind`` ("thick-slice" or "isotropic") that
    restores the scan by ``factors`` (per axis, coarse over fine); ``first_only``: the first pair alone (all a
    calibration needs). ``noise_sigma``: the scan's noise (its units, methods/noise.py): the pairs' coarse voxels are
    given back what the profile averaged away of it (geometry.degrade_and_interpolate), so that a network learns from
    inputs as noisy as the scan it restores. ``thicknesses``: the scan's slice profile width per axis, in its
    spacings (slice_thickness.py); the pairs are acquired with the same."""
    rng = np.random.default_rng(seed)
    if kind == "isotropic":
        degraded = data
        for axis in range(3):
            if factors[axis] > 1.0 + 1e-6:
                degraded, _ = degrade_and_interpolate(degraded, axis, float(factors[axis]), profile, noise_sigma, rng,
                                                      float(thicknesses[axis]))
        return [(degraded, data, None)]
    thick = int(np.argmax(factors))
    pairs = []
    for axis in [a for a in range(3) if a != thick][: 1 if first_only else 2]:
        degraded, exact = degrade_and_interpolate(data, axis, float(factors[thick]), profile, noise_sigma, rng,
                                                  float(thicknesses[thick]))
        pairs.append((np.moveaxis(degraded, axis, -1), np.moveaxis(data, axis, -1), exact))
    return pairs
