"""Tissue priors of the placed head atlas: the MNI ICBM152 2009a CSF, grey- and white-matter maps (the atlas's own
space) carried onto a scan's grid through the transform that placed the atlas on it.

These are the spatial priors of classical tissue classification (SPM's unified segmentation, FAST, Atropos): where
each tissue is expected, whatever the contrast. Carried by an affine fit they are sharp where one brain is not like
another, so they are blurred (``SMOOTHING_MM``) as SPM's tissue probability maps are blurred averages.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..geometry import Grid
from ..geometry.sitk_grid import reference_image

#: Gaussian blur (mm, standard deviation) of the carried maps: how far one brain's tissue lies from the atlas's
SMOOTHING_MM = 2.0

_MAPS = {}


def _mni_maps():
    """(GM, WM) of the bundled MNI template as float32 images in [0, 1], read once per process."""
    if not _MAPS:
        from ..io import read_volume
        from ..io.convert import sitk_from_volume
        from ..sample_data import sample_path

        for name in ("gm", "wm"):
            image = sitk.Cast(sitk_from_volume(read_volume(sample_path(name))), sitk.sitkFloat32)
            _MAPS[name] = image / 255.0
    return _MAPS["gm"], _MAPS["wm"]


def tissue_priors(transform: sitk.Transform, grid: Grid, smoothing_mm: float = SMOOTHING_MM) -> np.ndarray:
    """(3, *grid.size) float32: the prior probability of CSF, grey and white matter at each voxel of ``grid``
    (``transform`` maps the grid's world points into the atlas's, as :class:`strip.registration.AtlasFit` holds it).

    CSF is everything that is not grey or white matter: the labels are confined to the brain mask (the intracranial
    space), and whatever of it the brain does not fill is CSF, the convention of intracranial masks and of
    SPM's and SynthSeg's CSF classes. So where the brain mask reaches beyond the atlas's brain (whose edge is the
    brain's surface, not the skull's inner table) the prior expects CSF, not "any tissue"."""
    gm_map, wm_map = _mni_maps()
    reference = reference_image(grid)
    carried = []
    for image in (gm_map, wm_map):
        moved = sitk.Resample(image, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        if smoothing_mm > 0:
            moved = sitk.SmoothingRecursiveGaussian(moved, [smoothing_mm] * 3)
        carried.append(np.clip(sitk.GetArrayFromImage(moved).T, 0.0, 1.0))
    gm, wm = carried
    total = gm + wm
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-6), 1.0)
    gm, wm = gm * scale, wm * scale
    return np.stack([np.clip(1.0 - gm - wm, 0.0, None), gm, wm]).astype(np.float32, copy=False)
