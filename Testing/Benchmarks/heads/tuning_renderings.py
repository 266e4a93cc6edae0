"""The skull edge's tuning case (2026-12-04): renderings of the FreeSurfer 3T18yo head (a tuning head, never the
validation head) whose reference is an intracranial mask, made as the heads benchmark renders its validation head.

711-2B (711-2C's intracranial mask) is carried onto 3T18yo by an affine registration of 711-2C; inside it, CSF fills
what the carried MNI grey and white matter (strip/head_reference.py) leave; the head is placed rotated -9/13/-12
degrees and shifted -6/8/-10 mm on a grid of its own and rendered T1-, T2- and PD-like (bench_heads.render).

    python Testing/Benchmarks/heads/tuning_renderings.py OUTPUT_FOLDER

writes icv_mask.nii.gz, icv_labels.nii.gz and icv-{T1,T2,PD}-like.nii.gz (run 2026-12-04: 10 min on 2 cores shared
with a CI run, fetching the heads included; the intracranial mask 1,902 mL).
"""

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MedSRLib.evaluation.bench_heads import RENDERINGS, render
from MedSRLib.evaluation.placement import centre_of, place, scanner_grid, scanner_placement
from MedSRLib.io import write_volume
from MedSRLib.io.convert import sitk_from_volume
from MedSRLib.io.public_heads import load_head
from MedSRLib.strip.head_reference import reference_tissues
from MedSRLib.strip.registration import register, smooth_to_spacing


def main(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    reference = reference_tissues("3t18yo", None)
    head = reference["head"]
    fixed = smooth_to_spacing(sitk.Cast(sitk_from_volume(head), sitk.sitkFloat32), 2.0)
    moving = smooth_to_spacing(sitk.Cast(sitk_from_volume(load_head("711-2c")), sitk.sitkFloat32), 2.0)
    affine = sitk.AffineTransform(3)
    affine.SetCenter(fixed.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in fixed.GetSize()]))
    register(fixed, moving, affine, 300, 0.3)
    carried = sitk.Resample(sitk_from_volume(load_head("711-2b")), sitk_from_volume(head), affine, sitk.sitkNearestNeighbor, 0)
    inside = sitk.GetArrayFromImage(carried).T > 0
    gm, wm = reference["gm"].array * inside, reference["wm"].array * inside
    maps = {"gm": gm, "wm": wm, "csf": np.where(inside, 1 - gm - wm, 0).astype(np.float32)}
    labels = np.stack([~inside, maps["csf"], gm, wm]).argmax(0).astype(np.uint8)
    motion = scanner_placement((-9.0, 13.0, -12.0), (-6.0, 8.0, -10.0), centre=centre_of(head.grid))
    grid = scanner_grid(head, spacing=(1.0, 1.0, 1.0), margin_mm=0.0)
    placed = {"head": place(head, motion, grid), "labels": place(head.with_array(labels), motion, grid, labels=True)}
    placed["mask"] = placed["labels"].with_array((placed["labels"].array > 0).astype(np.uint8))
    for name, array in maps.items():
        placed[name] = place(head.with_array(array.astype(np.float32)), motion, grid)
    write_volume(placed["mask"], folder / "icv_mask.nii.gz", overwrite=True)
    write_volume(placed["labels"], folder / "icv_labels.nii.gz", overwrite=True)
    for name, signals in RENDERINGS.items():
        image = render(placed["head"], placed, placed["mask"].array > 0, signals)
        write_volume(image, folder / f"icv-{name}.nii.gz", overwrite=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
