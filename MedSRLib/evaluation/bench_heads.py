"""`medsr bench --task heads`: brain extraction and tissue segmentation on held-out heads with skull, beside peers.

Validation heads (none used to build the atlas or train the tissue network):

* FreeSurfer's 711-2C average head (256^3 at 1 mm, skull, scalp, neck), reference brain mask its intracranial mask
  711-2B, reference tissues the MNI grey/white-matter maps carried onto it by ANTs SyN registration inside 711-2B
  (strip/head_reference.py; iterating at full resolution since 2026-12-06; before 2026-12-04 evening by a SimpleITK
  B-spline, still scored for the real T1); once
  as distributed and once placed as a scanner would (rotated by 12, -10 and 15 degrees, shifted by 7, -11, 9 mm,
  sampled on a sagittal 1 mm grid of its own);
* ITK's KmeansTest subject (a single real subject, 2x2x3 mm, field of view cut at the chin), reference mask its
  skull-stripped twin (brain masks only: it has no tissue reference).

Built from: the atlas (FreeSurfer 3T18yo head + the bundled MNI brain, Resources/Atlas), deepbet's T1 brain network
(its own training data, never these heads' references) and the brain-tissue network (trained on the bundled MNI
template only). Peers: deepbet alone (brain masks, T1-weighted), ANTsPy's N4 + Atropos 3-class inside deepbet's mask
when ANTsPy is installed; always: a threshold-and-morphology mask
and a 3-class Otsu threshold inside the reference brain mask.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import SimpleITK as sitk

from ..geometry import Grid
from ..io import write_text_atomic
from ..io.convert import sitk_from_volume
from ..methods.segmentation import segment
from ..progress import SILENT, Progress
from ..simulate import Acquisition, add_noise, degrade
from ..strip import extract_brain
from ..volume import Volume
from .comparison import PeakMemory, machine_description, run_line
from ..strip.head_reference import TISSUES, reference_tissues
from ..train.head_labels import non_brain_classes
from ..io.public_heads import load_head
from .placement import centre_of, place, scanner_grid, scanner_placement
from .report import refuse_existing_report

#: relative signal per class for SynthSeg-style renderings: background/air, dark non-brain (bone, air cavities),
#: mid non-brain (muscle, skin), bright non-brain (fat, marrow), CSF, GM, WM
#: The T1-like rendering is the real T1's twin with exact labels: 711-2C is an average of many heads, so its own T1 has no
#: sulci and a grey-white boundary blurred by centimetres, where the registered reference keeps the MNI maps' detail
RENDERINGS = {
    "T1-like": (0.0, 0.08, 0.45, 0.9, 0.18, 0.5, 0.75),
    "T2-like": (0.0, 0.08, 0.35, 0.55, 1.0, 0.55, 0.38),
    "PD-like": (0.0, 0.12, 0.55, 0.8, 0.9, 0.78, 0.62),
}


BOUND = "bound: the best 2 thresholds, chosen on the reference itself"
#: medsr's tissue labelling alone: the reference brain mask given (``medsr segment --mask``), as Otsu's row is given it
GIVEN_MASK = "medsr given the reference mask (--mask)"
EARLIER_REFERENCE = "against the earlier B-spline reference"
ATROPOS_MISSING = "deepbet + N4 + Atropos 3-class (antspyx is not installed: pip install -e '.[bench]')"


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    total = np.count_nonzero(a) + np.count_nonzero(b)
    return float(2.0 * np.count_nonzero(a & b) / total) if total else 1.0


def tissue_figures(reference: np.ndarray, labels: np.ndarray, brain: np.ndarray, voxel_ml: float) -> dict:
    """Dice per tissue inside the reference brain, GM and WM Dice over the whole head (tissue outside counts against),
    and the labelled brain volume against the reference's."""
    inside = {name: dice((reference == k) & brain, (labels == k) & brain) for k, name in TISSUES.items()}
    figures = {"inside_brain": inside, "mean_inside_brain": float(np.mean(list(inside.values()))),
               "whole_head": {TISSUES[k]: dice(reference == k, labels == k) for k in (2, 3)},
               "labelled_brain_ml": float(np.count_nonzero(labels > 0) * voxel_ml),
               "reference_brain_ml": float(np.count_nonzero(brain) * voxel_ml)}
    figures["brain_volume_error"] = figures["labelled_brain_ml"] / figures["reference_brain_ml"] - 1.0
    return figures


