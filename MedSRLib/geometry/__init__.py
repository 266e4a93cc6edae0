"""Voxel grids, the LPS/RAS convention and the resampling contract."""

from .box import above_air_box, bounding_box
from .grid import LPS_TO_RAS, Grid, check_spacing, refinement_kind, scan_kind
from .resample import (
    INTERPOLATORS,
    apply_along_axis,
    degrade_and_interpolate,
    interpolate,
    lanczos_weights,
    profile_weights,
    resample_to_grid,
    spacing_after,
)

__all__ = [
    "Grid",
    "LPS_TO_RAS",
    "check_spacing",
    "refinement_kind",
    "scan_kind",
    "INTERPOLATORS",
    "apply_along_axis",
    "above_air_box",
    "bounding_box",
    "degrade_and_interpolate",
    "interpolate",
    "lanczos_weights",
    "profile_weights",
    "resample_to_grid",
    "spacing_after",
]
