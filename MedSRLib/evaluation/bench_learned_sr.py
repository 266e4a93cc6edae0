"""`medsr bench --task sr-learned`: learned super-resolution against interpolation on data held out from training.

The pretrained models were trained on patches of the MNI T1 below axial index
112 (see ``train/sr_data.py``). The figures here cover only axial indices
120 and above of that volume; every method sees the whole simulated scan.
Given another volume (``--input``), none of which was used in training, the
whole volume is measured. A second part times the default pretrained model
on the whole MNI-sized output.
"""

from __future__ import annotations

import datetime
import json
import math
import time
from pathlib import Path
from typing import Dict, Optional

from ..io import read_volume, write_text_atomic
from ..progress import SILENT, Progress
from ..sample_data import sample_path
from ..simulate import Acquisition, degrade
from ..train.sr_data import HELD_OUT_FRACTION
from .comparison import compare_methods, machine_description
from .report import markdown_table, refuse_existing_report

SCENARIOS: Dict[str, Acquisition] = {
    "thick-slice x2": Acquisition(factors=(1.0, 1.0, 2.0), sampling="gaussian"),
    "thick-slice x4": Acquisition(factors=(1.0, 1.0, 4.0), sampling="gaussian"),
    "thick-slice x6": Acquisition(factors=(1.0, 1.0, 6.0), sampling="gaussian"),
    "isotropic x2": Acquisition(factors=(2.0, 2.0, 2.0), sampling="box"),
}
METHODS = ("bspline", "lanczos", "self", "cnn", "gan")
BASELINE = "bspline"


def run_learned_sr_bench(output: Path, input_path: Optional[Path] = None, device: str = "cpu", overwrite: bool = False,
                         progress: Progress = SILENT) -> dict:
    """Write sr.json and sr.md into ``output``."""
    output = Path(output)
    refuse_existing_report(output, "sr", overwrite)
    source = Path(input_path) if input_path else sample_path("t1")
    truth = read_volume(source)
    first = int(round(truth.grid.size[2] * HELD_OUT_FRACTION)) if input_path is None else 0
    results = {}
    for index, (name, acquisition) in enumerate(SCENARIOS.items()):
        part = progress.sub(index / (len(SCENARIOS) + 1), (index + 1) / (len(SCENARIOS) + 1))
        part.update(0.0, name)
        comparison = compare_methods(truth, acquisition, METHODS, part, measured_from_k=first, device=device)
        rows = comparison.rows()
        truth_gradient = _gradient_magnitude(truth.as_float32()[:, :, first:])[comparison.mask].mean()
        for row, result in zip(rows, comparison.results):
            restored_gradient = _gradient_magnitude(result.volume.array[:, :, first:])[comparison.mask].mean()
            row["sharpness_ratio"] = float(restored_gradient / truth_gradient)
        baseline = next(r for r in rows if r["method"] == BASELINE)
        for row in rows:
            row["gain_over_bspline_db"] = row["psnr_db"] - baseline["psnr_db"]
            row["gain_over_bspline_foreground_db"] = row["psnr_foreground_db"] - baseline["psnr_foreground_db"]
        results[name] = {"acquisition": acquisition.as_dict(), "methods": rows, "not_applicable": comparison.not_applicable}
    speed = _whole_volume_speed(truth, device, progress.sub(len(SCENARIOS) / (len(SCENARIOS) + 1), 1.0))
    machine = machine_description()
    machine["device"] = device
    payload = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": source.name,
        "measured_region": f"axial index k >= {first} of {truth.grid.size[2]} (training patches lay below k = 112)"
        if first else "the whole volume (not used in training)",
        "machine": machine,
        "scenarios": results,
        "speed": speed,
    }
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "sr.json", json.dumps(payload, indent=2) + "\n")
    write_text_atomic(output / "sr.md", _markdown(payload))
    progress.update(1.0, f"benchmark written to {output}")
    return payload


