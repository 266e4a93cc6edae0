"""`medsr bench --task segment`: Dice of the brain-tissue model on held-out anatomy at 1 mm and 1x1x4 mm, and speed.

The MNI template is left-right symmetric, so the held-out part is the superior
one: Dice is measured on axial slices k >= 120, which no training patch reached
(patches ended below k = 112). Time: a 256^3 volume (the T1 padded with air),
file I/O excluded.

Other contrasts: T2- and PD-like images are synthesised from the same
tissue maps (relative tissue signals below, 2 % Rician noise). They are
synthetic, so they show that the model is not tied to T1 contrast, not how
it does on a real T2 scan (none can be installed here).
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import numpy as np

from ..geometry import Grid
from ..io import write_text_atomic
from ..methods.segmentation import segment
from ..progress import SILENT, Progress
from ..simulate import Acquisition, add_noise, degrade
from ..train.tissue import HELD_OUT_K_START, load_tissue_data, tissue_dice
from .comparison import PeakMemory, machine_description
from .report import refuse_existing_report


# relative signal of background, CSF, grey and white matter
SYNTHETIC_CONTRASTS = {"T2-like": (0.0, 1.0, 0.6, 0.45), "PD-like": (0.0, 1.0, 0.8, 0.69)}


def synthetic_contrast(data, signals, noise: float = 0.02, seed: int = 0):
    """The MNI tissue maps rendered with ``signals`` per class (partial volume kept), with Rician noise."""
    image = np.einsum("c...,c->...", data.probabilities, np.asarray(signals, np.float32)) * 255.0
    return data.t1.with_array(add_noise(image, "rician", noise, np.random.default_rng(seed)))


def run_segment_bench(output: Path, model: str = "brain-tissue", device: str = "cpu", overwrite: bool = False,
                      progress: Progress = SILENT) -> dict:
    output = Path(output)
    refuse_existing_report(output, "segment", overwrite)
    data = load_tissue_data()
    truth = data.labels[:, :, HELD_OUT_K_START:]
    cases = {}
    progress.update(0.0, "1 mm")
    start = time.perf_counter()
    result = segment(data.t1, model, device=device, progress=progress.sub(0.0, 0.3))
    cases["1 mm (as acquired)"] = {"dice": tissue_dice(truth, result.labels.array[:, :, HELD_OUT_K_START:]), "seconds": time.perf_counter() - start}
    thick = degrade(data.t1, Acquisition((1, 1, 4), "gaussian"))
    start = time.perf_counter()
    result = segment(thick, model, on_working_grid=True, device=device, progress=progress.sub(0.3, 0.6))
    assert result.labels.grid.size == data.t1.grid.size
    cases["1x1x4 mm thick slices (Gaussian profile), labels on the 1 mm grid (--sr)"] = {
        "dice": tissue_dice(truth, result.labels.array[:, :, HELD_OUT_K_START:]), "seconds": time.perf_counter() - start}
    for name, signals in SYNTHETIC_CONTRASTS.items():
        start = time.perf_counter()
        result = segment(synthetic_contrast(data, signals), model, device=device)
        cases[f"{name} (synthetic from the tissue maps, CSF:GM:WM = {signals[1]}:{signals[2]}:{signals[3]}, 2 % Rician noise)"] = {
            "dice": tissue_dice(truth, result.labels.array[:, :, HELD_OUT_K_START:]), "seconds": time.perf_counter() - start}
    progress.update(0.6, "256^3 timing")
    big = np.zeros((256, 256, 256), np.float32)
    big[29:226, 11:244, 33:222] = data.t1.as_float32()
    volume = data.t1.with_array(big, Grid((256, 256, 256), (1.0, 1.0, 1.0)))
    with PeakMemory() as memory:
        start = time.perf_counter()
        result = segment(volume, model, device=device, progress=progress.sub(0.6, 1.0))
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
             "| case | Dice CSF | Dice GM | Dice WM | mean Dice | time (s) |", "|---|---:|---:|---:|---:|---:|"]
    for name, case in cases.items():
        d = case["dice"]
        lines.append(f"| {name} | {d['cerebrospinal fluid']:.4f} | {d['grey matter']:.4f} | {d['white matter']:.4f} | {d['mean']:.4f} | {case['seconds']:.1f} |")
    lines += ["", f"256^3 volume: {timing['seconds']:.1f} s on {timing['device']} (patch {tuple(timing['patch'])}, {timing['windows']} windows), "
              f"peak memory +{timing['peak_memory_mb']:.0f} MB."]
    write_text_atomic(output / "segment.md", "\n".join(lines) + "\n")
    return payload
