"""Classical super-resolution: interpolation onto the finer grid of the resampling contract."""

from __future__ import annotations

from ..geometry import Grid, resample_to_grid
from ..progress import Progress
from ..volume import Volume, check_finite
from .registry import Method, register

_SUMMARIES = {
    "nearest": "nearest neighbour: copies the closest voxel (blocky; keeps label values)",
    "linear": "trilinear interpolation",
    "bspline": "cubic B-spline interpolation (SimpleITK sitkBSpline3)",
    "lanczos": "Lanczos windowed sinc, radius 5 (SimpleITK's kernel, run separably)",
}


def interpolate_volume(volume: Volume, grid: Grid, progress: Progress, method: str) -> Volume:
    check_finite(volume)
    progress.update(0.0, f"{method} interpolation")
    array = resample_to_grid(volume.array, volume.grid, grid, method)
    progress.update(1.0, f"{method} interpolation done")
    return volume.with_array(array, grid, method=method)


for _name, _summary in _SUMMARIES.items():
    register(
        Method(
            name=_name,
            task="sr",
            summary=_summary,
            run=lambda volume, grid, progress, _m=_name: interpolate_volume(volume, grid, progress, _m),
        )
    )
