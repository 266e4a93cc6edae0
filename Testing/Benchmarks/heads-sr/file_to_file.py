"""Inputs of the file-to-file timings (file-to-file.md), then the commands that timed them.

    python Testing/Benchmarks/heads-sr/file_to_file.py /tmp/f2f
    cd /tmp/f2f
    farm-bench -n 2 --warmup 0 --timeout 900 -- medsr sr thick4.nii.gz out_thick4.nii.gz --spacing 1 1 1 --overwrite --quiet
    farm-bench -n 2 --warmup 0 --timeout 900 -- medsr sr iso2.nii.gz out_iso2.nii.gz --spacing 1 1 1 --overwrite --quiet
    farm-bench -n 2 --warmup 0 --timeout 900 -- medsr segment head711.nii.gz seg711.nii.gz --overwrite --quiet
    farm-bench -n 2 --warmup 0 --timeout 900 -- medsr sr thick4_head.nii.gz out_thick4_head.nii.gz --spacing 1 1 1 --overwrite --quiet
    farm-bench -n 2 --warmup 0 --timeout 900 -- medsr sr iso2_head.nii.gz out_iso2_head.nii.gz --spacing 1 1 1 --overwrite --quiet
    farm-bench -n 2 --warmup 0 --timeout 900 -- medsr sr thick2_head.nii.gz out_thick2_head.nii.gz --spacing 1 1 1 --overwrite --quiet
    farm-bench -n 2 --warmup 0 --timeout 900 -- medsr sr thick6_head.nii.gz out_thick6_head.nii.gz --spacing 1 1 1 --overwrite --quiet

The held-out 711-2C head placed as in the heads-sr benchmark, cropped to its above-air box plus 10 voxels (whole
slabs of 12), acquired at 1x1x4 mm (Gaussian profile) and 2x2x2 mm (box); the same head cropped to a field of view of
the size issue 18 names (about 200x230x190 mm: HEAD_FOV_VOXELS, centred on the above-air box; the 711-2C average is
above the air almost everywhere, so its box fills 264x252x264); and 711-2C as distributed (256^3). The head-sized
field of view is also acquired at 1x1x2 and 1x1x6 mm (Gaussian profile), the heads-sr benchmark's other thicknesses.
"""

import sys
from pathlib import Path

import numpy as np

from MedSRLib import write_volume
from MedSRLib.evaluation.bench_heads_sr import placed_head
from MedSRLib.geometry import Grid
from MedSRLib.geometry.box import above_air_box
from MedSRLib.io.public_heads import load_head
from MedSRLib.simulate import Acquisition, degrade


#: the head-sized field of view (voxels of 1 mm, whole slabs of 12): anterior-posterior, superior-inferior, right-left
HEAD_FOV_VOXELS = (204, 228, 192)


def _crop(truth, low, size):
    array = truth.as_float32()
    cropped = array[tuple(slice(lo, lo + n) for lo, n in zip(low, size))]
    origin = truth.grid.ijk_to_lps() @ np.array(list(low) + [1.0])
    return truth.with_array(cropped, Grid(cropped.shape, truth.grid.spacing, tuple(origin[:3]), truth.grid.direction))


def head_sized_payload(truth, rows: list) -> dict:
    """The report of a script run on the head-sized field of view (slice_profile.py, slice_thickness.py): when,
    where, on what, and its ``rows``."""
    import datetime

    from MedSRLib.evaluation.comparison import machine_description

    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine_description(), "device": "cpu", "grid": str(truth.grid),
            "validated_on": "FreeSurfer 711-2C average head with skull, placed as in the heads-sr benchmark, on a "
                            f"head-sized field of view of {HEAD_FOV_VOXELS} voxels of 1 mm; no model trained on it",
            "rows": rows}


