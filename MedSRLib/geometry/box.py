"""The index box around what matters in an array, so that work can skip what lies outside it."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np


def bounding_box(mask: np.ndarray, margin: int = 0) -> Optional[Tuple[slice, ...]]:
    """The smallest box of index slices holding every true voxel of ``mask``, widened by ``margin`` voxels on each
    side (clipped to the array); None when ``mask`` holds no true voxel."""
    slices = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        if hit.size == 0:
            return None
        slices.append(slice(max(int(hit[0]) - margin, 0), min(int(hit[-1]) + 1 + margin, mask.shape[axis])))
    return tuple(slices)


#: what is above this fraction of a scan's scale (its 99.5th percentile, after CT's offset) is not air
AIR_FRACTION = 0.02


def above_air_box(scaled: np.ndarray, margin: int) -> Tuple[slice, ...]:
    """The box of what is above the air in ``scaled`` (an image divided by its scale, air near 0), widened by
    ``margin`` voxels (more than a network's receptive field, so what it computes inside does not change); the whole
    array when nothing is above the air."""
    return bounding_box(scaled > AIR_FRACTION, margin) or tuple(slice(0, n) for n in scaled.shape)
