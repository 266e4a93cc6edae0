"""Reference tissue maps for a head with skull: the MNI ICBM152 2009a grey- and white-matter maps carried onto the
head by registration, inside the head's own intracranial mask.

No head with skull in the offline sources has expert tissue labels (DATA.md); this is the reference whose making
can be stated. Two registrations make it:

* ``bspline``: affine + B-spline with SimpleITK, as the atlas is built (the training heads' labels,
  train/head_labels.py);
* ``syn``: ANTs' SyN (affine, then symmetric diffeomorphic normalisation; ``antspyx``, the ``bench`` extra) of the
  MNI T1 onto the head inside its intracranial mask: the heads benchmark's reference since 2026-12-04. It follows
  one brain's folding onto another's far closer than a B-spline grid can: the best two intensity thresholds, chosen
  on each reference itself inside 711-2B (``bench_heads.best_threshold_tissues``, a measure of how far a reference
  agrees with the image, whoever's method is judged), reach a mean tissue Dice of 0.802 against the SyN reference as
  first built (antspy's default iterations; GM 0.843, WM 0.819) and 0.771 against the B-spline one (GM 0.774, WM
  0.751) on 711-2C. ANTs' registration is not
  bit-reproducible: two builds of it differed in 0.1 % of the labels.

  Since 2026-12-06 SyN iterates at full resolution too (``SYN_ITERATIONS``): antspy's default for "SyN" is 40 / 20 / 0
  iterations at a quarter, half and full resolution, so one brain's folding was matched to another's on a 2 mm image
  only. And it registers inside the box of the intracranial mask and 12 voxels around it (``SYN_MARGIN``), not on the
  whole 256^3 grid that is mostly zeros there. The two-threshold bound on 711-2C (the measure above, which no method
  enters): default iterations 0.803 (CSF 0.747, GM 0.844, WM 0.819; 94 s on 2 cores), 100 / 70 / 50 on the whole grid
  0.834 (0.788 / 0.865 / 0.848; 22 min), on the box 0.849 (0.812 / 0.874 / 0.862; 9 min): the box is what is built.

Cached in the data cache, since the registration takes minutes.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import SimpleITK as sitk

from ..errors import MedSRError
from ..geometry import Grid
from ..geometry.box import bounding_box
from ..io import read_volume, write_volume
from ..io.convert import sitk_from_volume
from ..sample_data import sample_path
from ..volume import Volume
from ..io.public_heads import cache_folder, load_head

#: SyN's iterations at a quarter, half and full resolution (antspy's default for "SyN": 40, 20, 0)
SYN_ITERATIONS = (100, 70, 50)
#: voxels kept around the intracranial mask for the registration
SYN_MARGIN = 12

TISSUES = {1: "cerebrospinal fluid", 2: "grey matter", 3: "white matter"}


def reference_tissues(head_name: str = "711-2c", mask_name: Optional[str] = "711-2b",
                      registration: str = "bspline") -> Dict[str, Volume]:
    """``{"csf", "gm", "wm"}`` probability maps (float32) and ``"labels"`` (0 background, 1 CSF, 2 GM, 3 WM) on the
    head's grid, and the ``"head"`` itself; CSF is the intracranial mask minus grey and white matter, as for the MNI
    template. The mask is the head's own (``mask_name``), or with None the atlas brain carried the same way (for a
    training head that has no mask of its own; ``bspline`` only). ``registration``: see the module's description."""
    if registration not in ("bspline", "syn") or (registration == "syn" and mask_name is None):
        raise ValueError(f"registration {registration!r} with mask {mask_name!r}: SyN needs the head's own mask")
    folder = cache_folder() / (f"reference-{head_name}" + ("-syn-full" if registration == "syn" else ""))
    names = ("csf", "gm", "wm", "labels")
    if all((folder / f"{n}.nii.gz").exists() for n in names):
        return dict({n: read_volume(folder / f"{n}.nii.gz") for n in names}, head=load_head(head_name))
    head_volume = load_head(head_name)
    if registration == "syn":
        inside = load_head(mask_name).array > 0
        maps = _carried_by_syn(head_volume, inside)
    else:
        maps, inside = _carried_by_bspline(head_volume, mask_name)
    total = maps["gm"] + maps["wm"]
    scale = np.where(total > 1, 1 / np.maximum(total, 1e-6), 1.0)
    maps["gm"], maps["wm"] = maps["gm"] * scale, maps["wm"] * scale
    maps["csf"] = np.where(inside, 1 - maps["gm"] - maps["wm"], 0).astype(np.float32)
    stack = np.stack([~inside, maps["csf"], maps["gm"], maps["wm"]]).astype(np.float32)
    stack[0] = np.where(inside, 0.0, 1.0)
    maps["labels"] = stack.argmax(axis=0).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    result = {}
    for name in names:
        result[name] = head_volume.with_array(maps[name])
        write_volume(result[name], folder / f"{name}.nii.gz", overwrite=True)
    return dict(result, head=head_volume)


