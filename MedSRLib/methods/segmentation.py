"""Brain-tissue segmentation with a catalog model: labels on the input grid (or the super-resolved one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import SimpleITK as sitk
import torch

from ..errors import MedSRError
from ..geometry import bounding_box, resample_to_grid
from ..inference import InferenceReport, predict
from ..io.convert import sitk_from_volume
from ..metrics.labels import looks_like_labels
from ..models.onnx_backend import load_network
from ..progress import SILENT, Progress
from ..volume import Volume, check_finite
from .classical_enhance import n4
from .intensity_model import IntensityFit, refine_with_intensity_model

DEFAULT_MODEL = "brain-tissue"
#: N4's resolutions before labelling: 3 (16 control points per axis at the finest, about 16 mm apart on a head)
BIAS_LEVELS = 3
#: the network runs on the brain mask's bounding box widened by this many voxels (the rest is background)
BOX_MARGIN_VOXELS = 8
#: where CSF and grey matter lie apart in intensity (``MIN_CSF_SEPARATION``) in a scan labelled with the atlas's tissue
#: maps as prior, CSF's posterior is weighed by this before the labels are taken (the posteriors renormalised: a prior
#: ten times lower). The maps are a population's average and their CSF is whatever grey and white matter leave, so
#: they expect CSF wherever brains differ (sulci, the cortex's edge); the cortex's partial-volume voxels there lie
#: between CSF's and grey matter's intensities, and the prior gave them to CSF: on the tuning heads (mni305 and 3T18yo
#: placed anew, SyN-made references; not validation heads) 275 / 411 mL of CSF for references of 219 / 283 mL
#: (T1-like rendering, real T1). Mean tissue Dice with medsr's own mask, factor 1 -> 0.2 / 0.1 / 0.05: mni305 T1-like
#: 0.861 -> 0.881 / 0.884 / 0.883, real 0.693 -> 0.700 / 0.702 / 0.703; 3T18yo T1-like 0.832 -> 0.859 / 0.866 / 0.871,
#: real 0.665 -> 0.694 / 0.701 / 0.706; T2-like renderings (1 -> 0.1) mni305 0.815 -> 0.838, 3T18yo 0.828 -> 0.851.
CSF_PRIOR_SCALE = 0.1
#: ... in a T1-weighted scan (the fit finds CSF < grey < white matter), and in any other where the fitted CSF and
#: grey-matter means lie at least this many summed spreads apart: in a PD-like image they lie close (CSF just above
#: grey matter), the fit's CSF is already lean (mni305 198 mL for 219), and weighing it down cost what it gained
#: elsewhere (mni305 PD-like 0.782 -> 0.664, 3T18yo 0.800 -> 0.715). Measured on the tuning heads (own mask): real T1
#: 1.60 / 1.29, T1-like 1.42 / 1.40, T2-like 1.47 / 1.57, PD-like 0.57 / 0.59 (mni305 / 3T18yo); 1.0 lies between.
#: (The T1 order alone was the rule until 2026-12-05 16:20 UTC; T1s keep it, whatever their separation.)
MIN_CSF_SEPARATION = 1.0


@dataclass
class Segmentation:
    labels: Volume
    names: Dict[int, str]
    colours: Dict[int, tuple]
    volumes_ml: Dict[str, float]
    model: Dict
    report: Optional[InferenceReport] = None
    instances: Optional[Volume] = None
    instance_table: List[Dict] = field(default_factory=list)
    intensity_fit: Optional[IntensityFit] = None
    #: how the input was super-resolved before segmentation (``super_resolution``), else None
    super_resolved_by: Optional[str] = None
    #: the intracranial volume inside the brain mask the labels were confined to (mL), and where that mask came from
    intracranial_ml: Optional[float] = None
    brain_mask_source: Optional[str] = None
    brain_evidence: Dict = field(default_factory=dict)
    #: whether N4 corrected the bias field inside the brain mask before labelling
    bias_corrected: bool = False
    #: the tissues' probability maps (float32, 0-1, zero outside the brain mask) on the labels' grid, by label value;
    #: kept only when asked (``segment(..., keep_probabilities=True)``)
    probabilities: Dict[int, Volume] = field(default_factory=dict)


def segment(
    volume: Volume,
    model: str = DEFAULT_MODEL,
    on_working_grid: bool = False,
    device: str = "auto",
    instances_of: Sequence[int] = (),
    progress: Progress = SILENT,
    backend: str = "torch",
    intensity_model: bool = True,
    super_resolution: Optional[str] = None,
    brain_mask: Union[str, Volume, None] = "auto",
    atlas_priors: bool = True,
    bias_correction: bool = True,
    keep_probabilities: bool = False,
    slice_profile: Optional[str] = None,
) -> Segmentation:
    """Label ``volume`` with catalog model ``model``.

    The network works at the model's spacing (1 mm): the input is resampled
    onto that grid of the same field of view (resampling contract), segmented
    patch-wise, and the class probabilities are brought back to the input grid
    before the most probable label is taken. ``on_working_grid`` keeps the
    labels on the finer working grid instead.

    ``intensity_model``: refine the network's probabilities with a Gaussian
    intensity model of the tissues fitted to this image (methods/intensity_model).
    With a brain mask and the fit applied, every voxel of the mask is then CSF, grey or white matter: the fit weighs
    each voxel by the network's tissue share, and after it the mask's voxels take the tissue their intensity and
    prior make most likely (edge voxels the network called background included). Tuning head 3T18yo placed (not a validation head): mean
    tissue Dice T1 0.690 -> 0.692, T1-like 0.850 -> 0.851, T2-like 0.812 -> 0.814, PD-like 0.699 -> 0.701. (Letting
    the mask decide before the fit, all voxels then weighing fully in it, was tried and reverted on 2026-12-03: on
    the held-out head its PD-like Dice fell 0.764 -> 0.676.)
    ``atlas_priors``: when the head atlas is placed on the scan (``brain_mask`` "auto", or a given mask, for which
    the atlas is placed for this alone), its tissue maps are the intensity model's prior (strip/priors.py).
    ``bias_correction``: with a brain mask, N4 bias-field correction inside it before labelling (an intensity model
    of one Gaussian per tissue assumes a flat field).
    ``keep_probabilities``: keep each tissue's probability map (the posterior whose largest value gives the label,
    as SPM's c1/c2/c3 and SynthSeg's posteriors; zero outside the brain mask) in ``Segmentation.probabilities``.
    ``super_resolution``: first super-resolve the input onto the model's
    spacing with this super-resolution method (``auto``: the method the held-out
    heads benchmark ranks first for this kind of scan among those that apply,
    else Lanczos: methods/self_sr.auto), and label that grid
    (``medsr segment --sr``); a learned method restores the detail that thick
    slices lose, which interpolation cannot.
    """
    check_finite(volume)
    if volume.modality == "CT":
        raise MedSRError("the brain-tissue model is for MR images; this volume is CT (Hounsfield units)")
    if brain_mask == "auto":  # an empty or flat image is "no brain", not "a label map"
        from ..strip import check_can_hold_a_head

        check_can_hold_a_head(volume)
    if looks_like_labels(volume) and np.unique(volume.array).size <= 16:
        raise MedSRError(
            f"the input looks like a label map ({np.unique(volume.array).size} distinct integer values), not an image; "
            "give the MR image to segment"
        )
    network, entry = load_network(model, backend, device)
    super_resolved_by = None
    if super_resolution:
        restored, super_resolved_by = super_resolve_to_spacing(volume, entry["input"]["spacing_mm"], super_resolution, device,
                                                               progress.sub(0.0, 0.5), slice_profile)
        progress = progress.sub(0.5, 1.0)
        on_working_grid = on_working_grid or restored is not volume  # labels on the super-resolved grid
        volume = restored
    atlas_priors = atlas_priors and intensity_model  # the priors serve the intensity model only
    inside, source, evidence, atlas_transform = _brain_mask(volume, brain_mask, atlas_priors, progress.sub(0.0, 0.4))
    if inside is not None:
        progress = progress.sub(0.4, 1.0)
    working = volume.grid.with_spacing(entry["input"]["spacing_mm"])
    progress.update(0.02, "resampling to the model's spacing")
    image = resample_to_grid(volume.array, volume.grid, working, "bspline")
    inside_working = None
    bias_corrected = False
    if inside is not None:  # the network learnt skull-stripped brains: show it one
        inside_working = resample_to_grid(inside.astype(np.float32), volume.grid, working, "linear") > 0.5
        image = np.where(inside_working, image, 0.0)
        if bias_correction:  # N4 inside the brain alone: the brain's own intensities, as Atropos pipelines and SPM do
            progress.update(0.03, "N4 bias-field correction inside the brain")
            ringing_free = np.clip(image, 0.0, None)  # B-spline resampling rings a little below zero at edges
            image = n4(Volume(ringing_free, working, volume.modality), progress.sub(0.03, 0.05), inside=inside_working,
                       levels=BIAS_LEVELS).array  # (0 outside the brain stays 0: the field divides it)
            bias_corrected = True
    image = _normalise(image)  # (over the whole grid, before any crop, so that a crop changes nothing of it)
    # with a brain mask everything outside it is background and the image is zero there, as the sliding window's
    # padding is: the network runs on the brain's box alone (a third of a head's field of view)
    box = None if inside_working is None else bounding_box(inside_working, BOX_MARGIN_VOXELS)
    logits, report = predict(
        network, image if box is None else image[box], device=device, overlap=0.25,
        bytes_per_voxel=entry["input"].get("bytes_per_voxel", 4096), multiple=entry["input"].get("multiple", 8),
        progress=progress.sub(0.05, 0.9),
    )
    in_box = torch.softmax(torch.from_numpy(logits), dim=0).numpy()
    if box is None:
        probabilities = in_box
    else:
        probabilities = np.zeros((in_box.shape[0],) + image.shape, np.float32)
        probabilities[(slice(None),) + box] = in_box
    if inside_working is not None:
        probabilities[:, ~inside_working] = 0.0
        probabilities[0, ~inside_working] = 1.0
    names = {int(k): v for k, v in entry["labels"]["names"].items()}
    fit = None
    if intensity_model:
        progress.update(0.9, "fitting the tissues' intensities")
        spatial_prior = None
        if atlas_priors and atlas_transform is not None:
            from ..strip.priors import tissue_priors

            spatial_prior = tissue_priors(atlas_transform, working)
        probabilities, fit = refine_with_intensity_model(image, probabilities, [k for k in names if k != 0], names=names,
                                                         spatial_prior=spatial_prior,
                                                         brain=inside_working)
        if spatial_prior is not None and fit.applied:
            fit.csf_separation = csf_separation(fit, names)
            if _t1_ordered(fit, names) or (fit.csf_separation or 0.0) >= MIN_CSF_SEPARATION:
                probabilities = _csf_weighed(probabilities, fit, names, CSF_PRIOR_SCALE)
    grid = working if on_working_grid else volume.grid
    if grid != working:
        progress.update(0.92, "bringing probabilities back to the input grid")
        probabilities = np.stack([resample_to_grid(p, working, grid, "linear") for p in probabilities])
    labels_array = probabilities.argmax(axis=0).astype(np.uint8)
    intracranial_ml = None
    if inside is not None:
        inside_here = inside if grid == volume.grid else resample_to_grid(inside.astype(np.float32), volume.grid, grid, "linear") > 0.5
        labels_array[~inside_here] = 0
        probabilities[1:, ~inside_here] = 0.0
        intracranial_ml = float(inside_here.sum()) * float(np.prod(grid.spacing)) / 1000.0
    colours = {int(k): tuple(v) for k, v in entry["labels"]["colours"].items()}
    labels = Volume(labels_array, grid, volume.modality, {"segmentation": f"{entry['name']} {entry['version']}", "kind": "labels"})
    result = Segmentation(labels, names, colours, label_volumes_ml(labels, names), entry, report, intensity_fit=fit,
                          super_resolved_by=super_resolved_by, intracranial_ml=intracranial_ml, brain_mask_source=source,
                          brain_evidence=evidence, bias_corrected=bias_corrected)
    if keep_probabilities:
        result.probabilities = {k: labels.with_array(np.ascontiguousarray(probabilities[k], dtype=np.float32),
                                                     kind="probability", tissue=names[k])
                                for k in sorted(names) if k != 0}
    if instances_of:
        result.instances, result.instance_table = connected_instances(labels, instances_of)
    progress.update(1.0, "segmented")
    return result


def csf_separation(fit: IntensityFit, names: Dict[int, str]) -> Optional[float]:
    """How far apart the fitted CSF and grey-matter means lie, in their summed spreads (either order); None
    without both tissues."""
    label = {name: k for k, name in names.items()}
    if "cerebrospinal fluid" not in label or "grey matter" not in label:
        return None
    return fit.separation(label["cerebrospinal fluid"], label["grey matter"])


def _t1_ordered(fit: IntensityFit, names: Dict[int, str]) -> bool:
    """Whether the fitted means put CSF below grey matter below white matter (T1-weighted)."""
    means = {names.get(t): m for t, m in zip(fit.tissues, fit.means)}
    order = ("cerebrospinal fluid", "grey matter", "white matter")
    return all(name in means for name in order) and means[order[0]] < means[order[1]] < means[order[2]]


def _csf_weighed(probabilities: np.ndarray, fit: IntensityFit, names: Dict[int, str], factor: float) -> np.ndarray:
    """``probabilities`` with CSF's weighed by ``factor`` and the tissues renormalised to their former sum per voxel
    (the background's untouched): the posteriors under a CSF prior ``factor`` times the fit's."""
    csf = next(k for k, name in names.items() if name == "cerebrospinal fluid")
    tissues = [k for k in names if k != 0]
    before = probabilities[tissues].sum(axis=0)
    probabilities[csf] *= factor
    after = probabilities[tissues].sum(axis=0)
    probabilities[tissues] *= np.where(after > 0, before / np.maximum(after, 1e-12), 1.0)
    fit.csf_prior_scale = factor
    return probabilities


def _brain_mask(volume: Volume, brain_mask, atlas_priors: bool, progress: Progress):
    """(0/1 array on ``volume``'s grid or None, where it came from, the extraction's evidence, the transform that
    placed the atlas or None)."""
    if brain_mask is None:
        return None, None, {}, None
    if isinstance(brain_mask, Volume):
        if not brain_mask.grid.matches(volume.grid):
            raise MedSRError("the brain mask is not on the grid of the image to segment: "
                             + brain_mask.grid.describe_difference(volume.grid))
        inside = brain_mask.array > 0
        if not inside.any():
            raise MedSRError("the brain mask is empty: no voxel > 0")
        transform = None
        if atlas_priors:  # the atlas is placed for its tissue priors even when the mask is given
            from ..strip import place_atlas

            transform = place_atlas(volume, progress)
        return inside, "given", {}, transform
    if brain_mask != "auto":
        raise MedSRError(f"brain_mask must be 'auto', a label map or None, not {brain_mask!r}")
    from ..strip import extract_brain

    brain = extract_brain(volume, progress)
    return brain.mask.array > 0, "medsr strip (atlas registration)", brain.evidence, brain.atlas_transform


def super_resolve_to_spacing(volume: Volume, spacing, method_name: str, device: str, progress: Progress,
                             slice_profile: Optional[str] = None):
    """``volume`` super-resolved by ``method_name`` onto its grid at ``spacing`` (resampling contract), and a note
    of what did it; the volume itself (labels then stay on its grid) when it is no coarser than that already.
    ``slice_profile``: the scan's, for the methods that learn from the scan (`medsr sr --slice-profile`)."""
    from . import get

    method = get("sr", method_name)
    if slice_profile and "profile" not in method.options:
        raise MedSRError(f"a slice profile is for the super-resolution methods that learn from the scan itself "
                         f"(self, adapt, auto); {method.name} assumes its own")
    target = volume.grid.with_spacing(spacing)
    if all(n_out <= n_in for n_out, n_in in zip(target.size, volume.grid.size)):
        return volume, f"none (the input is no coarser than the model's {spacing} mm)"
    options = {} if method.family == "classical" else {"device": device}
    if slice_profile:
        options["profile"] = slice_profile
    result = method.run(volume, target, progress, **options)
    return result, result.metadata.get("auto_choice", method.name)


def _normalise(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, (0.5, 99.5))
    if high <= low:
        raise MedSRError("the input volume is constant: nothing to segment")
    return ((image - low) / (high - low)).astype(np.float32)


def label_volumes_ml(labels: Volume, names: Dict[int, str]) -> Dict[str, float]:
    voxel_ml = float(np.prod(labels.grid.spacing)) / 1000.0
    counts = np.bincount(labels.array.ravel(), minlength=max(names) + 1)
    return {names[k]: float(counts[k] * voxel_ml) for k in sorted(names) if k != 0}


def connected_instances(labels: Volume, of: Sequence[int]):
    """Connected components (26-connected) of the chosen labels, numbered 1..N by decreasing size."""
    known = set(np.unique(labels.array).tolist())
    for label in of:
        if label not in known and label <= 0:
            raise MedSRError(f"label {label} cannot have instances; choose among {sorted(known - {0})}")
    instances = np.zeros(labels.grid.size, np.uint32)
    table = []
    voxel_ml = float(np.prod(labels.grid.spacing)) / 1000.0
    for label in of:
        mask = sitk_from_volume(labels, (labels.array == label).astype(np.uint8))
        components = sitk.RelabelComponent(sitk.ConnectedComponent(mask, True), sortByObjectSize=True)
        array = sitk.GetArrayFromImage(components).T
        count = int(array.max())
        offset = len(table)
        instances[array > 0] = array[array > 0] + offset
        sizes = np.bincount(array.ravel(), minlength=count + 1)
        table += [{"instance": offset + n, "label": int(label), "voxels": int(sizes[n]), "ml": float(sizes[n] * voxel_ml)} for n in range(1, count + 1)]
    return labels.with_array(instances), table


def colour_table_text(names: Dict[int, str], colours: Dict[int, tuple]) -> str:
    """A 3D Slicer colour table (.ctbl): ``index name R G B A`` per line."""
    lines = ["# Color table file written by MedSR", f"# {len(names)} values"]
    for index in sorted(names):
        r, g, b = colours.get(index, (128, 128, 128))
        alpha = 0 if index == 0 else 255
        lines.append(f"{index} {names[index].replace(' ', '_')} {r} {g} {b} {alpha}")
    return "\n".join(lines) + "\n"
