"""Data consistency: project a super-resolved volume so that re-acquiring it gives back the input (exactly, or
down to the scan's noise).

The acquisition model is the simulator's: along each axis the input's voxels
are slice-profile averages (``box`` or ``gaussian``, as wide as the scan's
slices are thick: its spacing unless recorded otherwise, slice_thickness.py)
of the fine voxels, or their central frequencies (``kspace``: a 3-D acquisition's
coarsely encoded axis, geometry/kspace.py), on grids of the same field of view. That operator is separable, A = W_i x W_j x W_k,
so the orthogonal projection onto {x : A x = y} is x + A+(y - A x) with the
pseudo-inverse applied axis by axis: exact, and cheap (a few matrix products).
A result that came from a CUDA device is projected there, by the same float32
products through torch (on the lent H200 machine a 256^3 output's projection
took 0.35 s on the host's 16 cores, 0.09 s on the GPU).

A scan has noise, and A+ deconvolves the slice profile: the components A measures weakly (the fine detail of a
Gaussian profile, singular values far below 1) come back multiplied by 1/s, noise with them. Measured on the tuning
head mni305 (a 180x156x216 box, sagittal thick slices, gain inside the head over B-spline; Docs/super-resolution.md,
2026-12-06): with Rician noise of 1 % of the maximum the exact projection took the windowed sinc from -0.21 to
-2.71 dB at 1x1x2 mm and `self` from -1.02 to -2.77 dB, below B-spline; without noise it gives them +8.62 / +8.75 dB.
So the methods project onto a scan with :func:`project_onto_scan`: the correction, in the basis of A's singular
vectors, is weighed by the share of the residual's power that the scan's noise does not explain, a Wiener gain
1 - sigma^2 / power clipped to [0, 1] (sigma: methods/noise.scan_noise_sigma, from the scan's air where it has noisy
air; a scan whose air has none, simulated, gets sigma 0 and the exact projection; a scan masked on its own grid, the
noise read inside it, methods/unmeasured.py). With one coarse axis
the other two are still space in that basis, and the power is measured around each position (a Gaussian of
LOCAL_POWER_VOXELS): the residual's signal gathers at edges, the noise does not. Chosen on the tuning head mni305 and
the bundled MNI T1 (2 % noise, 1x1x2 / 1x1x4 mm): exact -3.33 / -1.46 and -1.04 / +0.24 dB, one gain per bin of
singular values -0.27 / -0.00 and +0.01 / +0.11, measured locally (1 voxel) -0.27 / +0.16 and +0.05 / +0.45; at 1 %
the local gain is at or above the exact projection in all four cases. Several coarse axes mix every position, so
there one gain per bin of singular values (GAIN_BINS) is fitted over the whole residual. So are, with one coarse
axis, the components that overlapping slices barely measure (singular values below WEAK_SINGULAR_SHARE of the
largest), where a gain read on a few voxels errs enough to bring the noise back 1/s-fold (2026-12-07: 4 mm slices
every 2 mm with 1 % noise, -5.81 -> -0.09 dB for the sinc made consistent on the held-out head).
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
from scipy import ndimage

from ..acquisition_type import PROFILE_3D, acquisition_type
from ..errors import MedSRError
from ..geometry import apply_along_axis, profile_weights
from ..geometry.resample import _shares_field_of_view
from ..slice_thickness import thickness_fractions
from ..volume import Volume

PROFILES = ("box", "gaussian", "kspace")
#: data consistency with the slice profile the method itself assumes (its training or fitting profile)
OWN_PROFILE = "own"
#: the slice profile the methods that learn from the scan (`self`, `adapt`) take a scan to have when it is not given
#: (`--slice-profile`): a box, a slice that averages what it covers, as a 2-D acquisition's near-rectangular slice
#: and slices averaged from a finer volume do. Until 2026-12-06 22:00 UTC it was a Gaussian of FWHM = slice
#: thickness, blurrier than a box of the same thickness: on box-like scans the network learnt to undo more blur than
#: the scan has and the projection imposed the wrong profile, below B-spline. Assuming a box never fell below B-spline on
#: the tuning heads, whatever the scan's profile (Docs/super-resolution.md, "the default slice profile is a box").
SCAN_PROFILE = "box"


def scan_profile(volume: Volume, given: Optional[str] = None) -> str:
    """The slice profile the methods that learn from the scan take ``volume`` to have: the one ``given``, else the
    one its header implies (a 3-D acquisition: ``kspace``, acquisition_type.py), else SCAN_PROFILE."""
    if given:
        return given
    return PROFILE_3D if acquisition_type(volume) == "3D" else SCAN_PROFILE


def profile_source(volume: Volume, given: Optional[str] = None) -> str:
    """Where scan_profile's answer came from, for the note that says which profile was assumed."""
    if given:
        return "as given"
    if acquisition_type(volume) == "3D":
        return "the header says a 3-D acquisition; --slice-profile box or gaussian for another"
    return "the default; --slice-profile gaussian or kspace for another"