def _carried_by_syn(head_volume: Volume, inside: np.ndarray) -> Dict[str, np.ndarray]:
    """The MNI GM and WM maps (0-1) on the head's grid, carried by ANTs SyN of the MNI T1 onto the head's
    intracranial part (``inside``), zero outside it."""
    try:
        import ants
    except ImportError:
        raise MedSRError("the SyN tissue reference is made with ANTs, which is not installed: pip install -e '.[bench]'")

    def to_ants(grid: Grid, array: np.ndarray):  # ANTs and the Volume share ITK's LPS geometry and (i, j, k) order
        return ants.from_numpy(np.ascontiguousarray(array, dtype=np.float32), origin=tuple(grid.origin),
                               spacing=tuple(grid.spacing), direction=grid.direction_matrix)

    intracranial = np.where(inside, head_volume.as_float32(), 0.0)
    fixed = to_ants(head_volume.grid, intracranial)
    box = bounding_box(inside, SYN_MARGIN)
    corner = head_volume.grid.ijk_to_lps() @ np.array([s.start for s in box] + [1], dtype=np.float64)
    boxed = Grid(tuple(s.stop - s.start for s in box), head_volume.grid.spacing, tuple(corner[:3]),
                 head_volume.grid.direction)
    mni = read_volume(sample_path("t1"))
    fit = ants.registration(to_ants(boxed, intracranial[box]), to_ants(mni.grid, mni.as_float32()),
                            type_of_transform="SyN", reg_iterations=SYN_ITERATIONS)
    maps = {}
    for name in ("gm", "wm"):
        tissue = read_volume(sample_path(name))
        carried = ants.apply_transforms(fixed, to_ants(tissue.grid, tissue.as_float32()), fit["fwdtransforms"],
                                        interpolator="linear").numpy()
        peak = max(float(tissue.array.max()), 1e-6)
        maps[name] = np.where(inside, np.clip(carried / peak, 0, 1), 0).astype(np.float32)
    return maps


def _carried_by_bspline(head_volume: Volume, mask_name: Optional[str]):
    """(the MNI GM and WM maps on the head's grid, carried by affine + B-spline, zero outside the mask; the mask)."""
    from .atlas import load_atlas, register_head_onto_mni

    head = sitk.Cast(sitk_from_volume(head_volume), sitk.sitkFloat32)
    mni = sitk.Cast(sitk_from_volume(read_volume(sample_path("t1"))), sitk.sitkFloat32)
    affine, bspline, _, _ = register_head_onto_mni(head, mni)
    # the inverse: head -> MNI, the affine inverted exactly, the B-spline through its displacement field
    grid = sitk.Image([110, 130, 150], sitk.sitkFloat32)
    grid.SetSpacing((2.0, 2.0, 2.0))
    grid.SetDirection(mni.GetDirection())
    grid.SetOrigin((110.0, 150.0, -180.0))
    field = sitk.TransformToDisplacementField(bspline, sitk.sitkVectorFloat64, grid.GetSize(), grid.GetOrigin(),
                                              grid.GetSpacing(), grid.GetDirection())
    inverse_field = sitk.InvertDisplacementField(field, maximumNumberOfIterations=50, maxErrorToleranceThreshold=0.05,
                                                 meanErrorToleranceThreshold=0.001, enforceBoundaryCondition=True)
    head_to_mni = sitk.CompositeTransform([sitk.DisplacementFieldTransform(inverse_field), affine.GetInverse()])
    if mask_name is None:
        carried = sitk.Resample(load_atlas().brain, head, head_to_mni, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        inside = sitk.GetArrayFromImage(carried).T > 0.5
    else:
        inside = load_head(mask_name).array > 0
    maps = {}
    for name in ("gm", "wm"):
        image = sitk.Cast(sitk_from_volume(read_volume(sample_path(name))), sitk.sitkFloat32)
        carried = sitk.GetArrayFromImage(sitk.Resample(image, head, head_to_mni, sitk.sitkLinear, 0.0, sitk.sitkFloat32)).T
        peak = max(float(sitk.GetArrayViewFromImage(image).max()), 1e-6)
        maps[name] = np.where(inside, np.clip(carried / peak, 0, 1), 0).astype(np.float32)
    return maps, inside
