"""Moving voxel values between grids: exact area weights along an axis, SimpleITK interpolation otherwise.

Every method that changes a grid goes through here, so every method obeys the
resampling contract of :mod:`MedSRLib.geometry.grid`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import SimpleITK as sitk
from scipy.special import erf

from ..errors import MedSRError
from .grid import Grid
from .kspace import kspace_weights
from .sitk_grid import apply_grid, reference_image

INTERPOLATORS = {
    "nearest": sitk.sitkNearestNeighbor,
    "linear": sitk.sitkLinear,
    "bspline": sitk.sitkBSpline3,
    "lanczos": sitk.sitkLanczosWindowedSinc,
}


def profile_weights(n_in: int, n_out: int, profile: str = "box", thickness: float = 1.0) -> np.ndarray:
    """(n_out, n_in) weights that average fine voxels into coarse ones covering the same field of view.

    Positions are in units of the coarse spacing. Each coarse voxel integrates
    the fine voxels under its slice profile: ``"box"`` of width ``thickness``
    (1.0 = touching slices, the exact area average), or ``"gaussian"`` with
    FWHM ``thickness``. Fine voxels count by the exact integral of the profile
    over their extent; rows sum to one (a profile reaching past the field of
    view is renormalised to what lies inside). ``"kspace"``: the central
    frequencies kept, as a 3-D acquisition measures a coarsely encoded axis
    (geometry/kspace.py; no slice thickness of its own, so ``thickness`` 1).
    """
    if profile == "kspace":
        if abs(thickness - 1.0) > 1e-6:
            raise MedSRError(f"a k-space truncated axis has no slice thickness of its own: its voxels are as wide as "
                             f"their spacing, not {thickness:g} of it")
        return kspace_weights(n_in, n_out)
    if thickness <= 0:
        raise MedSRError(f"slice thickness must be positive, got {thickness} of the slice spacing")
    scale = n_out / n_in  # fine voxel width in coarse units
    lo = np.arange(n_in) * scale
    hi = lo + scale
    centres = np.arange(n_out)[:, None] + 0.5
    if profile == "box":
        half = thickness / 2.0
        weights = np.clip(np.minimum(hi, centres + half) - np.maximum(lo, centres - half), 0.0, None)
    elif profile == "gaussian":
        sigma = thickness / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        z = np.sqrt(2.0) * sigma
        weights = 0.5 * (erf((hi - centres) / z) - erf((lo - centres) / z))
    else:
        raise MedSRError(f"slice profile must be 'box', 'gaussian' or 'kspace', got {profile!r}")
    return weights / weights.sum(axis=1, keepdims=True)


def lanczos_weights(n_in: int, n_out: int, lobes: int = 5) -> np.ndarray:
    """(n_out, n_in) Lanczos-``lobes`` interpolation weights between grids sharing a field of view.

    The kernel is SimpleITK's ``sitkLanczosWindowedSinc`` (radius 5, weights not
    renormalised), so inside the volume both agree to float precision. Target
    voxel ``j`` sits at source index ``(j + 0.5) * n_in / n_out - 0.5``; taps
    past either end reuse the edge voxel (zero-flux boundary, as ITK's).
    """
    positions = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    base = np.floor(positions).astype(int)
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for offset in range(-lobes + 1, lobes + 1):
        taps = base + offset
        x = positions - taps
        kernel = np.sinc(x) * np.sinc(x / lobes) * (np.abs(x) < lobes)
        np.add.at(weights, (rows, np.clip(taps, 0, n_in - 1)), kernel)
    return weights


def apply_along_axis(array: np.ndarray, weights: np.ndarray, axis: int) -> np.ndarray:
    """Contract ``array`` along ``axis`` with a (n_out, n_in) matrix, as float32."""
    moved = np.moveaxis(array.astype(np.float32, copy=False), axis, -1)
    return np.moveaxis(moved @ weights.T.astype(np.float32), -1, axis)


def degrade_and_interpolate(array: np.ndarray, axis: int, factor: float, profile: str, noise_sigma: float = 0.0,
                            rng: np.random.Generator | None = None, thickness: float = 1.0) -> tuple:
    """Acquire ``array`` with ``factor``-times coarser voxels along ``axis`` (slice ``profile``, same field of
    view; the profile ``thickness`` coarse spacings wide, slice_thickness.py) and interpolate back with the windowed
    sinc; (result, the exact factor the whole voxels allow).
    ``noise_sigma``: the noise ``array`` carries (white, its units); the acquired voxels are given as much again
    (Gaussian, from ``rng``) as the profile's averaging took away, so that they carry it as a scan's own voxels do."""
    n = array.shape[axis]
    m = max(1, int(round(n / factor)))
    acquire, back = profile_weights(n, m, profile, thickness), lanczos_weights(m, n)
    if noise_sigma <= 0:
        return apply_along_axis(array, (back @ acquire).astype(np.float32), axis), n / m
    coarse = apply_along_axis(array, acquire, axis)
    shape = [1] * coarse.ndim
    shape[axis] = m
    missing = np.sqrt(np.maximum(1.0 - np.sum(acquire ** 2, axis=1), 0.0)) * noise_sigma
    coarse = coarse + (rng or np.random.default_rng(0)).standard_normal(coarse.shape).astype(np.float32) * missing.reshape(shape).astype(np.float32)
    return apply_along_axis(coarse, back, axis), n / m


def interpolate(array: np.ndarray, source: Grid, target: Grid, method: str) -> np.ndarray:
    """Sample ``array`` (on ``source``) at the voxel centres of ``target`` with a SimpleITK interpolator.

    Points of ``target`` that fall outside the centres of ``source`` (the outer
    half voxel of an upsampled grid) take the nearest value, never zero.
    """
    if method not in INTERPOLATORS:
        raise MedSRError(f"unknown interpolation {method!r}; choose one of {', '.join(INTERPOLATORS)}")

    image = apply_grid(sitk.GetImageFromArray(np.ascontiguousarray(array.T, dtype=np.float32)), source)
    resampler = sitk.ResampleImageFilter()
    resampler.SetReferenceImage(reference_image(target))
    resampler.SetInterpolator(INTERPOLATORS[method])
    resampler.SetOutputPixelType(sitk.sitkFloat32)
    resampler.SetUseNearestNeighborExtrapolator(True)
    return sitk.GetArrayFromImage(resampler.Execute(image)).T


def resample_to_grid(array: np.ndarray, source: Grid, target: Grid, method: str = "bspline") -> np.ndarray:
    """Resample onto ``target``; axes that ``target`` coarsens (same field of view) are area-averaged first.

    Area averaging keeps down-sampled axes free of aliasing; the interpolator
    then only fills the axes that get finer, and hits the averaged voxels' centres
    exactly on the others. Lanczos on a grid of the same field of view runs as
    separable 1-D weights.
    """
    if _shares_field_of_view(source, target):
        sizes = list(source.size)
        for axis, (n_in, n_out) in enumerate(zip(source.size, target.size)):
            if n_out < n_in:
                array = apply_along_axis(array, profile_weights(n_in, n_out), axis)
                sizes[axis] = n_out
            elif n_out > n_in and method == "lanczos":
                # SimpleITK's windowed sinc is 3-D (216 taps a voxel); separable weights give the same kernel far faster
                array = apply_along_axis(array, lanczos_weights(n_in, n_out), axis)
                sizes[axis] = n_out
        source = source.with_size(sizes, snap_spacing=target.spacing)
        if source.matches(target, atol_mm=1e-9, atol_direction=0):
            return array.astype(np.float32, copy=False)
    return interpolate(array, source, target, method)


def _shares_field_of_view(a: Grid, b: Grid) -> bool:
    if not np.allclose(a.direction, b.direction, atol=1e-9):
        return False
    return b.matches(a.with_size(b.size, snap_spacing=b.spacing), atol_mm=1e-6)


def spacing_after(grid: Grid, spacing: Sequence[float] | None, scale: Sequence[float] | None) -> Grid:
    """The target grid for ``--spacing`` or ``--scale`` (exactly one of them)."""
    if (spacing is None) == (scale is None):
        raise MedSRError("give either a target spacing or a scale, not both and not neither")
    return grid.with_spacing(spacing) if spacing is not None else grid.scaled(scale)
