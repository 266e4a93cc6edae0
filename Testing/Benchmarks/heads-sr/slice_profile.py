"""What each assumed slice profile gives `auto` (which takes `self` for thick slices) on the held-out head.

    python Testing/Benchmarks/heads-sr/slice_profile.py Testing/Benchmarks/heads-sr

The held-out FreeSurfer 711-2C head placed as in the heads-sr benchmark, on the head-sized field of view of the
file-to-file timings (file_to_file.py), acquired as thick slices with a box profile (a 2-D acquisition's
near-rectangular slice, or slices averaged from a finer volume), a Gaussian one (FWHM = slice thickness) or as a 3-D
acquisition's coarsely encoded axis (k-space truncation, since 2026-12-07); then restored by `auto` told each profile
(`medsr sr --slice-profile box|gaussian|kspace`; not told, it assumes a box since 2026-12-06 22:00 UTC, a Gaussian
before). Gains over B-spline, inside the head and over the whole
volume, as the heads-sr benchmark scores them. Writes slice-profile.json and slice-profile.md into the folder given.
"""

import sys
import time
from pathlib import Path


from MedSRLib.evaluation.bench_heads_sr import _image_row
from MedSRLib.methods import get
from MedSRLib.progress import SILENT
from MedSRLib.simulate import Acquisition, degrade

sys.path.insert(0, str(Path(__file__).resolve().parent))
from file_to_file import crops_of_placed_head, scored_row, write_head_sized_report  # noqa: E402

PROFILES = ("box", "gaussian", "kspace")
CASES = [(acquired, thickness) for acquired in PROFILES for thickness in (2, 4, 6)]


def main(folder: Path) -> None:
    truth = crops_of_placed_head()[1]
    rows = []
    for acquired, thickness in CASES:
        low = degrade(truth, Acquisition((1, 1, thickness), acquired))
        bspline = _image_row(truth, get("sr", "bspline").run(low, truth.grid, SILENT))
        for told in PROFILES:
            start = time.perf_counter()
            result = get("sr", "auto").run(low, truth.grid, SILENT, device="cpu", profile=told)
            seconds = time.perf_counter() - start
            rows.append(scored_row(truth, result, bspline, seconds, acquired=acquired, thickness_mm=thickness, told=told))
            print(rows[-1], flush=True)
    write_head_sized_report(folder, "slice-profile", "What each assumed slice profile gives `auto` on the held-out head",
                            "slice_profile.py", truth, rows,
                            (("acquired", lambda r: r["acquired"], False),
                             ("thickness", lambda r: f"1x1x{r['thickness_mm']} mm", True),
                             ("`--slice-profile`", lambda r: r["told"], False), ("method", lambda r: r["method"], False)))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
