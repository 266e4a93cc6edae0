"""Simulate a lower-resolution, noisier acquisition of a volume on the grid the contract defines."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from ..errors import MedSRError
from ..geometry import apply_along_axis, profile_weights
from ..progress import SILENT, Progress
from ..slice_thickness import MAX_FRACTION
from ..volume import ACQUISITION_TYPE_KEY, SLICE_THICKNESS_PREFIX, Volume, check_finite
from .kspace import truncate
from .noise import add_noise

SAMPLINGS = ("box", "gaussian", "kspace")


@dataclass(frozen=True)
class Acquisition:
    """How a scan of the volume is simulated.

    * ``factors``: voxel size multipliers per axis (i, j, k); 1 keeps an axis,
      ``(2, 2, 2)`` is isotropic downsampling, ``(1, 1, 4)`` thick slices along k.
    * ``sampling``: ``box`` (slice profile of the slice width: block averaging),
      ``gaussian`` (Gaussian slice profile, FWHM = slice thickness) or
      ``kspace`` (MRI: only the central frequencies are measured).
    * ``gap_mm``: gap between slices on the coarsened axes; the slice thickness
      is the new spacing minus the gap (box and gaussian only). A negative gap
      is an overlap: a CT reconstructed at an increment below its thickness.
      The result records the thickness (slice_thickness.py) when it is not the
      spacing.
    * ``noise`` / ``noise_level``: see :func:`MedSRLib.simulate.noise.add_noise`.
    * ``seed``: makes the noise repeatable.
    """

    factors: Tuple[float, float, float]
    sampling: str = "box"
    gap_mm: float = 0.0
    noise: Optional[str] = None
    noise_level: float = 0.0
    seed: Optional[int] = None

    def __post_init__(self):
        if self.sampling not in SAMPLINGS:
            raise MedSRError(f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        if not np.isfinite(self.gap_mm):
            raise MedSRError(f"slice gap must be a number of mm, got {self.gap_mm}")
        if self.gap_mm and self.sampling == "kspace":
            raise MedSRError("a slice gap belongs to slice profiles (box or gaussian), not to k-space truncation")
        if self.noise is None and self.noise_level:
            raise MedSRError("a noise level needs a noise kind (gaussian, rician or poisson)")

    def describe(self) -> str:
        f = "x".join(f"{v:g}" for v in self.factors)
        text = f"{self.sampling} x{f}"
        if self.gap_mm:
            text += f", gap {self.gap_mm:g} mm" if self.gap_mm > 0 else f", overlap {-self.gap_mm:g} mm"
        if self.noise:
            text += f", {self.noise} noise {self.noise_level:g}"
        return text

    def as_dict(self) -> dict:
        return asdict(self)


def degrade(volume: Volume, acquisition: Acquisition, progress: Progress = SILENT) -> Volume:
    """The volume as the simulated acquisition would record it, on ``grid.coarsened(factors)``: a slice thickness
    that is not the spacing recorded (slice_thickness.py), and k-space truncation recorded as a 3-D acquisition
    (acquisition_type.py), so that the methods that model the acquisition assume what was simulated."""
    check_finite(volume)
    target = volume.grid.coarsened(acquisition.factors)
    recorded = {}
    if acquisition.sampling == "kspace":  # recorded as a 3-D acquisition's header would (acquisition_type.py)
        progress.update(0.1, "truncating k-space")
        array = truncate(volume.array, target.size, magnitude=volume.modality != "CT")
        recorded[ACQUISITION_TYPE_KEY] = "3D"
    else:
        array = volume.as_float32()
        for axis, (n_in, n_out) in enumerate(zip(volume.grid.size, target.size)):
            if n_out == n_in:
                continue
            progress.update(0.1 + 0.2 * axis, f"slice profile along axis {'ijk'[axis]}")
            thickness = _slice_thickness(target.spacing[axis], acquisition.gap_mm)
            array = apply_along_axis(array, profile_weights(n_in, n_out, acquisition.sampling, thickness), axis)
            if acquisition.gap_mm:
                recorded[SLICE_THICKNESS_PREFIX + "ijk"[axis]] = f"{thickness * target.spacing[axis]:.6g}"
    if acquisition.noise:
        progress.update(0.8, f"adding {acquisition.noise} noise")
        array = add_noise(array, acquisition.noise, acquisition.noise_level, np.random.default_rng(acquisition.seed))
    progress.update(1.0, "simulated")
    return volume.with_array(np.asarray(array, dtype=np.float32), target, acquisition=acquisition.describe(), **recorded)


def _slice_thickness(spacing: float, gap_mm: float) -> float:
    """Slice thickness as a fraction of the slice spacing (above 1 for a negative gap, an overlap)."""
    if gap_mm >= spacing:
        raise MedSRError(f"slice gap {gap_mm} mm leaves no slice: the slice spacing is {spacing:.3f} mm")
    if (spacing - gap_mm) / spacing > MAX_FRACTION:
        raise MedSRError(f"an overlap of {-gap_mm} mm makes slices {spacing - gap_mm:.3g} mm thick every {spacing:.3g} mm, "
                         f"more than {MAX_FRACTION:g} slice spacings")
    return (spacing - gap_mm) / spacing


def parse_factors(values: Sequence[float]) -> Tuple[float, float, float]:
    values = tuple(float(v) for v in values)
    if len(values) != 3:
        raise MedSRError(f"give 3 factors (i j k), got {len(values)}")
    return values
