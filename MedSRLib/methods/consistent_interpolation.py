"""An interpolation made consistent with the scan it interpolates (`medsr sr --data-consistency box|gaussian|kspace` with a
classical method; the benchmarks' consistent windowed sinc), with a masked scan's unmeasured outside left out as the
learned methods leave it (methods/unmeasured.py): filled before the interpolation, its noise read inside, and faded
back into the fill value after the projection. Read as data, the mask's cut would ring into the brain and the
projection would pull the brain's edge slices towards the fill value."""

from __future__ import annotations

from typing import Callable

from ..geometry import Grid
from ..progress import Progress
from ..volume import Volume
from .consistency import project_onto_scan
from .unmeasured import handles_unmeasured


def consistent_interpolation(interpolate: Callable, profile: str) -> Callable:
    """``interpolate`` (a classical method's run: volume, grid, progress, **options) followed by the projection onto
    the scan with the slice ``profile`` (box, gaussian or kspace), as one run that handles a scan's unmeasured region."""

    @handles_unmeasured
    def run(volume: Volume, grid: Grid, progress: Progress, **options) -> Volume:
        return project_onto_scan(interpolate(volume, grid, progress, **options), volume, profile)

    return run