def threshold_mask(volume: Volume) -> np.ndarray:
    """Baseline brain mask: Otsu head threshold, eroded 5 mm, largest component, dilated 5 mm, holes filled."""
    image = sitk.Cast(sitk_from_volume(volume), sitk.sitkFloat32)
    head = sitk.OtsuThreshold(image, 0, 1)
    radius = [max(1, int(round(5.0 / s))) for s in volume.grid.spacing]
    core = sitk.BinaryErode(head, radius)
    largest = sitk.Cast(sitk.RelabelComponent(sitk.ConnectedComponent(core), sortByObjectSize=True) == 1, sitk.sitkUInt8)
    mask = sitk.BinaryFillhole(sitk.BinaryDilate(largest, radius))
    return sitk.GetArrayFromImage(mask).T > 0


def otsu_tissues(volume: Volume, brain: np.ndarray) -> np.ndarray:
    """Baseline tissues: 3-class Otsu thresholds of the intensities inside ``brain`` (dark to bright: CSF, GM, WM
    for T1; for other contrasts the order is the T1's, which is the baseline's weakness)."""
    values = volume.as_float32()[brain]
    thresholds = sitk.OtsuMultipleThresholdsImageFilter()
    thresholds.SetNumberOfThresholds(2)
    thresholds.Execute(sitk.GetImageFromArray(values.reshape(1, 1, -1)))
    t = sorted(thresholds.GetThresholds())
    labels = np.zeros(volume.grid.size, np.uint8)
    labels[brain] = 1 + np.digitize(values, t)
    return labels


def best_threshold_tissues(volume: Volume, brain: np.ndarray, reference: np.ndarray, bins: int = 200) -> np.ndarray:
    """The labelling by two intensity thresholds inside ``brain`` (three intervals, each given one tissue, in whichever
    order) that agrees best with ``reference`` (mean Dice), both chosen on the reference itself: not a method but an
    upper bound for any labelling that reads intensity alone against this reference."""
    from itertools import permutations

    values = volume.as_float32()[brain]
    truth = reference[brain]
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)))
    counts = np.stack([np.histogram(values[truth == k], bins=edges)[0] for k in (1, 2, 3)]).astype(np.float64)
    below = np.concatenate([np.zeros((3, 1)), np.cumsum(counts, axis=1)], axis=1)  # class x cut (voxels under it)
    totals = below[:, -1]
    n = below.shape[1]
    low, high = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    valid = low <= high
    hits = [below[:, low], below[:, high] - below[:, low], totals[:, None, None] - below[:, high]]  # interval x class
    predicted = [h.sum(axis=0) for h in hits]  # voxels per interval
    best, choice = -1.0, None
    for order in permutations(range(3)):  # order[i]: the tissue (0-based) of interval i
        scores = [2.0 * hits[interval][tissue] / np.maximum(predicted[interval] + totals[tissue], 1.0)
                  for interval, tissue in enumerate(order)]
        mean = np.where(valid, np.mean(scores, axis=0), -1.0)
        index = np.unravel_index(int(np.argmax(mean)), mean.shape)
        if mean[index] > best:
            best, choice = float(mean[index]), (edges[index[0]], edges[index[1]], order)
    first, second, order = choice
    interval = np.digitize(values, [first, second])
    labels = np.zeros(volume.grid.size, np.uint8)
    labels[brain] = 1 + np.asarray(order)[interval]
    return labels


def deepbet_mask(volume: Volume) -> Optional[np.ndarray]:
    try:
        import nibabel
        from deepbet.bet import BrainExtraction
    except ImportError:
        return None
    affine = volume.grid.ijk_to_ras()
    image = nibabel.Nifti1Image(volume.as_float32(), affine)
    _, mask, _ = BrainExtraction(no_gpu=True).run(image)
    return np.asarray(mask.get_fdata()) > 0.5


