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
