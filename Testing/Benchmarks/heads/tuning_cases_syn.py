"""The tuning cases with a SyN-made tissue reference (2026-12-04; tuning heads, never the validation head 711-2C):
the FreeSurfer 3T18yo head and FreeSurfer's mni305 average (mni305.cor.mgz as NIfTI), each with an intracranial
mask (711-2B: carried onto 3T18yo by an affine registration of 711-2C; already in mni305's space), the MNI grey and
white matter carried onto it by ANTs SyN inside that mask (strip/head_reference.py, as the heads benchmark makes its
reference), CSF filling the rest of the mask; placed anew on a grid of their own and rendered T1-, T2- and PD-like
(bench_heads.render).

    python Testing/Benchmarks/heads/tuning_cases_syn.py OUTPUT_FOLDER MNI305_NIFTI

writes {3t18yo,mni305}-{real,T1-like,T2-like,PD-like,mask,labels,csf,gm,wm}.nii.gz (needs the `bench` extra for antspyx;
about 10 min of SyN per head on 2 cores since SyN iterates at full resolution, 2026-12-06; cases made
before then were made with antspy's default iterations, 40 / 20 / 0).
"""

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from MedSRLib.evaluation.bench_heads import RENDERINGS, render
from MedSRLib.evaluation.placement import centre_of, place, scanner_grid, scanner_placement
from MedSRLib.io import read_volume, write_volume
from MedSRLib.io.convert import sitk_from_volume
from MedSRLib.io.public_heads import load_head
from MedSRLib.strip.head_reference import _carried_by_syn
from MedSRLib.strip.registration import register, smooth_to_spacing

PLACEMENT = {"3t18yo": ((-9.0, 13.0, -12.0), (-6.0, 8.0, -10.0)), "mni305": ((-9.0, 14.0, -11.0), (-6.0, 8.0, -5.0))}


def intracranial(name: str, head, mask_711_2b) -> np.ndarray:
    if name == "mni305":  # 711-2B lies in mni305's space already
        carried = sitk.Resample(sitk_from_volume(mask_711_2b), sitk_from_volume(head), sitk.Transform(), sitk.sitkLinear,
                                0.0, sitk.sitkFloat32)
        return sitk.GetArrayFromImage(carried).T > 0.5 * mask_711_2b.array.max()
    fixed = smooth_to_spacing(sitk.Cast(sitk_from_volume(head), sitk.sitkFloat32), 2.0)
    moving = smooth_to_spacing(sitk.Cast(sitk_from_volume(load_head("711-2c")), sitk.sitkFloat32), 2.0)
    affine = sitk.AffineTransform(3)
    affine.SetCenter(fixed.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in fixed.GetSize()]))
    register(fixed, moving, affine, 300, 0.3)
    carried = sitk.Resample(sitk_from_volume(mask_711_2b), sitk_from_volume(head), affine, sitk.sitkNearestNeighbor, 0)
    return sitk.GetArrayFromImage(carried).T > 0


def main(folder: Path, mni305: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    mask_711_2b = load_head("711-2b")
    for name, source in (("3t18yo", None), ("mni305", mni305)):
        head = load_head("3t18yo") if source is None else read_volume(source)
        head = head.with_array(head.as_float32())
        inside = intracranial(name, head, mask_711_2b)
        maps = _carried_by_syn(head, inside)
        gm, wm = maps["gm"], maps["wm"]
        total = gm + wm
        scale = np.where(total > 1, 1 / np.maximum(total, 1e-6), 1)
        maps = {"gm": gm * scale, "wm": wm * scale}
        maps["csf"] = np.where(inside, 1 - maps["gm"] - maps["wm"], 0).astype(np.float32)
        labels = np.stack([~inside, maps["csf"], maps["gm"], maps["wm"]]).argmax(0).astype(np.uint8)
        motion = scanner_placement(*PLACEMENT[name], centre=centre_of(head.grid))
        grid = scanner_grid(head, spacing=(1.0, 1.0, 1.0), margin_mm=0.0)
        placed = {"head": place(head, motion, grid), "labels": place(head.with_array(labels), motion, grid, labels=True)}
        placed["mask"] = placed["labels"].with_array((placed["labels"].array > 0).astype(np.uint8))
        for tissue, array in maps.items():
            placed[tissue] = place(head.with_array(array.astype(np.float32)), motion, grid)
        write_volume(placed["head"], folder / f"{name}-real.nii.gz", overwrite=True)
        write_volume(placed["mask"], folder / f"{name}-mask.nii.gz", overwrite=True)
        write_volume(placed["labels"], folder / f"{name}-labels.nii.gz", overwrite=True)
        for tissue in maps:  # the tissue fractions the renderings are mixed from (the truth for probability maps)
            write_volume(placed[tissue], folder / f"{name}-{tissue}.nii.gz", overwrite=True)
        for kind, signals in RENDERINGS.items():
            image = render(placed["head"], placed, placed["mask"].array > 0, signals)
            write_volume(image, folder / f"{name}-{kind}.nii.gz", overwrite=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
