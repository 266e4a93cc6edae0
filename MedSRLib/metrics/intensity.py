"""Image similarity: MSE, PSNR and 3-D SSIM, on the whole volume and inside a mask."""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import SimpleITK as sitk
from scipy.ndimage import gaussian_filter

from ..errors import MedSRError
from ..volume import Volume

#: SSIM constants of Wang et al. 2004, as in scikit-image and MONAI
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1, SSIM_K2 = 0.01, 0.03
DEFAULT_PERCENTILES = (0.5, 99.5)


def default_data_range(reference: np.ndarray) -> float:
    """Width of the reference's 0.5-99.5 percentile range: robust to a few extreme voxels."""
    low, high = np.percentile(reference, DEFAULT_PERCENTILES)
    if high <= low:
        low, high = float(reference.min()), float(reference.max())
    if high <= low:
        raise MedSRError("the reference volume is constant; PSNR and SSIM need a data range")
    return float(high - low)


def foreground_mask(reference: Volume) -> np.ndarray:
    """Voxels above the reference's Otsu threshold, holes filled: the object, not the air around it."""
    return foreground_of_array(reference.array)


def foreground_of_array(array: np.ndarray) -> np.ndarray:
    """:func:`foreground_mask` of a bare array (neither rule depends on the spacing)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(array, dtype=np.float32))
    mask = sitk.BinaryFillhole(sitk.OtsuThreshold(image, 0, 1))
    return sitk.GetArrayFromImage(mask).astype(bool)


def ssim_map(reference: np.ndarray, test: np.ndarray, data_range: float) -> np.ndarray:
    """Per-voxel SSIM with a 3-D Gaussian window (sigma 1.5 voxels, truncated at 3.5 sigma, mirrored edges)."""
    x = reference.astype(np.float64)
    y = test.astype(np.float64)

    def blur(a):
        return gaussian_filter(a, SSIM_SIGMA, truncate=SSIM_TRUNCATE, mode="reflect")

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def psnr_from_mse(mse: float, data_range: float) -> float:
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def image_metrics(
    reference: np.ndarray,
    test: np.ndarray,
    mask: Optional[np.ndarray] = None,
    data_range: Optional[float] = None,
) -> dict:
    """MSE, PSNR and SSIM over the whole volume and over ``mask`` (same shape, boolean)."""
    if reference.shape != test.shape:
        raise MedSRError(f"volumes differ in shape: {reference.shape} vs {test.shape}")
    data_range = default_data_range(reference) if data_range is None else float(data_range)
    if data_range <= 0:
        raise MedSRError(f"data range must be positive, got {data_range}")
    error = (test.astype(np.float64) - reference.astype(np.float64)) ** 2
    ssim = ssim_map(reference, test, data_range)
    result = {"data_range": data_range, "whole": _summary(error, ssim, data_range)}
    if mask is not None:
        if not mask.any():
            raise MedSRError("the mask is empty: no foreground voxel to measure")
        result["mask_voxels"] = int(mask.sum())
        result["foreground"] = _summary(error[mask], ssim[mask], data_range)
    return result


def _summary(squared_error: np.ndarray, ssim: np.ndarray, data_range: float) -> dict:
    mse = float(squared_error.mean())
    return {"mse": mse, "psnr": psnr_from_mse(mse, data_range), "ssim": float(ssim.mean())}


def percentile_range(reference: np.ndarray) -> Tuple[float, float]:
    return tuple(float(v) for v in np.percentile(reference, DEFAULT_PERCENTILES))
