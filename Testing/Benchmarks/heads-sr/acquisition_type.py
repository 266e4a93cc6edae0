"""What `auto` gives a 3-D acquisition, not told its slice profile, with and without a header that says 3-D.

    python Testing/Benchmarks/heads-sr/acquisition_type.py Testing/Benchmarks/heads-sr

The held-out FreeSurfer 711-2C head placed as in the heads-sr benchmark, on the head-sized field of view of the
file-to-file timings (file_to_file.py), acquired as a 3-D acquisition would be (k-space truncation) at 1x1x2, 1x1x4,
1x1x6 and 2x2x2 mm, written as a NIfTI with the BIDS sidecar dcm2niix writes beside it (``MRAcquisitionType: 3D``),
read back by MedSR's reader, and restored by `auto` as a user runs it (no ``--slice-profile``): the header's k-space
profile assumed (acquisition_type.py, since 2026-12-08). The same file without its sidecar is the default before:
a box. Gains over B-spline, inside the head and over the whole volume, as the heads-sr benchmark scores them, and
how the uncertainty map tracks the true error inside the head (Spearman's rho, top-10 % error ratio; the time
includes the map).
Writes acquisition-type.json and acquisition-type.md into the folder given.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from MedSRLib import read_volume, write_volume
from MedSRLib.evaluation.bench_heads_sr import _image_row, uncertainty_figures
from MedSRLib.metrics import foreground_mask
from MedSRLib.methods import get
from MedSRLib.progress import SILENT
from MedSRLib.simulate import Acquisition, degrade

sys.path.insert(0, str(Path(__file__).resolve().parent))
from file_to_file import crops_of_placed_head, scored_row, write_head_sized_report  # noqa: E402

FACTORS = ((1, 1, 2), (1, 1, 4), (1, 1, 6), (2, 2, 2))


def main(folder: Path) -> None:
    truth = crops_of_placed_head()[1]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for factors in FACTORS:
            scan = Path(scratch) / f"scan{'x'.join(map(str, factors))}.nii.gz"
            write_volume(degrade(truth, Acquisition(factors, "kspace")), scan)
            sidecar = scan.with_name(scan.name[: -len(".nii.gz")] + ".json")
            bspline = None
            for header in ("MRAcquisitionType 3D (BIDS sidecar)", "none"):
                if header == "none":
                    sidecar.unlink()
                else:
                    sidecar.write_text(json.dumps({"MRAcquisitionType": "3D"}))
                low = read_volume(scan)
                # the contract grid of the scan as read: a NIfTI keeps its oblique geometry in float32, so that grid
                # is the truth's to within a few micrometres, and the truth is scored on it voxel for voxel
                target = low.grid.with_spacing(truth.grid.spacing)
                assert target.size == truth.grid.size
                reference = truth.with_array(truth.array, target)
                if bspline is None:
                    bspline = _image_row(reference, get("sr", "bspline").run(low, target, SILENT))
                start = time.perf_counter()
                result, uncertainty = get("sr", "auto").run(low, target, SILENT, device="cpu", with_uncertainty=True)
                seconds = time.perf_counter() - start
                mapped = uncertainty_figures(uncertainty.as_float32(),
                                             np.abs(result.as_float32() - reference.as_float32()),
                                             np.asarray(foreground_mask(reference)) > 0)
                rows.append(scored_row(reference, result, bspline, seconds, acquired="kspace",
                                       voxel_mm="x".join(map(str, factors)), header=header, uncertainty=mapped))
                print(rows[-1], flush=True)
    write_head_sized_report(folder, "acquisition-type", "`auto` on 3-D acquisitions of the held-out head, not told their "
                            "slice profile", "acquisition_type.py", truth, rows,
                            (("acquired", lambda r: r["acquired"], False), ("voxels", lambda r: f"{r['voxel_mm']} mm", False),
                             ("header", lambda r: r["header"], False), ("method", lambda r: r["method"], False)),
                            (("map: rho", lambda r: f"{r['uncertainty']['spearman_rho']:.2f}", True),
                             ("top-10 % ratio", lambda r: f"{r['uncertainty']['top10_error_ratio']:.2f}", True)))

if __name__ == "__main__":
    main(Path(sys.argv[1]))
