"""`medsr bench --task segment`: Dice of the brain-tissue model on held-out anatomy at 1 mm and 1x1x4 mm, and speed.

The MNI template is left-right symmetric, so the held-out part is the superior
one: Dice is measured on axial slices k >= 120, which no training patch reached
(patches ended below k = 112). Time: a 256^3 volume (the T1 padded with air),
file I/O excluded.

Other contrasts: T2- and PD-like images are synthesised from the same
tissue maps (relative tissue signals below, 2 % Rician noise). They are
synthetic, so they show that the model is not tied to T1 contrast, not how
it does on a real T2 scan (none can be installed here).

Reference (not a method): each case also gets the Dice of the best
intensity-only labelling learnt from the same image's training slices and
their labels. The reference labels are the argmax of maps that follow the
template's own intensities, so on a clean image of a known contrast a lookup
table from intensity to label is a strong baseline; a model trained for
every contrast, resolution and bias field has to be measured against it.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import numpy as np

from ..geometry import Grid
from ..io import write_text_atomic
from ..methods.segmentation import segment, super_resolve_to_spacing
from ..progress import SILENT, Progress
from ..simulate import Acquisition, add_noise, degrade
from ..train.tissue import HELD_OUT_K_START, TRAIN_K_END, load_tissue_data, tissue_dice
from .comparison import PeakMemory, machine_description
from .report import refuse_existing_report


# relative signal of background, CSF, grey and white matter
SYNTHETIC_CONTRASTS = {"T2-like": (0.0, 1.0, 0.6, 0.45), "PD-like": (0.0, 1.0, 0.8, 0.69)}


def synthetic_contrast(data, signals, noise: float = 0.02, seed: int = 0):
    """The MNI tissue maps rendered with ``signals`` per class (partial volume kept), with Rician noise."""
    image = np.einsum("c...,c->...", data.probabilities, np.asarray(signals, np.float32)) * 255.0
    return data.t1.with_array(add_noise(image, "rician", noise, np.random.default_rng(seed)))


def intensity_lookup_dice(image: np.ndarray, labels: np.ndarray, bins: int = 256) -> dict:
    """Dice on the held-out slices (k >= HELD_OUT_K_START) of an intensity-only labelling fitted on the same image's
    training slices (k < TRAIN_K_END): each of ``bins`` intensity bins (0.5-99.5 percentile range) gets the label
    most frequent there; a bin never seen in training gets background."""
    low, high = np.percentile(image, (0.5, 99.5))
    index = np.clip(((image - low) / max(high - low, 1e-6) * bins).astype(np.int64), 0, bins - 1)
    classes = int(labels.max()) + 1
    seen = np.bincount((index[:, :, :TRAIN_K_END] * classes + labels[:, :, :TRAIN_K_END]).ravel(), minlength=bins * classes)
    lookup = seen.reshape(bins, classes).argmax(axis=1)
    return tissue_dice(labels[:, :, HELD_OUT_K_START:], lookup[index[:, :, HELD_OUT_K_START:]])


def _case(data, result, seconds: float, segmented_image: np.ndarray) -> dict:
    fit = result.intensity_fit
    return {"dice": tissue_dice(data.labels[:, :, HELD_OUT_K_START:], result.labels.array[:, :, HELD_OUT_K_START:]),
            "seconds": seconds, "intensity_model": "applied" if fit and fit.applied else (fit.reason if fit else "off"),
            "intensity_reference_dice": intensity_lookup_dice(segmented_image, data.labels)}


def run_segment_bench(output: Path, model: str = "brain-tissue", device: str = "cpu", overwrite: bool = False,
                      progress: Progress = SILENT) -> dict:
    output = Path(output)
    refuse_existing_report(output, "segment", overwrite)
    data = load_tissue_data()
    cases = {}
    progress.update(0.0, "1 mm")
    start = time.perf_counter()
    result = segment(data.t1, model, device=device, progress=progress.sub(0.0, 0.3), brain_mask=None)
    cases["1 mm (as acquired)"] = _case(data, result, time.perf_counter() - start, data.t1.as_float32())
    thick = degrade(data.t1, Acquisition((1, 1, 4), "gaussian"))
    for method, part in (("bspline", (0.3, 0.4)), ("auto", (0.4, 0.6))):
        start = time.perf_counter()
        restored, by = super_resolve_to_spacing(thick, (1.0, 1.0, 1.0), method, device, progress.sub(*part))
        result = segment(restored, model, device=device, brain_mask=None)
        seconds = time.perf_counter() - start
        assert result.labels.grid.size == data.t1.grid.size
        cases[f"1x1x4 mm thick slices (Gaussian profile), super-resolved by {by} onto the 1 mm grid (--sr {method})"] = _case(
            data, result, seconds, restored.as_float32())
    for name, signals in SYNTHETIC_CONTRASTS.items():
        start = time.perf_counter()
        image = synthetic_contrast(data, signals)
        result = segment(image, model, device=device, brain_mask=None)
        cases[f"{name} (synthetic from the tissue maps, CSF:GM:WM = {signals[1]}:{signals[2]}:{signals[3]}, 2 % Rician noise)"] = _case(
            data, result, time.perf_counter() - start, image.as_float32())
    progress.update(0.6, "256^3 timing")
    big = np.zeros((256, 256, 256), np.float32)
    big[29:226, 11:244, 33:222] = data.t1.as_float32()
    volume = data.t1.with_array(big, Grid((256, 256, 256), (1.0, 1.0, 1.0)))
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = segment(volume, model, device=device, progress=progress.sub(0.6, 1.0), brain_mask=None)
        seconds = time.perf_counter() - start
    timing = {"size": [256, 256, 256], "seconds": seconds, "peak_memory_mb": memory.peak_mb, "device": result.report.device,
              "patch": list(result.report.patch_size), "windows": result.report.windows}
    payload = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": f"{result.model['name']} {result.model['version']}",
        "held_out": "MNI ICBM152 2009a, axial slices k >= 120 (the template is symmetric; no training patch reached k >= 112)",
        "reference_labels": "argmax of background / CSF / GM / WM from the MNI maps (CSF = head mask - GM - WM)",
        "machine": machine_description(),
        "cases": cases,
        "timing_256": timing,
    }
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "segment.json", json.dumps(payload, indent=2) + "\n")
    m = payload["machine"]
    lines = ["# MedSR segmentation benchmark", "", f"Date {payload['date']}; model {payload['model']}; machine: {m['cpu']}, "
             f"{m['cpu_cores_usable']} usable cores ({m.get('torch_threads', '?')} torch threads), torch {m['torch']}; device: {timing['device']}.", "",
             f"Held out: {payload['held_out']}. Reference: {payload['reference_labels']}.", "",
             "| case | Dice CSF | Dice GM | Dice WM | mean Dice | time (s) | intensity model | intensity-only reference, mean Dice |",
             "|---|---:|---:|---:|---:|---:|---|---:|"]
    for name, case in cases.items():
        d = case["dice"]
        lines.append(f"| {name} | {d['cerebrospinal fluid']:.4f} | {d['grey matter']:.4f} | {d['white matter']:.4f} | {d['mean']:.4f} "
                     f"| {case['seconds']:.1f} | {case['intensity_model']} | {case['intensity_reference_dice']['mean']:.4f} |")
    lines += ["", "Intensity model: the network's probabilities refined by a Gaussian model of each tissue's intensity fitted "
              "to the image being segmented (EM, methods/intensity_model.py); refused, and the network's labels kept, when two "
              "tissues overlap in intensity.",
              "", "Intensity-only reference (not a method): a lookup table from intensity (256 bins of the 0.5-99.5 "
              "percentile range) to the label most frequent there, fitted on the same image's training slices (k < "
              f"{TRAIN_K_END}) with their labels, on the image that is segmented (the super-resolved one for thick slices). It knows "
              "the contrast and the labels of the very image it labels, which the model does not.",
              "", f"256^3 volume: {timing['seconds']:.1f} s on {timing['device']} (patch {tuple(timing['patch'])}, {timing['windows']} windows), "
              f"peak memory +{timing['peak_memory_mb']:.0f} MB."]
    write_text_atomic(output / "segment.md", "\n".join(lines) + "\n")
    return payload
