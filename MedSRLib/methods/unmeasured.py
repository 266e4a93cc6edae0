"""Voxels a scan never measured, and how the learned super-resolution methods keep them out of the result.

A skull-stripped scan has its outside set to one value (0) on its own grid; a CT has padding outside its
reconstruction circle. Those voxels are not measurements: read as data, the step from the brain's edge to the fill
value is a cut no acquisition makes. Interpolation rings from it into the brain, and data consistency, which holds the
result to every voxel of the scan, pulls the brain's edge slices towards the fill value along the slice profile.
Measured on the tuning heads (mni305 and 3T18yo placed, masked to the intracranial space on the thick-slice grid,
noise-free; gain over B-spline of the masked scan, inside the brain eroded by 3 voxels; /tmp script, 2026-12-06): the
windowed sinc made consistent with the scan -6.69 / -5.94 dB (mni305, 1x1x2 / 1x1x4 mm) and +1.21 / +0.39 (3T18yo),
where the same scans unmasked gave +12.15 / +6.14 and +8.70 / +3.93. With the unmeasured voxels filled from their
nearest measured voxel before the method runs: +6.95 / +2.44 and +7.62 / +2.95 (filled by a normalised Gaussian
instead: +3.15 / +0.55 and +5.70 / +1.85).

Which voxels count as unmeasured, and how a cut is told from an edge an acquisition made: MedSRLib/measured_region.py.

So :func:`handles_unmeasured` wraps a method: the unmeasured region (measured_region.unmeasured_region: a masked
scan's outside, a CT's padding; not the scattered zeros of an integer scan's noisy air) is filled from the nearest
measured voxel out to FILL_KEEP voxels, fading to the fill value by FILL_FADE (a masked outside filled whole gave the
methods a head-sized extruded region to learn from and calibrate on: `self` on the tuning heads masked at 1x1x4 mm
with 1 % Rician noise +2.77 / +1.99 dB (mni305 / 3T18yo) filled whole, +2.87 / +3.05 with the fade from 3 to 6 voxels,
+3.09 / +2.98 from 2 to 4, +3.16 / +2.76 from 6 to 12), the method runs on that, the scan's noise is read inside what
it measured (:func:`noise_of_masked_scan`), and the result is set back to the fill value in the unmeasured region,
fading into it over a band EDGE_BAND_MM wide about the region's edge (:func:`kept_share`). A scan with no unmeasured
region passes through untouched.

Why a band, not a cut: where a scan was masked on its thick grid, the mask's edge is known only to within a voxel of
that grid (along the thick axis, to within a slice), and a result cut at the mask's interpolated edge puts brain
intensities where the finer truth has none, or none where it has brain, all along the edge. Measured on the tuning
heads (mni305 and 3T18yo placed, masked on their own grid by their intracranial masks, scored against the 1 mm head
masked by that mask at 1 mm; /tmp script, 2026-12-06): `self` cut where the region's linearly interpolated share
exceeds one half (as before 2026-12-06) was 0.89-1.49 dB under B-spline of the masked scan over the whole volume at
1x1x4 mm with 1 % Rician noise and at 1x1x6 mm, though 1.8-3.1 dB above it inside the brain; faded over 3 mm by a
smoothstep of the signed distance from the region's edge: +1.59 to +2.38 dB over the whole volume, inside the brain
unchanged (to 0.001 dB). The width, with the consistent windowed sinc on both heads at 1x1x2 / 1x1x4 / 1x1x6 mm
(Gaussian) and 2x2x2 / 2x2x3 mm (box), whole volume over B-spline: cut -0.89 to -1.49 dB; faded over 1.5 mm -0.10 to
+1.82, 2 mm +0.16 to +2.05, 3 mm +0.44 to +2.38 (mean +1.18), 4 mm +0.29 to +2.44 (mean +1.23), 5 mm -0.20 to +2.29.
3 mm was taken: best at 1x1x2 mm on both heads, within 0.2 dB of the best elsewhere, and the narrower band.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Callable

import numpy as np

from ..geometry import Grid, resample_to_grid
from ..measured_region import unmeasured_region
from ..volume import Volume
from .noise import SCAN_NOISE_KEY, noise_sigma_of_patches, noise_of_scan

#: metadata key that marks a scan handed to a method with its unmeasured region filled (the region's share), and what
#: `auto` adds to the kind of scan whose evidence it reads for such a scan (the heads-sr benchmark's skull-stripped case)
UNMEASURED_KEY = "unmeasured_share"
MASKED_KIND = ", skull-stripped"
#: voxels (of the scan's grid) from the measured edge over which the fill keeps its nearest value, and at which it has
#: faded to the fill value (a raised cosine between)
FILL_KEEP, FILL_FADE = 3.0, 6.0


def fill_from_nearest(array: np.ndarray, region: np.ndarray, keep: float = FILL_KEEP, fade: float = FILL_FADE) -> np.ndarray:
    """``array`` with each voxel of ``region`` given the value of its nearest voxel outside it, fading to the fill
    value (``array``'s minimum) from ``keep`` to ``fade`` voxels away (everything, with ``fade`` None)."""
    from scipy.ndimage import distance_transform_edt

    distance, nearest = distance_transform_edt(region, return_distances=True, return_indices=True)
    filled = array[tuple(nearest)]
    if fade is None:
        return filled
    fill_value = array.min()
    weight = np.clip((fade - distance) / (fade - keep), 0.0, 1.0)
    weight = np.sin(0.5 * np.pi * weight) ** 2
    return (fill_value + (filled - fill_value) * weight).astype(array.dtype)


#: width (mm) of the band about the unmeasured region's edge over which the result fades into the fill value (see above)
EDGE_BAND_MM = 3.0


def kept_share(region: np.ndarray, scan_grid: Grid, grid: Grid) -> np.ndarray:
    """For each voxel of ``grid``, the share of a method's result that is kept: 1 farther than EDGE_BAND_MM / 2 inside
    what the scan (on ``scan_grid``) measured, 0 as far into its unmeasured ``region``, and between, a smoothstep of
    the signed distance (mm) from the region's edge, interpolated from the scan's grid (so the edge is a smooth
    surface, not the scan's voxels). On the scan's own grid (nothing refined: a volume of a cohort already at the
    target spacing) the edge is known to the voxel, and the share is 1 on every measured voxel and 0 on the region,
    so the scan comes back as it was (faded, `auto` at the bundled T1's own 1 mm changed 224,501 of its voxels by up
    to 16 of 255)."""
    from scipy.ndimage import distance_transform_edt

    if grid.matches(scan_grid):
        return (~region).astype(np.float32)
    spacing = scan_grid.spacing
    signed = (distance_transform_edt(region, sampling=spacing).astype(np.float32)
              - distance_transform_edt(~region, sampling=spacing).astype(np.float32))
    signed = resample_to_grid(signed, scan_grid, grid, "linear")
    share = np.clip(0.5 - signed / np.float32(EDGE_BAND_MM), 0.0, 1.0)
    return (share * share * (3.0 - 2.0 * share)).astype(np.float32)


def restore_unmeasured(result: Volume, kept: np.ndarray, fill_value: float) -> Volume:
    """``result`` faded into ``fill_value`` where ``kept`` (kept_share on the result's grid) is under 1: the fill value
    exactly more than EDGE_BAND_MM / 2 into the scan's unmeasured region, ``result`` as it is that far inside what was
    measured."""
    fill = np.float32(fill_value)
    return result.with_array((fill + (result.as_float32() - fill) * kept).astype(np.float32))


def noise_of_masked_scan(volume: Volume, region: np.ndarray) -> float:
    """The noise of a scan whose ``region`` was not measured: read inside what was (noise.noise_sigma_of_patches, in
    the planes across its thickest axis), since its air, if any is left, was cut away; noise.noise_of_scan's when too
    little was measured for the patches."""
    sigma = noise_sigma_of_patches(volume.as_float32(), ~region, slice_axis=int(np.argmax(volume.grid.spacing)))
    return noise_of_scan(volume) if sigma is None else sigma


def handles_unmeasured(run: Callable) -> Callable:
    """``run`` (a super-resolution method: volume, grid, progress, **options; a volume, or (volume, uncertainty map)
    with ``with_uncertainty``) made to leave the scan's unmeasured voxels out (see the module's description)."""

    @functools.wraps(run)
    def wrapped(volume: Volume, grid: Grid, *args, **options):
        array = volume.as_float32()
        region = unmeasured_region(array)
        if region is None:
            return run(volume, grid, *args, **options)
        fill_value = float(array.min())
        filled = volume.with_array(fill_from_nearest(array, region).astype(np.float32),
                                   **{SCAN_NOISE_KEY: f"{noise_of_masked_scan(volume, region):.6g}",
                                      UNMEASURED_KEY: f"{region.mean():.4f}"})
        outcome = run(filled, grid, *args, **options)
        share = f"{100.0 * region.mean():.1f} % of the scan (value {fill_value:g})"

        kept = kept_share(region, volume.grid, grid)  # (once, for the result and its uncertainty map)

        def back(result: Volume, value: float) -> Volume:
            restored = restore_unmeasured(result, kept, value)
            metadata = {key: text for key, text in restored.metadata.items() if key not in (SCAN_NOISE_KEY, UNMEASURED_KEY)}
            edge = ("cut exactly: the output grid is the scan's own" if grid.matches(volume.grid)
                    else f"faded over {EDGE_BAND_MM:g} mm at its edge")
            metadata["unmeasured"] = f"{share} filled from the nearest measured voxel for the method, then set back ({edge})"
            return replace(restored, metadata=metadata)

        if isinstance(outcome, tuple):  # (result, uncertainty map): no error where nothing was measured
            return (back(outcome[0], fill_value), back(outcome[1], 0.0)) + tuple(outcome[2:])
        return back(outcome, fill_value)

    return wrapped
