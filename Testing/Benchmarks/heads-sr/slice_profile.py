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

import json
import sys
import time
from pathlib import Path


from MedSRLib.evaluation.bench_heads_sr import _image_row
from MedSRLib.evaluation.comparison import run_line
from MedSRLib.methods import get
from MedSRLib.progress import SILENT
from MedSRLib.simulate import Acquisition, degrade

sys.path.insert(0, str(Path(__file__).resolve().parent))
from file_to_file import crops_of_placed_head, head_sized_payload  # noqa: E402

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
            row = _image_row(truth, result)
            rows.append({"acquired": acquired, "thickness_mm": thickness, "told": told,
                         "method": result.metadata.get("auto_choice", "").split(" ")[0],
                         "profile_assumed": result.metadata.get("slice_profile"),
                         "gain_head_db": row["psnr_head"] - bspline["psnr_head"],
                         "gain_whole_db": row["psnr_whole"] - bspline["psnr_whole"],
                         "ssim_head": row["ssim_head"], "ssim_head_bspline": bspline["ssim_head"], "seconds": seconds})
            print(rows[-1], flush=True)
    payload = head_sized_payload(truth, rows)
    (folder / "slice-profile.json").write_text(json.dumps(payload, indent=1) + "\n")
    lines = ["# What each assumed slice profile gives `auto` on the held-out head", "", run_line(payload), "",
             f"Validated on: {payload['validated_on']}. Script: [slice_profile.py](slice_profile.py).", "",
             "| acquired | thickness | `--slice-profile` | method | profile assumed | gain head (dB) | gain whole (dB) | "
             "SSIM head (B-spline) | time (s) |", "|---|---:|---|---|---|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['acquired']} | 1x1x{r['thickness_mm']} mm | {r['told']} | {r['method']} | "
                     f"{r['profile_assumed']} | {r['gain_head_db']:+.2f} | {r['gain_whole_db']:+.2f} | "
                     f"{r['ssim_head']:.4f} ({r['ssim_head_bspline']:.4f}) | {r['seconds']:.1f} |")
    (folder / "slice-profile.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