def _operators(fine: Volume, coarse: Volume, profile: str) -> List[Optional[np.ndarray]]:
    if profile not in PROFILES:
        raise MedSRError(f"data consistency needs the slice profile, one of {', '.join(PROFILES)}; got {profile!r}")
    if not _shares_field_of_view(coarse.grid, fine.grid):
        raise MedSRError("data consistency needs the output on the input's field of view (the resampling contract grid)")
    operators = []
    widths = thickness_fractions(coarse)  # the scan's slices where they are not as thick as their spacing
    for n_fine, n_coarse, width in zip(fine.grid.size, coarse.grid.size, widths):
        if n_coarse > n_fine:
            raise MedSRError("data consistency needs an output at least as fine as the input along every axis")
        operators.append(None if n_coarse == n_fine else profile_weights(n_fine, n_coarse, profile, width))
    return operators


def acquire_array(array: np.ndarray, matrices) -> np.ndarray:
    """``array`` acquired by A, given axis by axis (a (coarse, fine) matrix or None per axis)."""
    for axis, matrix in enumerate(matrices):
        if matrix is not None:
            array = apply_along_axis(array, matrix, axis)
    return array


def acquire_again(result: Volume, scan: Volume, profile: str) -> np.ndarray:
    """``result`` (on the contract grid over ``scan``'s field of view) acquired as ``scan`` was, with the slice
    ``profile`` and the scan's slice widths: an array on ``scan``'s grid."""
    return acquire_array(result.as_float32(), _operators(result, scan, profile))


def _back_project(residual: np.ndarray, operators) -> np.ndarray:
    """A+ ``residual``, the pseudo-inverse applied axis by axis."""
    return acquire_array(residual, [None if w is None else np.linalg.pinv(w) for w in operators])


def project_array(array: np.ndarray, measured: np.ndarray, operators, noise_sigma: Optional[float] = None) -> np.ndarray:
    """``array`` made consistent with ``measured`` = A ``array``, A given axis by axis (``operators``: a
    (coarse, fine) matrix or None per axis): x + A+(y - A x); with ``noise_sigma`` (above 0), down to that noise
    (wiener_back_project)."""
    residual = measured - acquire_array(array, operators)
    if noise_sigma:
        return array + wiener_back_project(residual, operators, float(noise_sigma))
    return array + _back_project(residual, operators)


def _project_with_torch(array: np.ndarray, measured: np.ndarray, operators, device: str) -> tuple:
    """(projected array, RMS residual before, after), the products through torch on ``device`` (float32; torch
    keeps TF32 off for matrix products unless asked)."""
    import torch

    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).to(device)

    def contract(x, matrices):
        for axis, matrix in enumerate(matrices):
            if matrix is not None:
                x = torch.movedim(torch.movedim(x, axis, -1) @ matrix.T, -1, axis)
        return x

    forward = [None if w is None else tensor(w) for w in operators]
    backward = [None if w is None else tensor(np.linalg.pinv(w)) for w in operators]
    x, y = tensor(array), tensor(measured)
    residual = y - contract(x, forward)
    x += contract(residual, backward)
    after = y - contract(x, forward)
    rms = [float(torch.sqrt(torch.mean(r.double() ** 2))) for r in (residual, after)]
    return x.cpu().numpy(), rms[0], rms[1]


#: a scan coarse along several axes: the Wiener gains' power is estimated on this many bins of the singular value
#: (log-spaced), pooled over the residual where the object is
GAIN_BINS = 48
#: a scan coarse along one axis: the power is measured around each position along the other two (Gaussian, voxels)
LOCAL_POWER_VOXELS = 1.0
#: ... except for the components whose singular value is below this share of the largest: there an error in the
#: gain costs 1/s, and a power measured on a few voxels errs by tens of percent, so it is pooled per bin (GAIN_BINS)
#: over the residual. Only overlapping slices have such components (touching or gapped box slices have one singular
#: value; a Gaussian profile as thick as its spacing, 0.52 of the largest at the least). Measured 2026-12-07 with 1 %
#: Rician noise, box slices 4 mm every 2 mm, the windowed sinc made consistent, inside the head over B-spline: on the
#: tuning head mni305 -7.07 dB with the local power, -1.06 / -0.34 / -0.22 / -0.19 with a share of 0.1 / 0.2 / 0.3 /
#: 0.5 (6 mm every 3 mm: -5.30 -> +0.66 at 0.3); on the held-out 711-2C -5.81 -> -0.09 at 0.3. 0.3 keeps every
#: touching-slice scan's projection as it was.
WEAK_SINGULAR_SHARE = 0.3