def atropos_tissues(volume: Volume, brain: np.ndarray) -> Optional[np.ndarray]:
    try:
        import ants
    except ImportError:
        return None
    origin, spacing = np.asarray(volume.grid.origin), np.asarray(volume.grid.spacing)
    image = ants.from_numpy(volume.as_float32(), origin=tuple(origin), spacing=tuple(spacing),
                            direction=volume.grid.direction_matrix)
    mask = ants.from_numpy(brain.astype(np.float32), origin=tuple(origin), spacing=tuple(spacing),
                           direction=volume.grid.direction_matrix)
    corrected = ants.n4_bias_field_correction(image, mask=mask)
    result = ants.atropos(a=corrected, x=mask, i="kmeans[3]", m="[0.2,1x1x1]", c="[5,0]")
    return result["segmentation"].numpy().astype(np.uint8)


def render(head: Volume, reference: Dict[str, Volume], brain: np.ndarray, signals, seed: int = 0) -> Volume:
    """A SynthSeg-style rendering of the head: non-brain voxels in 4 classes (3-class Otsu of the head's T1
    intensities outside the brain, plus air), brain voxels mixed from the reference CSF/GM/WM maps (partial volume
    kept), each class given ``signals``; then a smooth bias field (+-15 %) and 2 % Rician noise."""
    values = head.as_float32()
    outside = ~brain
    classes = non_brain_classes(values, brain)
    s = np.asarray(signals, np.float32)
    image = np.where(outside, s[np.clip(classes, 0, 3)], 0.0).astype(np.float32)
    image += np.where(brain, reference["csf"].array * s[4] + reference["gm"].array * s[5] + reference["wm"].array * s[6], 0)
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 1, (4, 4, 4))
    bias = sitk.GetArrayFromImage(sitk.Expand(sitk.GetImageFromArray(coarse), [int(np.ceil(n / 4)) for n in head.grid.size],
                                              sitk.sitkBSpline)).T[: head.grid.size[0], : head.grid.size[1], : head.grid.size[2]]
    image *= 1.0 + 0.15 * bias / max(np.abs(bias).max(), 1e-6)
    image = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(sitk.GetImageFromArray(image.T.copy()), 0.5)).T
    image = np.clip(image, 0.0, None)  # the recursive Gaussian rings a little below zero next to air
    return head.with_array(add_noise(image * 255.0, "rician", 0.02, rng).astype(np.float32))


