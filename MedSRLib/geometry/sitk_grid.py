"""A :class:`Grid` on SimpleITK images and back: geometry only, no voxels, so that resampling and file I/O both use
it without importing each other."""

from __future__ import annotations

import SimpleITK as sitk

from .grid import Grid


def grid_of(image: sitk.Image) -> Grid:
    return Grid(size=image.GetSize(), spacing=image.GetSpacing(), origin=image.GetOrigin(), direction=image.GetDirection())


def apply_grid(image: sitk.Image, grid: Grid) -> sitk.Image:
    image.SetSpacing(grid.spacing)
    image.SetOrigin(grid.origin)
    image.SetDirection(grid.direction)
    return image


def reference_image(grid: Grid, pixel=sitk.sitkFloat32) -> sitk.Image:
    """An empty-valued image that only carries ``grid``, for SimpleITK's resampler."""
    image = sitk.Image([int(n) for n in grid.size], pixel)
    return apply_grid(image, grid)
