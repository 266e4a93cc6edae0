"""Uncertainty maps of the methods that learn from the scan itself (`self`, `adapt`): the expected absolute error,
in the scan's units, predicted from how far the result departs from interpolation of the scan.

Where does a restoration's detail come from? Where it departs from plain interpolation of the scan, it was
inferred, not measured, and may be wrong. The departure alone is a map of inferred detail, not an error: how much
error a given departure means differs from scan to scan. Both methods learn from the scan's sharp in-plane axes
(pairs degraded as the thick axis was), and there the truth is known: on those pairs the error is fitted as a power
of the departure (log-linear least squares), and that calibration turns the through-plane departure into the
expected absolute error.

For a thick-slice scan the interpolation is the windowed sinc (Lanczos) that both the pairs
(geometry.degrade_and_interpolate) and the networks' input (the scan resampled onto the target grid) are made with,
so the departure a calibration was fitted on and the departure it is applied to are the same quantity; before
2026-12-03 it was B-spline for the scan. Measured on the tuning head (3T18yo placed; not the validation head),
Spearman rho B-spline -> Lanczos: `self` 1x1x2 mm 0.33 -> 0.37 (top-10 % error ratio 2.31 -> 2.47), 1x1x4 mm 0.438
-> 0.438, 1x1x6 mm 0.465 -> 0.464; `adapt` 1x1x2 and 1x1x4 mm 0.436 and 0.439 either way. For an isotropic scan
B-spline stays: there Lanczos lowered `adapt`'s rho at 2x2x2 mm from 0.31 to 0.23.

The fit has a second term: the voxel's distance from the nearest acquired slice centre along the thick axis (0 on a
slice centre, 0.5 half-way between two). Data consistency pins the result to the measurement where a slice was
acquired and leaves the most to inference half-way between slices; on the tuning head (FreeSurfer 3T18yo placed,
not the validation head) the true error half-way between slices was twice that near slice centres. The in-plane
pairs were acquired the same way along their degraded axis, so each scan fits that term on its own pairs too. A
scan coarse along every axis but coarser along one (2x2x3 mm) gets the term along that axis (calibrate_network).

And a third: how much data consistency corrected the network's result. The projection moves the result only as far
as its re-acquisition disagreed with the measurement, so where it moved a lot the network was wrong in what the scan
measured, and likely in what it did not. The pairs are made consistent with their own measurement as the scan's
result is (the same projection), so the fit sees the error the scan's result has. On the tuning head (3T18yo
placed) this raised `self`'s rho at 1x1x2 / 4 / 6 mm from 0.38 / 0.40 / 0.44 to 0.44 / 0.43 / 0.46 and its
top-10 % error ratio from 2.5 / 2.8 / 2.7 to 2.8 / 3.0 / 2.8.

A noisy scan. A result made consistent with the scan (methods/consistency.py) gives the scan back when acquired
again, down to the scan's noise. Its departure from the interpolated *scan* is then mostly the noise the projection
left out, which is alike everywhere and tells nothing of where the result is wrong. So the departure of a consistent
result is taken from the interpolation of the *result acquired again* as the scan was (the profile it was projected
with): on a noise-free scan that is the same quantity, and on a noisy one it leaves the removed noise out. The pairs
a thick-slice scan's map is calibrated on take theirs the same way (each pair's consistent restoration acquired again
along its degraded axis). Measured on the tuning heads placed (`self`, Gaussian 1x1x4 mm scans, box profile assumed;
never the validation head), the calibrated map's Spearman rho / top-10 % error ratio went: mni305 with 1 % Rician
noise 0.158 / 2.19 -> 0.297 / 2.44, 3T18yo with 1 % 0.218 / 2.56 -> 0.361 / 2.80 and with 3 % 0.132 / 1.78 ->
0.261 / 2.16; mni305 noise-free 0.646 / 4.86 -> 0.646 / 4.86 (unchanged). An isotropic scan's
calibration cube is not made consistent (see calibrate_network), so it keeps the departure from its degraded input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..geometry import Grid, degrade_and_interpolate, profile_weights, refinement_kind, resample_to_grid
from ..volume import Volume
from .consistency import acquire_again, acquire_array, project_array

SMOOTHING_VOXELS = 2.0
#: what the departure is measured from, for thick-slice scans and for isotropic ones (see above; geometry.refinement_kind)
START_INTERPOLATION = {"thick-slice": "lanczos", "isotropic": "bspline"}
#: edge (voxels) of the cube of the scan's own pairs on which a network's uncertainty is calibrated
CALIBRATION_CUBE = 96
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


def _to_nearest_centre(position: np.ndarray) -> np.ndarray:
    """Distance of a continuous slice index from the nearest integer (a slice centre): 0 to 0.5."""
    return np.abs(position - np.round(position)).astype(np.float32)


def slice_distance(acquired: Grid, grid: Grid, axis: int) -> np.ndarray:
    """For each voxel centre of ``grid``, its distance from the nearest slice centre of ``acquired`` along
    ``acquired``'s ``axis``, in slices (0 to 0.5); shaped to broadcast against ``grid``'s arrays (oblique grids
    included: the position is taken through both grids' geometry)."""
    to_acquired = np.linalg.inv(acquired.ijk_to_lps()) @ grid.ijk_to_lps()
    row = to_acquired[axis]  # continuous index along ``axis`` as an affine function of the grid's (i, j, k)
    position = np.full((1, 1, 1), row[3], dtype=np.float64)
    for dimension, n in enumerate(grid.size):
        shape = [1, 1, 1]
        shape[dimension] = n
        position = position + row[dimension] * np.arange(n, dtype=np.float64).reshape(shape)
    return _to_nearest_centre(position)


def degraded_axis_distance(length: int, factor: float, start: int = 0) -> np.ndarray:
    """The same distance for an in-plane axis acquired ``factor`` times coarser over the same field of view
    (geometry.degrade_and_interpolate: slice centres at (m + 0.5) * factor - 0.5), for indices start..length-1."""
    return _to_nearest_centre((np.arange(start, length) + 0.5) / factor - 0.5)


@dataclass(frozen=True)
class ErrorCalibration:
    """expected |error| = scale * exp(intercept + per_slice_distance * distance) * (departure / scale + FLOOR) ** slope
    [* (correction / scale + FLOOR) ** per_log_correction], in the scan's units; distance from the nearest acquired
    slice centre, in slices (0 to 0.5); correction: how far data consistency moved the result (smoothed as the
    departure is), a term fitted only where the result was made consistent."""
    intercept: float
    slope: float
    scale: float  # the scan's 99.5th percentile: the fit is made on intensities divided by it
    per_slice_distance: float = 0.0
    per_log_correction: Optional[float] = None  # None: fitted without the correction term

    def expected_error(self, departure_map: np.ndarray, distance: np.ndarray | float = 0.0,
                       correction_map: Optional[np.ndarray] = None) -> np.ndarray:
        if (correction_map is None) != (self.per_log_correction is None):
            raise ValueError("the correction map is needed exactly when the calibration was fitted with it")
        relative = np.maximum(departure_map / self.scale, 0.0) + FLOOR
        error = self.scale * np.exp(self.intercept + self.per_slice_distance * distance) * relative ** self.slope
        if correction_map is not None:
            error = error * (np.maximum(correction_map / self.scale, 0.0) + FLOOR) ** self.per_log_correction
        return error.astype(np.float32)

    def describe(self) -> str:
        correction = ("" if self.per_log_correction is None else
                      f" x (data-consistency correction / {self.scale:.4g} + {FLOOR:g})^{self.per_log_correction:.3f}")
        distance = ("" if self.per_slice_distance == 0.0 else  # 0 exactly: fitted without the term (isotropic pairs)
                    f" x exp({self.per_slice_distance:.3f} x distance from the nearest acquired slice centre, in slices)")
        return (f"{np.exp(self.intercept):.3g}{distance} x (departure / {self.scale:.4g} + {FLOOR:g})^{self.slope:.3f}"
                f"{correction} x {self.scale:.4g}")


def acquisition_operator(n: int, factor: float, profile: str, start: int = 0, size: Optional[int] = None,
                         thickness: float = 1.0) -> tuple:
    """The acquisition of one axis of a pair (``n`` fine voxels acquired ``factor`` times coarser with ``profile``, as
    geometry.degrade_and_interpolate acquires it), seen through the window of fine voxels start..start+size: (the
    rows whose whole profile lies in the window, restricted to it; which of the window's voxels those rows measure
    as fully as the whole acquisition does). ``thickness``: the profile's width in coarse spacings."""
    full = profile_weights(n, max(1, int(round(n / factor))), profile, thickness)
    size = n - start if size is None else size
    part = full[:, start:start + size]
    rows = part[part.sum(axis=1) > 1.0 - 1e-3]
    covered = rows.sum(axis=0) >= (1.0 - 1e-3) * part.sum(axis=0)
    return rows, covered


def acquired_again_and_interpolated(restored: np.ndarray, axis: int, factor: float, profile: str,
                                    thickness: float = 1.0) -> np.ndarray:
    """A pair's consistent restoration acquired again along its degraded ``axis`` as the pair was (``factor``,
    ``profile``, ``thickness``; no noise) and interpolated back: what a pair's departure is measured from when the
    scan's result was made consistent (inferred_detail's ``projected_with``)."""
    return degrade_and_interpolate(restored, axis, factor, profile, thickness=thickness)[0]


def consistent_pair(restored: np.ndarray, truth: np.ndarray, operators, noise_sigma: float = 0.0) -> np.ndarray:
    """A pair's restoration made consistent with the pair's own measurement (the truth acquired by ``operators``,
    one matrix or None per axis), as the scan's result is made consistent with the scan: exactly for a noise-free
    scan, down to its noise (``noise_sigma``, in the pair's units; the Wiener gain of methods/consistency.py) for a
    noisy one.

    Before 2026-12-06 a noisy scan's pairs were projected exactly while its result was not: the pairs' restorations
    took their measurement's noise back, and the map, calibrated on them, was fitted to another projection than the
    result's. Measured on the tuning heads (mni305 and 3T18yo placed, 1x1x4 mm, 1 % Rician noise, `self`; never the
    validation head), the map's mean over the true error's inside the head: exact 0.43 / 0.63, down to the noise 1.02 /
    1.24; masked on its own grid, inside the brain: 0.29 / 0.24 -> 2.09 / 1.29; Spearman rho 0.143 / 0.243 -> 0.151 /
    0.253 and, masked, 0.148 / 0.232 -> 0.176 / 0.280."""
    return project_array(restored, acquire_array(truth, operators), operators, noise_sigma)


def calibrate(restored: np.ndarray, start: np.ndarray, truth: np.ndarray, scale: float, degraded_axis: Optional[int],
              distance: Optional[np.ndarray], unprojected: Optional[np.ndarray] = None, valid: Optional[np.ndarray] = None,
              samples: int = 200_000, seed: int = 0) -> Optional[ErrorCalibration]:
    """Fit the expected absolute error as a power of the departure and an exponential of the slice distance on
    in-plane pairs (``start``: a sharp axis, ``degraded_axis`` of these arrays, degraded and interpolated back;
    ``restored``: the network's output, made consistent with the pair's measurement where the scan's result is, and
    then ``unprojected`` is the output before, which adds the correction term; ``truth``: the sharp data; all divided
    by ``scale``; ``distance``: each voxel's distance from the nearest slice centre of that degraded axis,
    broadcastable; both None for a pair degraded along every axis, an isotropic scan's, which gets no distance term),
    over voxels of the head (truth above 10 % of the scan's 99.5th percentile; within ``valid`` when given). None
    when too few.

    The error is smoothed by one voxel along every axis except the degraded one, which keeps its slice-to-slice
    structure (tuning head: rho 0.41 against 0.38 when smoothed along it too, at 1x1x4 mm)."""
    from scipy.ndimage import gaussian_filter

    inside = gaussian_filter(truth, 1.0) > 0.1
    if valid is not None:
        inside &= valid
    if inside.sum() < 1000:
        return None
    sigma = [1.0] * truth.ndim
    columns = [np.ones(int(inside.sum())), np.log(departure(restored, start)[inside] + FLOOR)]
    if unprojected is not None:
        columns.append(np.log(departure(restored, unprojected)[inside] + FLOOR))
    if degraded_axis is not None:
        sigma[degraded_axis] = 0.0
        columns.append(np.broadcast_to(distance, truth.shape)[inside])
    design = np.column_stack(columns)
    y = np.log(gaussian_filter(np.abs(restored - truth), sigma)[inside] + FLOOR)
    pick = np.random.default_rng(seed).choice(y.size, min(samples, y.size), replace=False)
    coefficients, *_ = np.linalg.lstsq(design[pick], y[pick], rcond=None)
    coefficients = list(map(float, coefficients))
    per_correction = coefficients.pop(2) if unprojected is not None else None
    per_distance = coefficients[2] if len(coefficients) > 2 else 0.0
    return ErrorCalibration(coefficients[0], coefficients[1], float(scale), per_distance, per_correction)


def calibrate_network(network, pair, scale: float, profile: str, consistent: bool,
                      size: int = CALIBRATION_CUBE, factors: Optional[Sequence[float]] = None,
                      noise_sigma: float = 0.0, thickness: float = 1.0) -> Optional[ErrorCalibration]:
    """The calibration of a 3-D network's map (`adapt`, `cnn`, `gan`) on a cube of one of the scan's own pairs
    (methods/scan_pairs.py, made with ``profile``, ``thickness`` coarse spacings wide) at the head's centre: the network restores the
    cube, whose truth is known; with ``consistent``, as the scan's result is, a thick-slice cube's restoration is made
    consistent with what the pair measured (the slices whose whole profile lies in the cube), which adds the
    correction term (down to the scan's noise, ``noise_sigma`` in the pair's units, as the result is). Not an isotropic cube's: on the tuning head for `adapt` (mni305 placed; the pretrained networks
    learnt from 3T18yo) the term raised rho at 1x1x2 / 4 mm from 0.38 / 0.56 to 0.40 / 0.60 but lowered it at
    2x2x2 mm from 0.38 to 0.36.

    An isotropic pair (coarse along every axis) gets the slice-distance term along its coarsest axis when that axis
    is coarser than the others (``factors``, the scan's over the target's spacing: a 2x2x3 mm scan brought to 1 mm),
    for then the output's voxels lie at different distances from its acquired slices (at x3: on a slice centre or a
    third of a slice away), as a thick-slice scan's do; at equal factors every output voxel lies as far from them
    (x2: a quarter of a slice along every axis) and the term could tell nothing. Measured on the tuning heads (`adapt`
    at 2x2x3 mm; not the validation head) before the term was fitted: the true error a third of a slice away was
    1.9x that on a slice centre on mni305."""
    import torch

    low, high, factor = pair  # factor None: an isotropic pair, degraded along every axis
    weights = np.argwhere(high > 0.1)
    if weights.size == 0:
        return None
    starts = [int(np.clip(c - size // 2, 0, max(n - size, 0))) for c, n in zip(weights.mean(axis=0), low.shape)]
    window = tuple(slice(start, start + size) for start in starts)
    parameter = next(network.parameters(), None) if hasattr(network, "parameters") else None  # (ONNX: none)
    with torch.no_grad():
        cube = torch.from_numpy(np.ascontiguousarray(low[window]))[None, None]
        restored = network(cube if parameter is None else cube.to(parameter.device))[0, 0].float().cpu().numpy()
    if factor is None:  # (no correction term: see above)
        axis, distance = _coarsest_axis_distance(factors, starts, restored.shape)
        return calibrate(restored, low[window], high[window], scale, axis, distance)
    unprojected, valid, start = None, None, low[window]
    if consistent:  # the thick-slice pairs' degraded axis is last
        rows, covered = acquisition_operator(low.shape[-1], factor, profile, starts[-1], restored.shape[-1], thickness)
        unprojected, restored = restored, consistent_pair(restored, high[window], [None, None, rows], noise_sigma)
        valid = np.broadcast_to(covered, restored.shape)
        # the departure from the restoration acquired again, as the scan's result's is taken (inferred_detail): the
        # cube set into its whole column of the truth along the degraded axis, so that it is acquired on the pair's
        # own slices
        column = high[window[0], window[1], :].copy()
        inner = slice(starts[-1], starts[-1] + restored.shape[-1])
        column[..., inner] = restored
        start = acquired_again_and_interpolated(column, column.ndim - 1, factor, profile, thickness)[..., inner]
    degraded = low.shape[-1]
    distance = degraded_axis_distance(min(starts[-1] + size, degraded), factor, starts[-1])
    return calibrate(restored, start, high[window], scale, restored.ndim - 1, distance, unprojected, valid)


def _coarsest_axis_distance(factors: Optional[Sequence[float]], starts, shape) -> tuple:
    """(axis, each voxel's distance from that axis's nearest acquired slice centre, broadcastable) for an isotropic
    pair's cube at ``starts`` of ``shape``, along the coarsest axis of ``factors`` when it is coarser than every other
    and the distance varies along it; else (None, None)."""
    if factors is None:
        return None, None
    factors = np.asarray(factors, float)
    axis = int(np.argmax(factors))
    if np.sum(factors >= factors[axis] * (1.0 - 1e-6)) > 1:
        return None, None
    distance = degraded_axis_distance(starts[axis] + shape[axis], float(factors[axis]), starts[axis])
    if np.ptp(distance) < 1e-6:
        return None, None
    return axis, distance.reshape([-1 if a == axis else 1 for a in range(len(shape))])


def start_interpolation(acquired: Grid, target: Grid) -> str:
    """The interpolation the departure of a result is measured from, for a scan on ``acquired`` restored onto
    ``target`` (the kind of restoration as `auto` reads it: geometry.refinement_kind)."""
    return START_INTERPOLATION[refinement_kind(acquired, target)]


def inferred_detail(restored: Volume, volume: Volume, grid: Grid, method: str,
                    calibration: Optional[ErrorCalibration] = None, unprojected: Optional[Volume] = None,
                    projected_with: Optional[str] = None) -> Volume:
    """The uncertainty map of the learned methods (``method``): the expected absolute error (scan's units)
    through ``calibration``; without one, the departure from interpolation (START_INTERPOLATION) itself (same units).
    ``unprojected``: the result before data consistency (for a calibration with the correction term).
    ``projected_with``: the slice profile ``restored`` was made consistent with the scan with (None: it was not);
    then the departure is taken from the interpolation of the result acquired again with that profile rather than
    of the scan (see the module's description, "a noisy scan")."""
    start = start_interpolation(volume.grid, grid)
    reference = volume.as_float32() if projected_with is None else acquire_again(restored, volume, projected_with)
    interpolated = resample_to_grid(reference, volume.grid, grid, start)
    of = "the scan" if projected_with is None else f"the result acquired again ({projected_with} profile)"
    moved = departure(restored.as_float32(), interpolated)
    if calibration is None:
        return volume.with_array(moved, grid, method=method,
                                 kind=f"uncertainty (departure from {start} interpolation of {of}, smoothed over "
                                      f"{SMOOTHING_VOXELS:g} voxels)")
    thick = int(np.argmax(np.asarray(volume.grid.spacing) / np.asarray(grid.spacing)))
    correction = None
    if calibration.per_log_correction is not None:
        correction = departure(restored.as_float32(), unprojected.as_float32())
    expected = calibration.expected_error(moved, slice_distance(volume.grid, grid, thick), correction)
    distance = "" if calibration.per_slice_distance == 0.0 else ", the distance from the acquired slices"
    corrected = "" if correction is None else ", how far data consistency corrected the result"
    return volume.with_array(expected, grid, method=method,
                             kind="uncertainty (expected absolute error, in the scan's units: the departure from "
                                  f"{start} interpolation of {of}{distance}{corrected}, calibrated on the scan's own pairs)",
                             calibration=calibration.describe())