def _timed(function: Callable, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def run_heads_bench(output: Path, device: str = "cpu", overwrite: bool = False, progress: Progress = SILENT) -> dict:
    output = Path(output)
    refuse_existing_report(output, "heads", overwrite)
    progress.update(0.0, "loading the held-out heads and their references")
    reference = reference_tissues(registration="syn")
    head, mask = reference["head"], load_head("711-2b")
    centre = centre_of(head.grid)
    motion = scanner_placement(centre=centre)
    grid = scanner_grid(head, spacing=(1.0, 1.0, 1.0), margin_mm=0.0)
    # whole 4 mm slabs for the thick-slice case, so that --sr lands back on this very grid
    grid = Grid(tuple(n + (-n) % 4 for n in grid.size), grid.spacing, grid.origin, grid.direction)
    placed = {"head": place(head, motion, grid), "mask": place(mask, motion, grid, labels=True),
              "labels": place(reference["labels"], motion, grid, labels=True)}
    for name in ("csf", "gm", "wm"):
        placed[name] = place(reference[name], motion, grid)
    masks, tissues = {}, {}

    def mask_case(name: str, volume: Volume, truth: np.ndarray, t1_weighted: bool) -> None:
        voxel_ml = float(np.prod(volume.grid.spacing)) / 1000
        row = {"reference_ml": float(truth.sum() * voxel_ml)}
        (brain, seconds) = _timed(extract_brain, volume)
        row["medsr"] = {"dice": dice(brain.mask.array, truth), "ml": brain.intracranial_ml, "seconds": seconds,
                        "explained_variance": brain.evidence["explained_variance"],
                        "mask_from": brain.evidence.get("mask_from"),
                        "t1_network_agreement": brain.evidence.get("t1_network_agreement"),
                        "skull_edge_ml": brain.evidence.get("skull_edge_ml")}
        atlas_only, seconds = _timed(extract_brain, volume, t1_network=False)
        row["medsr, atlas only"] = {"dice": dice(atlas_only.mask.array, truth), "ml": atlas_only.intracranial_ml,
                                    "seconds": seconds}
        threshold, seconds = _timed(threshold_mask, volume)
        row["threshold + morphology"] = {"dice": dice(threshold, truth), "ml": float(threshold.sum() * voxel_ml), "seconds": seconds}
        found, seconds = _timed(deepbet_mask, volume)
        if found is not None:
            row["deepbet"] = {"dice": dice(found, truth), "ml": float(found.sum() * voxel_ml), "seconds": seconds,
                              "note": "" if t1_weighted else "outside deepbet's T1-weighted domain"}
            row["_deepbet_mask"] = found
        masks[name] = row

    def tissue_case(name: str, volume: Volume, truth: Dict[str, Volume], **options) -> None:
        brain = truth["mask"].array > 0
        voxel_ml = float(np.prod(volume.grid.spacing)) / 1000
        with PeakMemory() as memory:
            result, seconds = _timed(segment, volume, device=device, **options)
        labels = result.labels.array
        reference_labels = truth["labels"].array
        if result.labels.grid.size != truth["labels"].grid.size:
            raise RuntimeError(f"{name}: labels on {result.labels.grid} but the reference on {truth['labels'].grid}")
        row = {"medsr": dict(tissue_figures(reference_labels, labels, brain, voxel_ml), seconds=seconds,
                             peak_memory_mb=memory.peak_mb, process_peak_memory_mb=memory.process_peak_mb,
                             super_resolved_by=result.super_resolved_by,
                             intensity_model="applied" if result.intensity_fit and result.intensity_fit.applied else "not applied",
                             intensity_prior=result.intensity_fit.prior if result.intensity_fit else None,
                             network_agreement=result.intensity_fit.network_agreement if result.intensity_fit else None,
                             csf_separation=result.intensity_fit.csf_separation if result.intensity_fit else None,
                             csf_prior_scale=result.intensity_fit.csf_prior_scale if result.intensity_fit else None)}
        if volume.grid == truth["labels"].grid:  # (the thick-slice input is on another grid: no baseline row)
            given = segment(volume, device=device, brain_mask=truth["mask"], **options)
            row[GIVEN_MASK] = tissue_figures(reference_labels, given.labels.array, brain, voxel_ml)
            otsu = otsu_tissues(volume, brain)
            row["3-class Otsu inside the reference mask"] = tissue_figures(reference_labels, otsu, brain, voxel_ml)
            best = best_threshold_tissues(volume, brain, reference_labels)
            row[BOUND] = tissue_figures(reference_labels, best, brain, voxel_ml)
        if "labels_bspline" in truth:  # the real T1 against the reference of the runs before 2026-12-04 evening too
            earlier = truth["labels_bspline"].array
            row[f"medsr, {EARLIER_REFERENCE}"] = tissue_figures(earlier, labels, brain, voxel_ml)
            if volume.grid == truth["labels"].grid:
                row[f"bound, {EARLIER_REFERENCE}"] = tissue_figures(earlier, best_threshold_tissues(volume, brain, earlier),
                                                                    brain, voxel_ml)
        tissues[name] = row

    earlier = reference_tissues()["labels"]  # the B-spline reference (strip/head_reference.py)
    native = {"head": head, "mask": mask, "labels": reference["labels"], "labels_bspline": earlier}
    real_placed = dict(placed, labels_bspline=place(earlier, motion, grid, labels=True))
    progress.update(0.05, "brain masks")
    mask_case("711-2C as distributed (1 mm)", head, mask.array > 0, True)
    mask_case("711-2C placed as a scanner would (rotated, shifted, sagittal 1 mm grid)", placed["head"], placed["mask"].array > 0, True)
    itk, itk_mask = load_head("itk-subject"), load_head("itk-subject-stripped")
    mask_case("ITK KmeansTest subject (2x2x3 mm, real single subject)", itk, itk_mask.array > 0, True)
    renderings = {name: render(placed["head"], placed, placed["mask"].array > 0, signals) for name, signals in RENDERINGS.items()}
    for name, image in renderings.items():
        mask_case(f"711-2C placed, {name} rendering", image, placed["mask"].array > 0, name.startswith("T1"))
    progress.update(0.3, "tissues")
    tissue_case("711-2C as distributed (1 mm, 256^3)", head, native)
    tissue_case("711-2C placed as a scanner would", placed["head"], real_placed)
    for name, image in renderings.items():
        tissue_case(f"711-2C placed, {name} rendering", image, dict(placed, head=image))
    thick = degrade(placed["head"], Acquisition((1, 1, 4), "gaussian"))
    tissue_case("711-2C placed, 1x1x4 mm thick slices (Gaussian profile), --sr auto", thick, real_placed, super_resolution="auto")
    # the same against exact labels: the T1-like rendering acquired in thick slices
    thick_t1 = degrade(renderings["T1-like"], Acquisition((1, 1, 4), "gaussian"))
    tissue_case("711-2C placed, T1-like rendering, 1x1x4 mm thick slices (Gaussian profile), --sr auto", thick_t1,
                dict(placed, head=renderings["T1-like"]), super_resolution="auto")
    progress.update(0.9, "peers' tissues")
    t1_like = "711-2C placed, T1-like rendering"
    not_run = set()
    for name, case in (("711-2C as distributed (1 mm, 256^3)", ("711-2C as distributed (1 mm)", head, native)),
                       ("711-2C placed as a scanner would", ("711-2C placed as a scanner would (rotated, shifted, sagittal 1 mm grid)",
                                                             placed["head"], placed)),
                       (t1_like, (t1_like, renderings["T1-like"], dict(placed, head=renderings["T1-like"])))):
        mask_name, volume, truth = case
        found = masks[mask_name].get("_deepbet_mask")
        if found is None:
            continue
        voxel_ml = float(np.prod(volume.grid.spacing)) / 1000
        labels, seconds = _timed(atropos_tissues, volume, found)
        if labels is None:
            not_run.add(ATROPOS_MISSING)
        else:
            tissues[name]["deepbet + N4 + Atropos 3-class"] = dict(
                tissue_figures(truth["labels"].array, labels, truth["mask"].array > 0, voxel_ml), seconds=seconds)
        tissues[name]["deepbet + 3-class Otsu"] = tissue_figures(truth["labels"].array, otsu_tissues(volume, found),
                                                                 truth["mask"].array > 0, voxel_ml)
    for row in masks.values():
        row.pop("_deepbet_mask", None)
    payload = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "device": device,
        "built_from": {"atlas": "FreeSurfer 3T18yoSchwartzReactN32 head + MNI ICBM152 2009a brain (Resources/Atlas); "
                                "tissue priors: the MNI ICBM152 2009a GM/WM maps in the atlas's space; T1 brain network: "
                                "deepbet 1.0.2 (trained by its authors on their own T1-weighted scans, none of these heads)",
                       "tissue_network": "brain-tissue (trained on the MNI ICBM152 2009a template only)"},
        "validated_on": {"711-2C": "FreeSurfer 711-2C average head; brain reference 711-2B intracranial mask; tissue "
                                   "reference: MNI GM/WM maps carried onto 711-2C by ANTs SyN registration (affine, then diffeomorphic, "
                                   "iterating at full resolution since 2026-12-06) of the MNI T1 onto 711-2C inside 711-2B",
                         "ITK subject": "ITK KmeansTest T1 (2x2x3 mm); brain reference: its skull-stripped twin"},
        "placement": "rotated 12, -10, 15 degrees about x, y, z through the head's centre, shifted 7, -11, 9 mm, on a "
                     "sagittal 1 mm grid (i anterior->posterior, j superior->inferior, k right->left)",
        "renderings": {name: dict(zip(("air", "dark non-brain", "mid non-brain", "bright non-brain", "CSF", "GM", "WM"), s))
                       for name, s in RENDERINGS.items()},
        "brain_masks": masks,
        "tissues": tissues,
        "peers_not_run": sorted(not_run),
    }
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "heads.json", json.dumps(payload, indent=2, default=float) + "\n")
    write_text_atomic(output / "heads.md", _markdown(payload))
    progress.update(1.0, "done")
    return payload


