"""Which contrast a head scan has, read where the placed atlas expects each tissue.

A T1-weighted brain is brightest in white matter, darker in grey matter and darkest in the cerebrospinal fluid;
T2- and PD-weighted brains reverse that order, and FLAIR puts grey matter above white. The order is read from the
scan itself, on the 3 mm image the atlas was registered to, as the median intensity of the voxels inside the
placed atlas's brain where the carried MNI map gives one tissue at least ``PURE`` probability (deep white matter,
cortex and the ventricles): no file name or header is trusted.

strip/extract.py uses it to decide how much say the T1 network (deepbet: trained on T1-weighted heads only) has
in the brain mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
import SimpleITK as sitk

from ..geometry.sitk_grid import grid_of
from .priors import tissue_priors

#: a voxel of the 3 mm image is taken as one tissue's where the carried (unblurred) map gives it this much
PURE = 0.8
#: fewer voxels than this of any tissue: the order is not read (a field of view that misses the ventricles)
MIN_VOXELS = 50


@dataclass(frozen=True)
class TissueContrast:
    #: median intensity of CSF, grey and white matter (the scan's units); NaN where fewer than MIN_VOXELS were pure,
    #: and then the scan is not taken as T1-weighted (the T1 network gets the smaller share: in doubt, less say)
    medians: Tuple[float, float, float]
    t1_weighted: bool

    def describe(self) -> str:
        order = "T1-weighted (white > grey matter > CSF)" if self.t1_weighted else "not T1-weighted"
        return (f"{order}: median intensity CSF {self.medians[0]:.4g}, grey matter {self.medians[1]:.4g}, "
                f"white matter {self.medians[2]:.4g}")


def tissue_contrast(coarse_scan: sitk.Image, atlas_brain: sitk.Image, transform: sitk.Transform) -> TissueContrast:
    """The tissue order of ``coarse_scan`` (the 3 mm image registered to the atlas; ``transform`` maps its points
    into the atlas's, whose brain probability is ``atlas_brain``)."""
    priors = tissue_priors(transform, grid_of(coarse_scan), smoothing_mm=0.0)
    brain = sitk.GetArrayFromImage(sitk.Resample(atlas_brain, coarse_scan, transform, sitk.sitkLinear, 0.0,
                                                 sitk.sitkFloat32)).T > 0.5
    image = sitk.GetArrayFromImage(coarse_scan).T
    medians = []
    for prior in priors:
        values = image[brain & (prior >= PURE)]
        medians.append(float(np.median(values)) if values.size >= MIN_VOXELS else float("nan"))
    csf, grey, white = medians
    return TissueContrast((csf, grey, white), bool(white > grey > csf))
