"""`Volume`: a 3-D scalar voxel array that never travels without its grid."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict

import numpy as np

from .errors import MedSRError
from .geometry import Grid

#: what the intensities mean
MODALITIES = {"MR": "arbitrary units", "CT": "Hounsfield units", "unknown": "unknown units"}
#: metadata keys, one per axis ("slice_thickness_mm_k"), for how thick the scan's slices were along that axis where
#: that is not the spacing (slice_thickness.py); they describe the grid they came with, so a new grid drops them
SLICE_THICKNESS_PREFIX = "slice_thickness_mm_"
#: metadata key for whether an MR scan was acquired as 2-D slices or a 3-D volume (acquisition_type.py); it too
#: describes the grid it came with
ACQUISITION_TYPE_KEY = "mr_acquisition_type"


@dataclass(frozen=True)
class Volume:
    """Voxel array in (i, j, k) order plus its :class:`~MedSRLib.geometry.Grid` and intensity meaning.

    ``modality`` is ``"MR"`` (arbitrary units, magnitude), ``"CT"`` (Hounsfield
    units) or ``"unknown"``. ``metadata`` holds provenance strings that writers
    store where the file format can (NRRD and MetaImage keys).

    >>> v = Volume(np.zeros((2, 3, 4), np.float32), Grid((2, 3, 4), (1.0, 1.0, 2.5)))
    >>> v
    Volume(shape=(2, 3, 4), dtype=float32, modality=MR, spacing=(1.00, 1.00, 2.50) mm)
    """

    array: np.ndarray
    grid: Grid
    modality: str = "MR"
    metadata: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        array = np.asarray(self.array)
        if array.ndim != 3:
            raise MedSRError(f"a volume must be 3-D, got an array of shape {array.shape}")
        if array.shape != self.grid.size:
            raise MedSRError(f"array shape {array.shape} does not match grid size {self.grid.size}")
        if self.modality not in MODALITIES:
            raise MedSRError(f"modality must be one of {sorted(MODALITIES)}, got {self.modality!r}")
        if array.dtype.kind not in "biuf":
            raise MedSRError(f"voxels must be numbers, got dtype {array.dtype}")
        object.__setattr__(self, "array", array)

    @property
    def spacing(self):
        return self.grid.spacing

    @property
    def units(self) -> str:
        return MODALITIES[self.modality]

    def with_array(self, array: np.ndarray, grid: Grid | None = None, **metadata: str) -> "Volume":
        """A new volume with the same intensity meaning; ``grid`` must be given when the array's grid changed (the
        slice thicknesses and acquisition type recorded for the old grid are then dropped, unless given again)."""
        merged = dict(self.metadata)
        if grid is not None and grid != self.grid:
            merged = {key: value for key, value in merged.items()
                      if not key.startswith(SLICE_THICKNESS_PREFIX) and key != ACQUISITION_TYPE_KEY}
        merged.update(metadata)
        return replace(self, array=array, grid=self.grid if grid is None else grid, metadata=merged)

    def as_float32(self) -> np.ndarray:
        return self.array.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        s = ", ".join(f"{v:.2f}" for v in self.grid.spacing)
        return f"Volume(shape={self.array.shape}, dtype={self.array.dtype}, modality={self.modality}, spacing=({s}) mm)"


def check_finite(volume: Volume, what: str = "input") -> None:
    """Refuse NaN/Inf voxels with a count, since every method would spread them."""
    array = volume.array
    if array.dtype.kind == "f":
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            raise MedSRError(f"{what} has {bad} NaN or Inf voxel(s); clean them before processing")
