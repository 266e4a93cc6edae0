"""Classical enhancement with SimpleITK filters: bias field, edge-preserving smoothing, contrast."""

from __future__ import annotations

from typing import Optional

import numpy as np
import SimpleITK as sitk

from ..errors import MedSRError
from ..io.convert import sitk_from_volume
from ..progress import Progress
from ..volume import Volume
from .registry import Method, register


def _as_float_image(volume: Volume) -> sitk.Image:
    return sitk.Cast(sitk_from_volume(volume), sitk.sitkFloat32)


def _result(volume: Volume, image: sitk.Image, step: str) -> Volume:
    array = sitk.GetArrayFromImage(image).T.astype(np.float32, copy=False)
    steps = ",".join(filter(None, [volume.metadata.get("enhance"), step]))
    return volume.with_array(array, enhance=steps)


def _watch(filter_, progress: Progress, text: str):
    """Forward an ITK filter's progress and stop it when the caller cancels."""

    def on_progress():
        progress.update(filter_.GetProgress(), text)

    def check():
        if progress.cancelled():
            filter_.Abort()

    filter_.AddCommand(sitk.sitkProgressEvent, on_progress)
    filter_.AddCommand(sitk.sitkIterationEvent, check)
    filter_.AddCommand(sitk.sitkProgressEvent, check)
    return filter_


def _execute(filter_, progress: Progress, text: str, *images):
    _watch(filter_, progress, text)
    try:
        return filter_.Execute(*images)
    except RuntimeError as error:
        progress.check_cancel()  # an abort we asked for surfaces as Cancelled
        raise MedSRError(f"{text} failed: {str(error).strip().splitlines()[-1]}") from None


def n4(volume: Volume, progress: Progress, shrink: int = 4, iterations: int = 50, inside: Optional[np.ndarray] = None,
       levels: int = 4) -> Volume:
    """N4 bias-field correction, fitted on a shrunk copy inside an Otsu head mask (or ``inside``, a boolean array on
    the volume's grid: the brain mask when segmentation corrects the brain alone), applied at full resolution."""
    if volume.modality == "CT":
        raise MedSRError("N4 corrects MR intensity inhomogeneity; CT in Hounsfield units has no bias field")
    image = _as_float_image(volume)
    if sitk.GetArrayViewFromImage(image).min() < 0:
        raise MedSRError("N4 needs non-negative intensities (an MR magnitude image)")
    mask = sitk.OtsuThreshold(image, 0, 1, 200) if inside is None else sitk_from_volume(volume, inside.astype(np.uint8))
    small = sitk.Shrink(image, [shrink] * 3)
    small_mask = sitk.Shrink(mask, [shrink] * 3)
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([iterations] * levels)
    _execute(corrector, progress, "N4 bias-field correction", small, small_mask)
    log_field = corrector.GetLogBiasFieldAsImage(image)
    corrected = image / sitk.Exp(log_field)
    # the field's overall scale is arbitrary: keep the mean inside the mask, so intensities stay comparable
    stats_in, stats_out = sitk.LabelStatisticsImageFilter(), sitk.LabelStatisticsImageFilter()
    stats_in.Execute(image, mask)
    stats_out.Execute(corrected, mask)
    corrected = corrected * (stats_in.GetMean(1) / stats_out.GetMean(1))
    return _result(volume, corrected, "n4")


def _diffusion_time_step(volume: Volume) -> float:
    # stable explicit step for 3-D diffusion is min spacing / 2^(d+1)
    return min(volume.grid.spacing) / 16.0


def gradient_diffusion(volume: Volume, progress: Progress, iterations: int = 5, conductance: float = 1.0) -> Volume:
    """Perona-Malik gradient anisotropic diffusion: smooths within tissues, stops at edges."""
    f = sitk.GradientAnisotropicDiffusionImageFilter()
    f.SetTimeStep(_diffusion_time_step(volume))
    f.SetNumberOfIterations(iterations)
    f.SetConductanceParameter(conductance)
    return _result(volume, _execute(f, progress, "gradient anisotropic diffusion", _as_float_image(volume)), "gradient-diffusion")


def curvature_diffusion(volume: Volume, progress: Progress, iterations: int = 5, conductance: float = 1.0) -> Volume:
    """Curvature anisotropic diffusion (modified curvature diffusion equation)."""
    f = sitk.CurvatureAnisotropicDiffusionImageFilter()
    f.SetTimeStep(_diffusion_time_step(volume))
    f.SetNumberOfIterations(iterations)
    f.SetConductanceParameter(conductance)
    return _result(volume, _execute(f, progress, "curvature anisotropic diffusion", _as_float_image(volume)), "curvature-diffusion")


def curvature_flow(volume: Volume, progress: Progress, iterations: int = 5) -> Volume:
    """Curvature flow: level sets move by their curvature, removing noise while keeping edges."""
    f = sitk.CurvatureFlowImageFilter()
    f.SetTimeStep(_diffusion_time_step(volume))
    f.SetNumberOfIterations(iterations)
    return _result(volume, _execute(f, progress, "curvature flow", _as_float_image(volume)), "curvature-flow")


def histogram_equalization(volume: Volume, progress: Progress, alpha: float = 0.3, beta: float = 0.3, radius: int = 2) -> Volume:
    """Adaptive histogram equalisation (alpha 0 = classical equalisation, 1 = unsharp mask)."""
    image = _as_float_image(volume)
    f = sitk.AdaptiveHistogramEqualizationImageFilter()
    f.SetAlpha(alpha)
    f.SetBeta(beta)
    f.SetRadius([radius] * 3)
    return _result(volume, _execute(f, progress, "adaptive histogram equalisation", image), "histogram")


for _name, _fn, _options in [
    ("n4", n4, {"shrink": "shrink factor for the fit (4)", "iterations": "iterations per level (50)"}),
    ("gradient-diffusion", gradient_diffusion, {"iterations": "5", "conductance": "1.0"}),
    ("curvature-diffusion", curvature_diffusion, {"iterations": "5", "conductance": "1.0"}),
    ("curvature-flow", curvature_flow, {"iterations": "5"}),
    ("histogram", histogram_equalization, {"alpha": "0.3", "beta": "0.3", "radius": "2 voxels"}),
]:
    register(Method(name=_name, task="enhance", run=_fn, summary=(_fn.__doc__ or "").strip().splitlines()[0], options=_options))