def wiener_back_project(residual: np.ndarray, operators, noise_sigma: float,
                        inside: Optional[np.ndarray] = None) -> np.ndarray:
    """A+ ``residual`` with each singular component weighed by its Wiener gain, max(0, 1 - noise_sigma^2 / power).
    The power: with one coarse axis, the residual's components squared and smoothed over the other two axes
    (LOCAL_POWER_VOXELS), but pooled as below for the components the slices barely measure (WEAK_SINGULAR_SHARE:
    overlapping slices); with several, the mean square of the components whose singular value falls in the same bin
    (GAIN_BINS), counted where ``inside`` (bool, on the residual's grid: the object) holds along the axes A does not
    coarsen."""
    rotated, singular = np.asarray(residual, np.float64), np.ones((1, 1, 1))
    coarse = tuple(axis for axis, matrix in enumerate(operators) if matrix is not None)
    counted = (np.ones((1, 1, 1), bool) if inside is None else np.any(inside, axis=coarse, keepdims=True))
    bases = []
    for axis, matrix in enumerate(operators):
        if matrix is None:
            bases.append(None)
            continue
        u, s, vt = np.linalg.svd(np.asarray(matrix, np.float64), full_matrices=False)
        bases.append(vt.T)
        rotated = np.moveaxis(np.moveaxis(rotated, axis, -1) @ u, -1, axis)
        shape = [1, 1, 1]
        shape[axis] = s.size
        singular = singular * s.reshape(shape)
    singular = np.broadcast_to(singular, rotated.shape)
    if len(coarse) == 1:  # the other axes are still space: the power around each position there (see above)
        power = ndimage.gaussian_filter(rotated ** 2, [0.0 if axis in coarse else LOCAL_POWER_VOXELS for axis in range(3)])
        weak = singular < WEAK_SINGULAR_SHARE * singular.max()
        if np.any(weak):  # overlapping slices: pooled where an error in the gain costs 1/s
            power = np.where(weak, _pooled_power(rotated, singular, counted), power)
    else:  # one power per bin of singular values
        power = _pooled_power(rotated, singular, counted)
    gain = np.clip(1.0 - noise_sigma ** 2 / np.maximum(power, 1e-30), 0.0, 1.0)
    rotated = rotated * (gain / np.maximum(singular, 1e-12))
    for axis, basis in enumerate(bases):
        if basis is not None:
            rotated = np.moveaxis(np.moveaxis(rotated, axis, -1) @ basis.T, -1, axis)
    return rotated.astype(np.float32)


def _pooled_power(rotated: np.ndarray, singular: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """The mean square of ``rotated``'s components whose singular value falls in the same bin (GAIN_BINS,
    log-spaced), counted where ``counted`` holds, at every component."""
    logs = np.log(np.maximum(singular, 1e-30))
    bins = np.digitize(logs, np.linspace(logs.min(), logs.max() + 1e-9, GAIN_BINS + 1)[1:-1])
    counted = np.broadcast_to(counted, rotated.shape)
    return (np.bincount(bins[counted], rotated[counted] ** 2, GAIN_BINS)
            / np.maximum(np.bincount(bins[counted], None, GAIN_BINS), 1))[bins]


def project_onto_scan(result: Volume, scan: Volume, profile: str, device: Optional[str] = None,
                      noise_sigma: Optional[float] = None) -> Volume:
    """:func:`project` with the Wiener gains of the scan's own noise (see the module's description):
    ``noise_sigma`` when the caller has estimated it already, else methods/noise.noise_of_scan's (which keeps what a
    caller that changed the scan's voxels read before: a masked scan's, methods/unmeasured.py)."""
    from ..metrics.intensity import foreground_of_array
    from .noise import noise_of_scan

    inside = foreground_of_array(scan.as_float32())
    if noise_sigma is None:
        noise_sigma = noise_of_scan(scan, inside)
    return project(result, scan, profile, device, noise_sigma=noise_sigma, inside=inside)


def project(result: Volume, observed: Volume, profile: str = "box", device: Optional[str] = None,
            noise_sigma: Optional[float] = None, inside: Optional[np.ndarray] = None) -> Volume:
    """``result`` made consistent with ``observed``; metadata records the RMS residual before and after.
    ``device``: where the result was computed; a CUDA device projects there. ``noise_sigma`` (the standard deviation
    of ``observed``'s noise, in its units): the correction is weighed by Wiener gains (wiener_back_project; on the
    CPU), and the result is consistent with what the scan measured above its noise; None: the exact projection."""
    operators = _operators(result, observed, profile)
    measured = observed.as_float32()
    if noise_sigma is None and device and str(device).startswith("cuda"):
        corrected, before, after = _project_with_torch(result.as_float32(), measured, operators, str(device))
    else:
        residual = measured - acquire_array(result.as_float32(), operators)
        correction = (_back_project(residual, operators) if noise_sigma is None
                      else wiener_back_project(residual, operators, float(noise_sigma), inside))
        corrected = result.as_float32() + correction  # (the residual is reported, so kept)
        before = float(np.sqrt(np.mean(residual.astype(np.float64) ** 2)))
        after = float(np.sqrt(np.mean((measured - acquire_array(corrected, operators)).astype(np.float64) ** 2)))
    noise = {} if noise_sigma is None else {"consistency_noise_sigma": f"{float(noise_sigma):.6g}"}
    return result.with_array(
        corrected.astype(np.float32, copy=False),
        data_consistency=profile,
        consistency_residual_before=f"{before:.6g}",
        consistency_residual_after=f"{after:.6g}",
        **noise,
    )
