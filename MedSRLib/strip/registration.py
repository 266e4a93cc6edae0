"""Affine registration of the head atlas onto a scan with SimpleITK (Mattes mutual information: any contrast).

Mutual information only asks that the scan's intensities be predictable from the atlas's, so one T1-weighted
atlas registers T1-, T2- and PD-like scans alike. The search is coarse-to-fine: a rigid fit from several
starting heights (a field of view may hold the neck and shoulders or end at the chin, which moves the head's
centre of mass by centimetres), then an affine fit of the whole head at 3 mm, then an affine fit at 2 mm that
counts only the atlas brain and 12 mm around it, so the face and neck no longer pull the brain out of place.
A fit that needs scales no real head has, or whose atlas explains too little of the scan, gives way to another
placement of the search (fit_atlas).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import SimpleITK as sitk

from ..progress import SILENT, Progress

#: heights (mm, along the scan's superior axis) from which the rigid search starts
START_HEIGHTS_MM = (-45.0, -30.0, -15.0, 0.0, 15.0, 30.0)
#: ... and, when the placement these reach is in doubt, from tilts too (degrees about the left-right axis: a head
#: bent forwards or backwards in the coil)
TILTED_PITCHES_DEG = (-25.0, 25.0)
#: a fit whose placed atlas explains this share of the scan's intensity variance in the brain (explained_variance)
#: or more is not in doubt. Measured (2026-12-05): heads placed right 0.36-0.65 (ITK's real subject 0.365-0.38,
#: the mni305 tuning head 0.46-0.49); mni305 tilted by 20-30 degrees forwards and placed that far off 0.26-0.34;
#: placements 45 mm or 25 degrees off 0.08-0.12
CONFIDENT_EXPLAINED = 0.35
#: in doubt, another placement is taken only if its atlas explains this much more
SWITCH_MARGIN = 0.1
#: placements that the rigid search reached more than this far apart (mm) are each fitted fully (at most MAX_REFINED;
#: MAX_IN_DOUBT in doubt)
DISTINCT_MM = 20.0
MAX_REFINED = 3
MAX_IN_DOUBT = 3
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


def distinct_placements(searched, centre: np.ndarray, at_most: Optional[int] = None) -> list:
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
    return kept[:at_most or MAX_REFINED]


def fit_atlas(scan: sitk.Image, atlas, progress: Progress = SILENT,
              start_heights: Sequence[float] = START_HEIGHTS_MM) -> AtlasFit:
    """The affine transform that carries ``atlas`` (strip.atlas.Atlas) onto ``scan`` (see the module's description).

    The search's best placement is fitted through every stage; when that fit needs atlas scales no real head has
    (ATLAS_SCALE), the next distinct placement of the search is (distinct_placements), and so on. A plausible fit
    whose atlas explains CONFIDENT_EXPLAINED of the scan or more is kept: every whole head measured upright is placed
    so, exactly as before these fallbacks. Otherwise the fit is in doubt: the search starts again from tilted heads
    too (TILTED_PITCHES_DEG), the distinct placements are fitted, and the plausible one whose atlas explains the most
    is taken if it explains SWITCH_MARGIN more; with no plausible fit at all, the search's best."""
    coarse_scan, coarse_atlas = smooth_to_spacing(scan, 3.0), atlas.head_at(3.0)
    scan_centre, atlas_centre = head_centre(coarse_scan), head_centre(coarse_atlas)

    def search(pitches, part: Progress) -> list:
        found = []
        starts = [(pitch, height) for pitch in pitches for height in start_heights]
        for index, (pitch, height) in enumerate(starts):
            part.update(index / len(starts), "placing the atlas: rigid search")
            rigid = sitk.Euler3DTransform()
            rigid.SetCenter(tuple(scan_centre))
            rigid.SetRotation(float(np.radians(pitch)), 0.0, 0.0)
            rigid.SetTranslation(tuple(atlas_centre - scan_centre + np.array([0.0, 0.0, height])))
            found.append((register(coarse_scan, coarse_atlas, rigid, 25, 0.1), rigid))
        return found

    fitted = {}  # id(rigid) -> (fit, share of the scan's variance its atlas explains)

    def fit(rigid, part: Progress):
        result = _fit_from(rigid, scan, coarse_scan, coarse_atlas, atlas, part)
        fitted[id(rigid)] = (result, explained_variance(result.coarse_scan, atlas, result.transform))
        return fitted[id(rigid)]

    searched = search((0.0,), progress.sub(0.05, 0.35))
    first = chosen = None
    for index, rigid in enumerate(distinct_placements(searched, scan_centre)):
        chosen = fit(rigid, progress.sub(0.35 + 0.4 * (1 - 0.5 ** index), 0.35 + 0.4 * (1 - 0.5 ** (index + 1))))
        first = first or chosen
        if is_plausible(chosen[0].scales):
            break
    if is_plausible(chosen[0].scales) and chosen[1] >= CONFIDENT_EXPLAINED:
        progress.update(1.0, "atlas placed")
        return chosen[0]
    progress.update(0.75, "placing the atlas: in doubt, searching from tilted heads too")
    searched += search(TILTED_PITCHES_DEG, progress.sub(0.75, 0.85))
    others = [rigid for rigid in distinct_placements(searched, scan_centre, MAX_IN_DOUBT) if id(rigid) not in fitted]
    for index, rigid in enumerate(others):  # through every stage: the brain stage changes the share explained most
        fit(rigid, progress.sub(0.85 + 0.15 * index / len(others), 0.85 + 0.15 * (index + 1) / len(others)))
    plausible = [pair for pair in fitted.values() if is_plausible(pair[0].scales)]
    progress.update(1.0, "atlas placed")
    if not plausible:
        return first[0]
    best = max(plausible, key=lambda pair: pair[1])
    if not is_plausible(chosen[0].scales) or best[1] >= chosen[1] + SWITCH_MARGIN:
        chosen = best
    return chosen[0]


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


def explained_variance(coarse: sitk.Image, atlas, transform: sitk.Transform, bins: int = 16, margin_voxels: int = -2) -> float:
    """Correlation ratio: the share of the ``coarse`` scan's (3 mm) intensity variance inside the placed atlas brain (eroded
    by ``-margin_voxels`` voxels, or dilated by ``margin_voxels``) that the atlas head's intensity predicts. Any
    contrast mapping (T1, T2, PD) is predicted equally well: what counts is that ventricles, white and grey matter
    lie where the atlas has them. Noise, or shapes with the outline of a head but not its inside, are not."""
    head = sitk.GetArrayFromImage(sitk.Resample(atlas.head, coarse, transform, sitk.sitkLinear, -1.0, sitk.sitkFloat32))
    brain = sitk.Resample(atlas.brain, coarse, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32) > 0.5
    brain = sitk.Cast(brain, sitk.sitkUInt8)
    changed = sitk.BinaryDilate(brain, [margin_voxels] * 3) if margin_voxels > 0 else sitk.BinaryErode(brain, [-margin_voxels] * 3)
    region = sitk.GetArrayFromImage(changed) > 0
    region &= head >= 0  # inside the atlas's field of view
    values = sitk.GetArrayFromImage(coarse)[region].astype(np.float64)
    predictors = head[region]
    if values.size < 100 or values.var() <= 0:
        return 0.0
    edges = np.unique(np.quantile(predictors, np.linspace(0, 1, bins + 1)[1:-1]))
    groups = np.digitize(predictors, edges)
    counts = np.bincount(groups)
    sums = np.bincount(groups, values)
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    within = np.sum((values - means[groups]) ** 2)
    return float(1.0 - within / np.sum((values - values.mean()) ** 2))
