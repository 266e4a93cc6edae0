"""Put a head in a scanner: rotated and shifted in the world, sampled on a grid of its own.

Benchmarks and tests validate on heads placed this way, not in the template space they came in.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np
import SimpleITK as sitk

from ..geometry import Grid
from ..geometry.sitk_grid import reference_image
from ..io.convert import sitk_from_volume, volume_from_sitk
from ..volume import Volume

#: index axes of the scanner's grid in LPS: i runs anterior -> posterior, j superior -> inferior, k right -> left
#: (a sagittal acquisition's order, so every axis differs from the source's)
SAGITTAL_DIRECTION = (0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0)


def scanner_placement(angles_deg: Sequence[float] = (12.0, -10.0, 15.0), shift_mm: Sequence[float] = (7.0, -11.0, 9.0),
                      centre: Sequence[float] = (0.0, 0.0, 0.0)) -> sitk.Transform:
    """The rigid motion of the head: rotations about the world x, y and z axes through ``centre``, then a shift."""
    transform = sitk.Euler3DTransform()
    transform.SetCenter(tuple(float(c) for c in centre))
    transform.SetRotation(*[float(np.radians(a)) for a in angles_deg])
    transform.SetTranslation(tuple(float(s) for s in shift_mm))
    return transform


def centre_of(grid: Grid) -> np.ndarray:
    """World position (LPS mm) of the centre of ``grid``'s field of view: the pivot for :func:`scanner_placement`."""
    return grid.ijk_to_lps()[:3, :3] @ (np.asarray(grid.size) / 2) + np.asarray(grid.origin)


def place(volume: Volume, motion: sitk.Transform, grid: Grid, labels: bool = False) -> Volume:
    """``volume`` moved by ``motion`` (a point p of the head goes to motion(p)) and sampled on ``grid``;
    linear interpolation for images, nearest neighbour for label maps."""
    image = sitk_from_volume(volume)
    interpolator = sitk.sitkNearestNeighbor if labels else sitk.sitkLinear
    pixel = image.GetPixelID() if labels else sitk.sitkFloat32
    moved = sitk.Resample(image, reference_image(grid, pixel), motion.GetInverse(), interpolator, 0.0, pixel)
    return volume_from_sitk(moved, volume.modality)


def scanner_grid(volume: Volume, spacing: Sequence[float] = (1.0, 1.0, 1.0), margin_mm: float = 10.0,
                 direction: Tuple[float, ...] = SAGITTAL_DIRECTION, offset_mm: Sequence[float] = (3.3, -2.7, 1.9)) -> Grid:
    """A grid with ``direction`` and ``spacing`` that covers the source's field of view plus ``margin_mm``, with its
    origin off the source's voxel lattice by ``offset_mm`` (so no voxel centre is shared)."""
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], float)
    ijk = corners * (np.asarray(volume.grid.size) - 1)
    source = np.asarray(volume.grid.ijk_to_lps())
    world = (source[:3, :3] @ ijk.T).T + source[:3, 3]
    axes = np.asarray(direction).reshape(3, 3)
    along = world @ axes  # coordinates along the new index axes
    low, high = along.min(axis=0) - margin_mm, along.max(axis=0) + margin_mm
    size = tuple(int(np.ceil((h - l) / s)) + 1 for l, h, s in zip(low, high, spacing))
    origin = axes @ low + np.asarray(offset_mm)
    return Grid(size, tuple(spacing), tuple(origin), tuple(direction))
