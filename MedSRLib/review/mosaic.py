"""Slices of a volume in world orientation, with a label map drawn over them: PNG pictures for review pages.

Radiological conventions are not assumed: every picture is a slice of the volume resampled onto a grid aligned
with the patient's axes (RAS), shown with the patient's right on the left of the picture (as 3D Slicer and
radiology show axial and coronal slices), anterior up in axial, superior up in coronal and sagittal.
"""

from __future__ import annotations

import io
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk

from ..geometry.sitk_grid import reference_image
from ..geometry import Grid
from ..io.convert import sitk_from_volume
from ..volume import Volume

#: LPS direction of a grid whose index axes run to the patient's left, posterior and superior
LPS_ALIGNED = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
VIEWS = ("axial", "coronal", "sagittal")
#: the axis of the LPS-aligned grid that each view cuts across
AXIS_OF_VIEW = {"axial": 2, "coronal": 1, "sagittal": 0}


def world_aligned_grid(grid: Grid, spacing: Optional[float] = None) -> Grid:
    """The axis-aligned (LPS) grid, isotropic at ``spacing`` (default: the finest of ``grid``'s), that covers the
    field of view of ``grid``, oblique or not."""
    step = float(spacing or min(grid.spacing))
    n0, n1, n2 = (np.asarray(grid.size) - 0.5).tolist()
    corners = np.array([[a, b, c] for a in (-0.5, n0) for b in (-0.5, n1) for c in (-0.5, n2)])
    matrix = grid.ijk_to_lps()
    world = (matrix[:3, :3] @ corners.T).T + matrix[:3, 3]
    low, high = world.min(axis=0), world.max(axis=0)
    size = tuple(max(1, int(np.ceil((h - l) / step))) for l, h in zip(low, high))
    return Grid(size, (step,) * 3, tuple(low + step / 2), LPS_ALIGNED)


def on_world_grid(volume: Volume, grid: Grid, labels: bool = False) -> np.ndarray:
    image = sitk_from_volume(volume)
    pixel = sitk.sitkUInt16 if labels else sitk.sitkFloat32
    interpolator = sitk.sitkNearestNeighbor if labels else sitk.sitkLinear
    moved = sitk.Resample(sitk.Cast(image, pixel), reference_image(grid, pixel), sitk.Transform(), interpolator, 0, pixel)
    return sitk.GetArrayFromImage(moved).T  # (x: L, y: P, z: S)


def view_slice(array: np.ndarray, view: str, index: int) -> np.ndarray:
    """A 2-D picture (rows top to bottom) of ``array`` on an LPS-aligned grid: the patient's right on the left."""
    if view == "axial":      # columns x (right to left of the patient), rows y (anterior first)
        return array[:, :, index].T
    if view == "coronal":    # columns x, rows z from the top (superior first)
        return array[:, index, :].T[::-1, :]
    return array[index, :, :].T[::-1, :]  # sagittal: columns y (anterior on the left), rows superior first


def labelled_extent(labels: Optional[np.ndarray], view: str) -> Optional[Tuple[int, int]]:
    """The first and last slice of ``view`` that hold a label; None without labels."""
    if labels is None or not labels.any():
        return None
    axis = AXIS_OF_VIEW[view]
    occupied = np.flatnonzero(np.moveaxis(labels > 0, axis, 0).reshape(labels.shape[axis], -1).any(axis=1))
    return int(occupied[0]), int(occupied[-1])


def slice_positions(labels: Optional[np.ndarray], shape: Sequence[int], view: str, count: int) -> list:
    """``count`` slice indices along the view's axis: spread over the labelled extent when there are labels."""
    extent = shape[AXIS_OF_VIEW[view]]
    low, high = labelled_extent(labels, view) or (int(extent * 0.15), int(extent * 0.85))
    return [int(round(v)) for v in np.linspace(low, high, count + 2)[1:-1]]


def display_window(image: np.ndarray) -> Tuple[float, float]:
    """The 1-99 percentile range of the voxels brighter than the darkest 5 % (air does not set the window)."""
    inside = image[image > np.percentile(image, 5)] if np.any(image) else image
    return tuple(float(v) for v in np.percentile(inside, (1, 99))) if inside.size else (0.0, 1.0)


def mosaic_png(image: Optional[np.ndarray], labels: Optional[np.ndarray], colours: Dict[int, Tuple[int, int, int]],
               view: str, count: int = 6, opacity: float = 0.45, window: Optional[Tuple[float, float]] = None,
               width_inches: float = 12.0) -> bytes:
    """One row of ``count`` slices of ``view``: the grey-scale image (1-99 percentile window unless ``window``), the
    labels over it in their colours."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    shape = (image if image is not None else labels).shape
    positions = slice_positions(labels, shape, view, count)
    if image is not None and window is None:
        window = display_window(image)
    lut = np.zeros((max(colours, default=0) + 1, 4))
    for label, rgb in colours.items():
        if label > 0:
            lut[label] = [*(np.asarray(rgb, float) / 255.0), opacity]
    figure, axes = plt.subplots(1, count, figsize=(width_inches, width_inches / count * 1.1), facecolor="black")
    for ax, index in zip(np.atleast_1d(axes), positions):
        ax.set_axis_off()
        if image is not None:
            ax.imshow(view_slice(image, view, index), cmap="gray", vmin=window[0], vmax=window[1], interpolation="nearest")
        if labels is not None:
            picture = view_slice(labels, view, index).astype(np.int64)
            picture = np.clip(picture, 0, len(lut) - 1)
            ax.imshow(lut[picture], interpolation="nearest")
    figure.subplots_adjust(0, 0, 1, 1, 0.01, 0.01)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, facecolor="black")
    plt.close(figure)
    return buffer.getvalue()
