"""`medsr demo`: one simulated thick-slice scan of the sample brain, restored by every method."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Optional, Sequence

from ..errors import MedSRError
from ..io import read_volume
from ..methods.consistency import PROFILES
from ..progress import SILENT, Progress
from ..sample_data import sample_path
from ..simulate import Acquisition
from .comparison import compare_methods, machine_description
from .report import write_figure, write_tables, write_volumes

DEFAULT_ACQUISITION = Acquisition(factors=(1.0, 1.0, 4.0), sampling="gaussian")


def run_demo(
    output: Path,
    input_path: Optional[Path] = None,
    acquisition: Acquisition = DEFAULT_ACQUISITION,
    method_names: Optional[Sequence[str]] = None,
    overwrite: bool = False,
    progress: Progress = SILENT,
) -> dict:
    """Write volumes, metrics.md/json and figure.png into ``output`` (made whole in a temporary folder first)."""
    output = Path(output)
    if output.exists() and not overwrite:
        raise MedSRError(f"{output} already exists; pass --overwrite to replace it")
    if not output.parent.exists():
        raise MedSRError(f"cannot write {output}: folder {output.parent} does not exist")
    started = time.perf_counter()
    source = Path(input_path) if input_path else sample_path("t1")
    truth = read_volume(source)
    comparison = compare_methods(truth, acquisition, method_names, progress.sub(0.0, 0.8))
    staging = Path(tempfile.mkdtemp(prefix=".medsr-demo-", dir=output.parent))
    try:
        progress.update(0.82, "writing volumes")
        files = write_volumes(comparison, staging)
        progress.update(0.92, "drawing the figure")
        write_figure(comparison, staging / "figure.png")
        rows = comparison.rows()
        payload = {
            "input": str(source),
            "acquisition": acquisition.as_dict(),
            "truth_grid": repr(truth.grid),
            "low_resolution_grid": repr(comparison.low_resolution.grid),
            "data_range": comparison.data_range,
            "mask": "Otsu threshold of the ground truth, holes filled",
            "machine": machine_description(),
            "methods": rows,
            "files": files + ["figure.png", "metrics.md", "metrics.json"],
        }
        preamble = (
            f"Input `{source.name}`, simulated acquisition: {acquisition.describe()}"
            f"{' (its slice profile told to the methods that learn from the scan, as --slice-profile)' if acquisition.sampling in PROFILES else ''} "
            f"(low resolution {comparison.low_resolution.grid.size} voxels of "
            f"{tuple(round(s, 3) for s in comparison.low_resolution.grid.spacing)} mm), restored to "
            f"{truth.grid.size} voxels of {truth.grid.spacing} mm. PSNR data range: the truth's 0.5-99.5 percentile "
            f"range ({comparison.data_range:g}); fg = foreground (Otsu mask of the truth). "
            f"Machine: {payload['machine']['cpu']}, {payload['machine']['cpu_cores_usable']} cores."
        )
        write_tables(payload, rows, staging, "metrics", "MedSR demo", preamble)
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    payload["total_seconds"] = time.perf_counter() - started
    progress.update(1.0, f"demo written to {output}")
    return payload
