"""Uncertainty maps of the methods that learn from the scan itself (`self`, `adapt`): the expected absolute error,
in the scan's units, predicted from how far the result departs from B-spline interpolation.

Where does a restoration's detail come from? Where it departs from plain interpolation of the scan, it was
inferred, not measured, and may be wrong. The departure alone is a map of inferred detail, not an error: how much
error a given departure means differs from scan to scan. Both methods learn from the scan's sharp in-plane axes
(pairs degraded as the thick axis was), and there the truth is known: on those pairs the error is fitted as a power
of the departure (log-linear least squares), and that calibration turns the through-plane departure into the
expected absolute error. The calibration is monotone, so it leaves the map's ranking (Spearman's rho, the top-10 %
ratio) unchanged; it gives the map its units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..geometry import Grid, resample_to_grid
from ..volume import Volume

SMOOTHING_VOXELS = 2.0
#: floor (a fraction of the scan's 99.5th percentile) under departures and errors before their logarithm
FLOOR = 1e-3


def departure(restored: np.ndarray, start: np.ndarray) -> np.ndarray:
    """How far ``restored`` departs from ``start`` (its interpolated input), smoothed by a Gaussian of two voxels.

    Chosen by how candidates track the true absolute error inside the head of `self`'s result on the FreeSurfer
    3T18yo head (a tuning case, not the validation head) at 1x1x2 / 4 / 6 mm: Spearman rho 0.39 / 0.30 / 0.32 and
    top-10 % error ratio 2.2 / 2.2 / 2.5 with this map, 0.36 / 0.27 / 0.29 smoothed by one voxel, 0.10 for the
    spread of `self`'s two through-plane restorations (at 4 mm), 0.00-0.15 for image gradients; adding the image's
    gradient or intensity to the calibration below did not rank the error better (rho 0.35-0.36 at 4 mm).
    """
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(np.abs(restored - start), SMOOTHING_VOXELS).astype(np.float32)


@dataclass(frozen=True)
class ErrorCalibration:
    """expected |error| = scale * exp(intercept) * (departure / scale + FLOOR) ** slope, in the scan's units."""
    intercept: float
    slope: float
    scale: float  # the scan's 99.5th percentile: the fit is made on intensities divided by it

    def expected_error(self, departure_map: np.ndarray) -> np.ndarray:
        relative = np.maximum(departure_map / self.scale, 0.0) + FLOOR
        return (self.scale * np.exp(self.intercept) * relative ** self.slope).astype(np.float32)

    def describe(self) -> str:
        return f"{np.exp(self.intercept):.3g} x (departure / {self.scale:.4g} + {FLOOR:g})^{self.slope:.3f} x {self.scale:.4g}"


def calibrate(restored: np.ndarray, start: np.ndarray, truth: np.ndarray, scale: float,
              samples: int = 200_000, seed: int = 0) -> Optional[ErrorCalibration]:
    """Fit the expected absolute error as a power of the departure on in-plane pairs (``start``: a sharp axis
    degraded and interpolated back; ``restored``: the network's output; ``truth``: the sharp data; all divided by
    ``scale``), over voxels of the head (truth above 10 % of the scan's 99.5th percentile). None when too few."""
    from scipy.ndimage import gaussian_filter

    inside = gaussian_filter(truth, 1.0) > 0.1
    if inside.sum() < 1000:
        return None
    x = np.log(departure(restored, start)[inside] + FLOOR)
    y = np.log(gaussian_filter(np.abs(restored - truth), 1.0)[inside] + FLOOR)
    pick = np.random.default_rng(seed).choice(x.size, min(samples, x.size), replace=False)
    slope, intercept = np.polyfit(x[pick], y[pick], 1)
    return ErrorCalibration(float(intercept), float(slope), float(scale))


def inferred_detail(restored: Volume, volume: Volume, grid: Grid, method: str,
                    calibration: Optional[ErrorCalibration] = None) -> Volume:
    """The uncertainty map of ``self`` and ``adapt`` (``method``): the expected absolute error (scan's units)
    through ``calibration``; without one, the departure from B-spline interpolation itself (same units)."""
    interpolated = resample_to_grid(volume.as_float32(), volume.grid, grid, "bspline")
    moved = departure(restored.as_float32(), interpolated)
    if calibration is None:
        return volume.with_array(moved, grid, method=method,
                                 kind=f"uncertainty (departure from B-spline interpolation, smoothed over {SMOOTHING_VOXELS:g} voxels)")
    return volume.with_array(calibration.expected_error(moved), grid, method=method,
                             kind="uncertainty (expected absolute error, in the scan's units: the departure from B-spline "
                                  "interpolation, calibrated on the scan's own in-plane pairs)",
                             calibration=calibration.describe())
