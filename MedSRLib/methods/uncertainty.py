"""Uncertainty maps of the methods that learn from the scan itself (`self`, `adapt`)."""

from __future__ import annotations

import numpy as np

from ..geometry import Grid, resample_to_grid
from ..volume import Volume

SMOOTHING_VOXELS = 2.0


def inferred_detail(restored: Volume, volume: Volume, grid: Grid, method: str) -> Volume:
    """The uncertainty map of ``self`` and ``adapt`` (``method``): how far the restoration departs from B-spline
    interpolation of the scan, smoothed by a Gaussian of two voxels, in the scan's units: detail there was inferred,
    not measured.

    Chosen by how each candidate tracks the true absolute error inside the head of `self`'s result on the FreeSurfer
    3T18yo head (a tuning case, not the validation head) at 1x1x2 / 4 / 6 mm: Spearman rho 0.39 / 0.30 / 0.32 and
    top-10 % error ratio 2.2 / 2.2 / 2.5 with this map, 0.36 / 0.27 / 0.29 smoothed by one voxel, 0.10 for the
    spread of `self`'s two through-plane restorations (at 4 mm), 0.00-0.15 for image gradients. On the held-out
    711-2C head, see Testing/Benchmarks/heads-sr."""
    from scipy.ndimage import gaussian_filter

    interpolated = resample_to_grid(volume.as_float32(), volume.grid, grid, "bspline")
    departure = gaussian_filter(np.abs(restored.as_float32() - interpolated), SMOOTHING_VOXELS).astype(np.float32)
    return volume.with_array(departure, grid, method=method,
                             kind=f"uncertainty (departure from B-spline interpolation, smoothed over {SMOOTHING_VOXELS:g} voxels)")