def _markdown(payload: dict) -> str:
    lines = ["# MedSR on held-out heads with skull", "", run_line(payload), "",
             f"Built from: atlas = {payload['built_from']['atlas']}; tissue network = {payload['built_from']['tissue_network']}.", "",
             "Validated on (never used to build either): " + "; ".join(f"{k}: {v}" for k, v in payload["validated_on"].items()) + ".", "",
             f"Placement: {payload['placement']}.", "",
             "## Brain masks", "", "`medsr`: the placed atlas's brain joined with the T1 network's (deepbet's, averaged with its pass on the left-right mirrored scan; the network weighs 2/3 in a T1-weighted scan, 1/2 in another contrast, as the scan's own tissue order says) "
             "where their masks agree by a Dice of 0.9 or more, else the atlas's alone (the agreement in brackets), then its surface moved "
             "onto the skull's inner edge where the image shows one (the change in mL in brackets); `medsr, atlas only`: "
             "the same without the T1 network.", "",
             "| head | reference mL | method | Dice | mL | time (s) |", "|---|---:|---|---:|---:|---:|"]
    for name, row in payload["brain_masks"].items():
        for method in ("medsr", "medsr, atlas only", "deepbet", "threshold + morphology"):
            if method in row:
                r = row[method]
                note = f" ({r['note']})" if r.get("note") else ""
                if r.get("mask_from"):
                    agreement = r.get("t1_network_agreement")
                    moved = r.get("skull_edge_ml")
                    note = " (" + ("atlas alone" if r["mask_from"].startswith("atlas") else "atlas + T1 network") + \
                        (f", agreement {agreement:.3f}" if agreement is not None else "") + \
                        (f", skull edge {moved:+.0f} mL" if moved is not None else "") + ")"
                lines.append(f"| {name} | {row['reference_ml']:.0f} | {method}{note} | {r['dice']:.4f} | {r['ml']:.0f} | {r['seconds']:.1f} |")
    lines += ["", "## Tissues", "", "Dice inside the reference brain (CSF, GM, WM and their mean); GM and WM Dice over the whole "
              "head (tissue labelled outside the brain counts against); labelled brain volume against the reference mask's.", "",
              "| case | method | CSF | GM | WM | mean | GM whole head | WM whole head | brain volume error | time (s) | peak memory, MB: rise (process) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in payload["tissues"].items():
        for method, r in row.items():
            d, w = r["inside_brain"], r["whole_head"]
            seconds = f"{r['seconds']:.1f}" if "seconds" in r else ""
            memory = f"{r['peak_memory_mb']:.0f}" if "peak_memory_mb" in r else ""
            if "process_peak_memory_mb" in r:
                memory += f" ({r['process_peak_memory_mb']:.0f})"
            lines.append(f"| {name} | {method} | {d['cerebrospinal fluid']:.3f} | {d['grey matter']:.3f} | {d['white matter']:.3f} | "
                         f"{r['mean_inside_brain']:.3f} | {w['grey matter']:.3f} | {w['white matter']:.3f} | "
                         f"{100 * r['brain_volume_error']:+.1f} % | {seconds} | {memory} |")
    lines += ["", "Time of `medsr`'s segmentation includes brain extraction (and super-resolution for thick slices); file "
              "I/O excluded. Peak memory: the process's resident memory above its level before the call, measured after "
              "freed memory was handed back to the system (so what an earlier case left free is not reused unseen), and "
              "in brackets the benchmark process's own peak during the call (the benchmark's data included).",
              "The 3-class Otsu rows are a baseline given the *reference* brain mask, so they isolate tissue labelling; so "
              f"does `{GIVEN_MASK}`, medsr's own labelling given that mask as `medsr segment --mask` takes one.",
              "The bound rows are not a method: the two intensity thresholds (and the tissue given to each of the three "
              "intervals) that agree best with the reference, chosen on the reference itself inside its own mask; no labelling "
              "that reads intensity alone can score above them against that reference.",
              f"Rows `{EARLIER_REFERENCE}`: the real T1's labels scored against the reference of the runs before "
              "2026-12-04 evening (the MNI maps carried by SimpleITK's affine + B-spline registration instead of ANTs SyN; "
              "strip/head_reference.py), so the figures can be followed across runs."]
    separations = [f"{name} {row['medsr']['csf_separation']:.2f}" + (" (weighed)" if row["medsr"].get("csf_prior_scale", 1.0) != 1.0 else "")
                   for name, row in payload["tissues"].items() if row["medsr"].get("csf_separation") is not None]
    if separations:  # (reports before 2026-12-05 16:30 UTC did not record them)
        lines.append("How far `medsr`'s intensity fit set CSF apart from grey matter, in their summed spreads, and where CSF's "
                     "prior was therefore weighed down (x0.1: a T1-weighted scan, or CSF at least 1.0 apart; "
                     "methods/segmentation.py): " + "; ".join(separations) + ".")
    lines += [f"Not run: {peer}." for peer in payload.get("peers_not_run", [])]
    return "\n".join(lines) + "\n"