def scored_row(truth, result, bspline: dict, seconds: float, **leading) -> dict:
    """A row of write_head_sized_report: ``leading``, then `auto`'s choice and profile and ``result``'s scores
    against ``truth`` as gains over ``bspline`` (bench_heads_sr._image_row of the B-spline result)."""
    from MedSRLib.evaluation.bench_heads_sr import _image_row

    row = _image_row(truth, result)
    return {**leading, "method": result.metadata.get("auto_choice", "").split(" ")[0],
            "profile_assumed": result.metadata.get("slice_profile"),
            "gain_head_db": row["psnr_head"] - bspline["psnr_head"], "gain_whole_db": row["psnr_whole"] - bspline["psnr_whole"],
            "ssim_head": row["ssim_head"], "ssim_head_bspline": bspline["ssim_head"], "seconds": seconds}


def write_head_sized_report(folder: Path, stem: str, title: str, script: str, truth, rows: list, leading,
                            trailing=()) -> None:
    """``<stem>.json`` (head_sized_payload) and ``<stem>.md`` into ``folder``: a table whose first columns are
    ``leading`` ((heading, row -> cell, right-aligned?), ...), then the scores every such script reports: the
    profile assumed, the gains over B-spline inside the head and over the whole volume, SSIM and time; then
    ``trailing``, as ``leading``."""
    import json

    from MedSRLib.evaluation.comparison import run_line

    payload = head_sized_payload(truth, rows)
    (folder / f"{stem}.json").write_text(json.dumps(payload, indent=1) + "\n")
    headings = ([heading for heading, _, _ in leading] + ["profile assumed", "gain head (dB)", "gain whole (dB)",
                                                          "SSIM head (B-spline)", "time (s)"]
                + [heading for heading, _, _ in trailing])
    aligned = (["---:" if right else "---" for _, _, right in leading] + ["---", "---:", "---:", "---", "---:"]
               + ["---:" if right else "---" for _, _, right in trailing])
    lines = [f"# {title}", "", run_line(payload), "",
             f"Validated on: {payload['validated_on']}. Script: [{script}]({script}).", "",
             "| " + " | ".join(headings) + " |", "|" + "|".join(aligned) + "|"]
    for r in rows:
        cells = [cell(r) for _, cell, _ in leading] + [
            str(r["profile_assumed"]), f"{r['gain_head_db']:+.2f}", f"{r['gain_whole_db']:+.2f}",
            f"{r['ssim_head']:.4f} ({r['ssim_head_bspline']:.4f})", f"{r['seconds']:.1f}"] + [
            cell(r) for _, cell, _ in trailing]
        lines.append("| " + " | ".join(cells) + " |")
    (folder / f"{stem}.md").write_text("\n".join(lines) + "\n")


def crops_of_placed_head():
    """The placed head on its above-air box plus 10 voxels (whole slabs of 12), and on the head-sized field of view
    (HEAD_FOV_VOXELS, centred on that box)."""
    truth = placed_head()
    array = truth.as_float32()
    box = above_air_box(array / np.percentile(array, 99.5), 10)
    size = [(b.stop - b.start) + (-(b.stop - b.start)) % 12 for b in box]
    low = [min(b.start, n_all - n) for b, n, n_all in zip(box, size, array.shape)]
    centre = [(b.start + b.stop) // 2 for b in box]
    head_low = [int(np.clip(c - n // 2, 0, n_all - n)) for c, n, n_all in zip(centre, HEAD_FOV_VOXELS, array.shape)]
    return _crop(truth, low, size), _crop(truth, head_low, HEAD_FOV_VOXELS)


def main(folder: Path) -> None:
    head, head_sized = crops_of_placed_head()
    folder.mkdir(parents=True, exist_ok=True)
    for name, volume in (("", head), ("_head", head_sized)):
        write_volume(degrade(volume, Acquisition((1, 1, 4), "gaussian")), folder / f"thick4{name}.nii.gz")
        write_volume(degrade(volume, Acquisition((2, 2, 2), "box")), folder / f"iso2{name}.nii.gz")
    for thickness in (2, 6):  # the heads-sr benchmark's other thicknesses, on the head-sized field of view
        write_volume(degrade(head_sized, Acquisition((1, 1, thickness), "gaussian")), folder / f"thick{thickness}_head.nii.gz")
    write_volume(load_head("711-2c"), folder / "head711.nii.gz")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