def _gradient_magnitude(array):
    """Voxel-wise gradient magnitude (Sobel): how much edge and texture an image carries."""
    import numpy as np
    from scipy.ndimage import sobel

    return np.sqrt(sum(sobel(array.astype(np.float32), axis=a) ** 2 for a in range(3)))


def _whole_volume_speed(truth, device: str, progress: Progress) -> dict:
    """Seconds of the default pretrained model (thick-slice x4) and of `self` for the whole output, file I/O excluded."""
    from ..methods import get

    low = degrade(truth, SCENARIOS["thick-slice x4"])
    figures = {"output_size": list(truth.grid.size)}
    voxels = math.prod(truth.grid.size)
    for index, name in enumerate(("cnn", "self")):
        start = time.perf_counter()
        get("sr", name).run(low, truth.grid, progress.sub(index / 2, (index + 1) / 2), device=device)
        seconds = time.perf_counter() - start
        figures[name] = {"seconds": round(seconds, 2), "output_voxels_per_second": round(voxels / seconds)}
    figures["cnn"]["network_gflop_per_output_voxel"] = network_flops_per_voxel("cnn", low, truth.grid) / 1e9
    figures["cnn"]["useful_gflop_per_second"] = round(
        figures["cnn"]["network_gflop_per_output_voxel"] * figures["cnn"]["output_voxels_per_second"], 1)
    return figures


def network_flops_per_voxel(method: str, low, grid) -> float:
    """Floating-point operations of the chosen model's network per output voxel (torch's FLOP counter, 32^3 input)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..methods.learned_sr import covering_entry
    from ..models import load_model

    network, _ = load_model(covering_entry(method, low, grid)["name"])
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(torch.zeros(1, 1, 32, 32, 32))
    return counter.get_total_flops() / 32 ** 3


def _markdown(payload: dict) -> str:
    m = payload["machine"]
    lines = [
        "# Learned super-resolution benchmark",
        "",
        f"Date {payload['date']}; input `{payload['input']}`; measured on {payload['measured_region']}; "
        f"machine: {m['cpu']}, {m['cpu_cores_usable']} usable cores, torch {m['torch']}; device: {m['device']}.",
        "",
        "PSNR data range: the truth's 0.5-99.5 percentile range (of the measured part); fg = foreground (Otsu mask). "
        "Learned methods are data-consistent (their default). Time is the method alone, file I/O excluded.",
    ]
    for name, result in payload["scenarios"].items():
        lines += ["", f"## {name} ({Acquisition(**result['acquisition']).describe()})", "", markdown_table(result["methods"]), ""]
        lines.append("Gain over B-spline (dB, whole / foreground): " + ", ".join(
            f"{r['method']} {r['gain_over_bspline_db']:+.2f} / {r['gain_over_bspline_foreground_db']:+.2f}"
            for r in result["methods"] if r["method"] != BASELINE))
        lines.append("\nSharpness (mean gradient magnitude in the foreground, relative to the truth's; 1 = as sharp): " +
                     ", ".join(f"{r['method']} {r['sharpness_ratio']:.3f}" for r in result["methods"]))
        lines += [f"\nNot applicable: {method}: {reason}" for method, reason in result["not_applicable"].items()]
    speed = payload["speed"]
    lines += ["", f"## Whole-volume speed (thick-slice x4 input, output {tuple(speed['output_size'])})", "",
              "| method | time (s) | output voxels/s |", "|---|---:|---:|"]
    for name in ("cnn", "self"):
        lines.append(f"| {name} | {speed[name]['seconds']:.2f} | {speed[name]['output_voxels_per_second']:,} |")
    cnn = speed["cnn"]
    lines += ["", f"The cnn network costs {cnn['network_gflop_per_output_voxel'] * 1e3:.2f} MFLOP per output voxel (torch's "
              f"FLOP counter), so the whole run did {cnn['useful_gflop_per_second']:.1f} GFLOP/s of useful network work "
              "(window overlap, interpolation and data consistency not counted as useful)."]
    return "\n".join(lines) + "\n"
