"""What telling the methods the scan's slice thickness gives, where the slices do not touch, on the held-out head.

    python Testing/Benchmarks/heads-sr/slice_thickness.py Testing/Benchmarks/heads-sr [--noise 0.01]

The held-out FreeSurfer 711-2C head placed as in the heads-sr benchmark, on the head-sized field of view of the
file-to-file timings (file_to_file.py), acquired as thick slices (box profile, which the methods assume) that are
thinner than their spacing (a 2-D MR series with slice gaps) or thicker (overlapping slices, as a CT reconstructed at
an increment below its thickness); then restored by `auto` (which takes `self` for thick slices) and by the windowed
sinc made consistent with the scan, each told the thickness (as the DICOM Slice Thickness or `medsr sr
--slice-thickness` tells it: MedSRLib/slice_thickness.py) and not told (the slices taken to touch, as before
2026-12-07). Gains over B-spline inside the head and over the whole volume, as the heads-sr benchmark scores them,
and the consistency residual against the scan as truly acquired. Writes slice-thickness.json and slice-thickness.md
into the folder given; with ``--noise F``, Rician noise of F times the scan's maximum is added to the scan after its
acquisition (seeded, as the heads-sr benchmark's noisy cases), into slice-thickness-noise.json / .md.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from MedSRLib.evaluation.bench_heads_sr import _image_row
from MedSRLib.evaluation.comparison import run_line
from MedSRLib.methods import get
from MedSRLib.methods.consistent_interpolation import consistent_interpolation
from MedSRLib.progress import SILENT
from MedSRLib.simulate import Acquisition, add_noise, degrade
from MedSRLib.slice_thickness import without_recorded_thickness
from MedSRLib.volume import Volume

sys.path.insert(0, str(Path(__file__).resolve().parent))
from file_to_file import crops_of_placed_head, head_sized_payload  # noqa: E402

#: (slice spacing, slice thickness), mm
CASES = [(4, 3), (6, 4), (2, 4), (2, 3)]


def _residual_pct(result: Volume, low: Volume, acquisition: Acquisition) -> float:
    scan = low.as_float32()
    return 100.0 * float(np.sqrt(np.mean((degrade(result, acquisition).as_float32() - scan) ** 2))) / float(np.ptp(scan))


def _noise_rms_pct(clean: Volume, low: Volume) -> float:
    """RMS of the noise the scan carries, in % of its range: what a result that leaves the noise unfitted leaves."""
    scan = low.as_float32()
    return 100.0 * float(np.sqrt(np.mean((clean.as_float32() - scan) ** 2))) / float(np.ptp(scan))


def main(folder: Path, noise: float = 0.0) -> None:
    truth = crops_of_placed_head()[1]
    rows = []
    consistent_sinc = consistent_interpolation(get("sr", "lanczos").run, "box")
    for spacing, thickness in CASES:
        acquisition = Acquisition((1, 1, spacing), "box", gap_mm=float(spacing - thickness))
        clean = degrade(truth, acquisition)
        low = clean
        if noise:  # the same noise for every method (seeded)
            low = clean.with_array(add_noise(clean.as_float32(), "rician", noise, np.random.default_rng(0)))
        bspline = _image_row(truth, get("sr", "bspline").run(low, truth.grid, SILENT))
        for told in (True, False):
            scan = low if told else without_recorded_thickness(low)
            for method in ("auto", "lanczos + data consistency"):
                start = time.perf_counter()
                if method == "auto":
                    result = get("sr", "auto").run(scan, truth.grid, SILENT, device="cpu")
                else:
                    result = consistent_sinc(scan, truth.grid, SILENT)
                seconds = time.perf_counter() - start
                row = _image_row(truth, result)
                rows.append({"spacing_mm": spacing, "thickness_mm": thickness, "told": told, "method": method,
                             "took": result.metadata.get("auto_choice", "").split(" ")[0] or method,
                             "gain_head_db": row["psnr_head"] - bspline["psnr_head"],
                             "gain_whole_db": row["psnr_whole"] - bspline["psnr_whole"],
                             "ssim_head": row["ssim_head"], "ssim_head_bspline": bspline["ssim_head"],
                             "consistency_residual_pct": _residual_pct(result, low, acquisition),
                             "noise_rms_pct": _noise_rms_pct(clean, low),
                             "seconds": seconds})
                print(rows[-1], flush=True)
    payload = head_sized_payload(truth, rows)
    payload["rician_noise_of_maximum"] = noise
    name = "slice-thickness-noise" if noise else "slice-thickness"
    (folder / f"{name}.json").write_text(json.dumps(payload, indent=1) + "\n")
    with_noise = (f" Rician noise of {100 * noise:g} % of the scan's maximum added after the acquisition (seeded); its RMS "
                  "(scan minus the scan before its noise, in % of the range) is the least residual that leaves the "
                  "noise unfitted: " + ", ".join(f"{r['thickness_mm']} every {r['spacing_mm']} mm "
                                                 f"{r['noise_rms_pct']:.2f} %" for r in rows[::4]) + "."
                  if noise else " No noise.")
    lines = ["# What telling the methods the slice thickness gives on the held-out head"
             + (f", with {100 * noise:g} % Rician noise" if noise else ""), "", run_line(payload), "",
             f"Validated on: {payload['validated_on']}. Script: [slice_thickness.py](slice_thickness.py). Box slices "
             "(the profile the methods assume); told: the thickness recorded as a DICOM Slice Thickness or `medsr sr "
             "--slice-thickness` records it; not told: the slices taken to touch. Residual: the result acquired again as "
             "the scan truly was, minus the scan, RMS in % of the scan's range." + with_noise, "",
             "| slices | told | method | took | gain head (dB) | gain whole (dB) | SSIM head (B-spline) | residual (%) | "
             "time (s) |", "|---|---|---|---|---:|---:|---|---:|---:|"]
    for r in rows:
        between = ("gaps of" if r["thickness_mm"] < r["spacing_mm"] else "overlap") + \
            f" {abs(r['spacing_mm'] - r['thickness_mm'])} mm"
        lines.append(f"| {r['thickness_mm']} mm every {r['spacing_mm']} mm ({between}) | {'yes' if r['told'] else 'no'} | "
                     f"{r['method']} | {r['took']} | {r['gain_head_db']:+.2f} | {r['gain_whole_db']:+.2f} | "
                     f"{r['ssim_head']:.4f} ({r['ssim_head_bspline']:.4f}) | {r['consistency_residual_pct']:.3f} | "
                     f"{r['seconds']:.1f} |")
    (folder / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--noise", type=float, default=0.0, help="Rician noise, a share of the scan's maximum")
    arguments = parser.parse_args()
    main(arguments.folder, arguments.noise)
