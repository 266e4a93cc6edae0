"""Affine registration of the head atlas onto a scan with SimpleITK (Mattes mutual information: any contrast).

Mutual information only asks that the scan's intensities be predictable from the atlas's, so one T1-weighted
atlas registers T1-, T2- and PD-like scans alike. The search is coarse-to-fine: a rigid fit from several
starting heights (a field of view may hold the neck and shoulders or end at the chin, which moves the head's
centre of mass by centimetres; every distinct placement the short fits reach is fitted fully), then an affine fit of the whole head at 3 mm, then an affine fit at 2 mm that
counts only the atlas brain and 12 mm around it, so the face and neck no longer pull the brain out of place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import SimpleITK as sitk

from ..progress import SILENT, Progress

#: heights (mm, along the scan's superior axis) from which the rigid search starts
START_HEIGHTS_MM = (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0)
#: placements that the rigid search reached more than this far apart (mm) are each fitted fully (at most MAX_REFINED)
DISTINCT_MM = 20.0
MAX_REFINED = 3
#: the atlas may be scaled by at most this much (either way) to fit a head
ATLAS_SCALE = (0.75, 1.35)
#: the brain-focused stage counts the atlas brain and this margin around it (mm)
BRAIN_MARGIN_MM = 12.0


@dataclass
class AtlasFit:
    transform: sitk.Transform          # maps scan points (LPS mm) to atlas points
    metric: float                      # Mattes mutual information of the last stage (negative: better)
    scales: tuple                      # singular values of the affine matrix (atlas size over scan size)
    coarse_scan: sitk.Image            # the scan smoothed onto 3 mm, as registered


def smooth_to_spacing(image: sitk.Image, spacing: float) -> sitk.Image:
    """``image`` on a grid of ``spacing`` mm (same field of view and direction), smoothed first so that no
    detail finer than the new voxels aliases into it."""
    old = np.asarray(image.GetSpacing())
    sigmas = [max(spacing - s, 0.0) / 2.355 + 1e-3 for s in old]
    smoothed = sitk.SmoothingRecursiveGaussian(sitk.Cast(image, sitk.sitkFloat32), sigmas)
    size = [max(1, int(round(n * s / spacing))) for n, s in zip(image.GetSize(), old)]
    direction = np.asarray(image.GetDirection()).reshape(3, 3)
    origin = np.asarray(image.GetOrigin()) + direction @ ((spacing - old) / 2.0)
    return sitk.Resample(smoothed, size, sitk.Transform(), sitk.sitkLinear, tuple(origin), (spacing,) * 3,
                         image.GetDirection(), 0.0, sitk.sitkFloat32)


def register(fixed: sitk.Image, moving: sitk.Image, transform: sitk.Transform, iterations: int,
             sampling: float, fixed_mask: Optional[sitk.Image] = None) -> float:
    """Optimise ``transform`` in place (gradient descent, learning rate re-estimated every step, steps of at most
    2 mm); returns the final metric value."""
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(sampling, 1)  # fixed seed: the same scan always gives the same mask
    method.SetInterpolator(sitk.sitkLinear)
    if fixed_mask is not None:
        method.SetMetricFixedMask(fixed_mask)
    method.SetOptimizerAsGradientDescent(learningRate=1.0, numberOfIterations=iterations, convergenceMinimumValue=1e-6,
                                         convergenceWindowSize=10, estimateLearningRate=method.EachIteration,
                                         maximumStepSizeInPhysicalUnits=2.0)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetInitialTransform(transform, inPlace=True)
    method.Execute(fixed, moving)
    return float(method.GetMetricValue())


def head_centre(image: sitk.Image) -> np.ndarray:
    """World centre (LPS mm) of the voxels brighter than 30 % of the median non-zero voxel."""
    array = sitk.GetArrayViewFromImage(image)
    positive = array[array > 0]
    threshold = 0.3 * float(np.median(positive)) if positive.size else 0.0
    mask = sitk.Cast(image > threshold, sitk.sitkUInt8)
    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.Execute(mask)
    if not shape.HasLabel(1):
        return np.asarray(image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()]))
    return np.asarray(shape.GetCentroid(1))


def distinct_placements(searched, centre: np.ndarray) -> list:
    """The rigid placements of ``searched`` ((metric, transform) pairs from the short search) that differ from each
    other, best first, at most MAX_REFINED: two differ when some point within 60 mm of ``centre`` lands more than
    DISTINCT_MM apart. The short search can rank a wrong placement first, and so can a full fit: ITK's KmeansTest
    subject with its field of view ending at the top of the skull, just above the brain, ranked a placement 45 mm
    too low first after 25 steps (Mattes MI -0.329 against -0.321), and, cut 20 mm into the brain, after 100 steps
    too (-0.385 against -0.352); the affine fit then scaled the atlas by 0.70 and the scan was refused as no head.
    The metric cannot choose between placements (their samples differ), the scales can: the wrong placement needs
    scales no real head has, and fit_atlas moves on to the next."""
    probes = [np.asarray(centre, np.float64) + offset for offset in
              ([0.0, 0.0, 0.0], [60.0, 0.0, 0.0], [0.0, 60.0, 0.0], [0.0, 0.0, 60.0])]
    kept = []
    for _, rigid in sorted(searched, key=lambda pair: pair[0]):
        if all(max(np.linalg.norm(np.subtract(rigid.TransformPoint(tuple(p)), other.TransformPoint(tuple(p))))
                   for p in probes) > DISTINCT_MM for other in kept):
            kept.append(rigid)
    return kept[:MAX_REFINED]


def fit_atlas(scan: sitk.Image, atlas, progress: Progress = SILENT,
              start_heights: Sequence[float] = START_HEIGHTS_MM) -> AtlasFit:
    """The affine transform that carries ``atlas`` (strip.atlas.Atlas) onto ``scan`` (see the module's description).

    The search's best placement is fitted through every stage; when that fit needs atlas scales no real head has
    (ATLAS_SCALE), the next distinct placement of the search is (distinct_placements), and so on; the first plausible
    fit is kept, else the search's best. A scan whose best placement fits (every whole head measured) is placed
    exactly as before this fallback."""
    coarse_scan, coarse_atlas = smooth_to_spacing(scan, 3.0), atlas.head_at(3.0)
    scan_centre, atlas_centre = head_centre(coarse_scan), head_centre(coarse_atlas)
    searched = []
    for index, height in enumerate(start_heights):
        progress.update(0.05 + 0.3 * index / len(start_heights), "placing the atlas: rigid search")
        rigid = sitk.Euler3DTransform()
        rigid.SetCenter(tuple(scan_centre))
        rigid.SetTranslation(tuple(atlas_centre - scan_centre + np.array([0.0, 0.0, height])))
        searched.append((register(coarse_scan, coarse_atlas, rigid, 25, 0.1), rigid))
    fits = []
    for rigid in distinct_placements(searched, scan_centre):
        begin = 0.35 + 0.65 * (1 - 0.5 ** len(fits))  # each further placement in half the progress left
        end = 0.35 + 0.65 * (1 - 0.5 ** (len(fits) + 1))
        fits.append(_fit_from(rigid, scan, coarse_scan, coarse_atlas, atlas, progress.sub(begin, end)))
        if is_plausible(fits[-1].scales):
            break
    progress.update(1.0, "atlas placed")
    return fits[-1] if is_plausible(fits[-1].scales) else fits[0]


def is_plausible(scales) -> bool:
    """Whether an affine fit's singular values (atlas size over scan size) fit a real head (ATLAS_SCALE)."""
    low, high = ATLAS_SCALE
    return all(low <= 1.0 / s <= high for s in scales)


def _fit_from(rigid: sitk.Euler3DTransform, scan: sitk.Image, coarse_scan: sitk.Image, coarse_atlas: sitk.Image,
              atlas, progress: Progress) -> AtlasFit:
    """From one placement of the rigid search: the rigid fit, the affine fit of the head at 3 mm, the affine fit of
    the brain at 2 mm."""
    progress.update(0.0, "placing the atlas: rigid fit")
    register(coarse_scan, coarse_atlas, rigid, 100, 0.2)
    affine = sitk.AffineTransform(3)
    affine.SetCenter(rigid.GetCenter())
    affine.SetMatrix(rigid.GetMatrix())
    affine.SetTranslation(rigid.GetTranslation())
    progress.update(0.3, "placing the atlas: affine fit of the head")
    register(coarse_scan, coarse_atlas, affine, 200, 0.2)
    progress.update(0.6, "placing the atlas: affine fit of the brain")
    fine_scan, fine_atlas = smooth_to_spacing(scan, 2.0), atlas.head_at(2.0)
    brain = sitk.Resample(atlas.brain, fine_scan, affine, sitk.sitkLinear, 0.0, sitk.sitkFloat32) > 0.5
    radius = int(round(BRAIN_MARGIN_MM / 2.0))
    around_brain = sitk.BinaryDilate(sitk.Cast(brain, sitk.sitkUInt8), [radius] * 3)
    metric = register(fine_scan, fine_atlas, affine, 200, 0.3, fixed_mask=around_brain)
    scales = tuple(float(s) for s in np.linalg.svd(np.asarray(affine.GetMatrix()).reshape(3, 3), compute_uv=False))
    return AtlasFit(affine, metric, scales, coarse_scan)
