"""`medsr bench --task enhance`: denoisers against oracle-tuned classical filters at 3, 5 and 9 % Rician noise.

Test volume: the superior part of the MNI T1 (axial index k >= 112), which no
training patch of the learned models touched. Classical filters get every
setting of a small grid and are credited with their best PSNR per noise level
(tuned on the truth, so their figure is an upper bound).
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy.ndimage import binary_erosion, sobel

from ..errors import MedSRError
from ..io import read_volume, write_text_atomic
from ..methods import get, methods
from ..metrics import foreground_mask, image_metrics
from ..metrics.intensity import psnr_from_mse
from ..progress import SILENT, Progress
from ..sample_data import sample_path
from ..simulate import add_noise
from ..train.tissue import TRAIN_K_END
from .comparison import PeakMemory, machine_description
from .report import refuse_existing_report

LEVELS = (0.03, 0.05, 0.09)
CLASSICAL_GRID = {
    "curvature-flow": [{"iterations": n} for n in (3, 6, 10, 20)],
    "gradient-diffusion": [{"iterations": n, "conductance": c} for n in (5, 10, 20) for c in (1.0, 2.0, 4.0)],
    "curvature-diffusion": [{"iterations": n, "conductance": c} for n in (5, 10, 20) for c in (1.0, 2.0, 4.0)],
}
#: settings of learned methods shown beside their default row
LEARNED_VARIANTS = {"ae": [{"mirror": False}]}


def held_out_truth(input_path: Optional[Path] = None):
    volume = read_volume(input_path or sample_path("t1"))
    if input_path is None:
        from ..geometry import Grid

        origin = volume.grid.ijk_to_lps() @ np.array([0, 0, TRAIN_K_END, 1.0])
        grid = Grid((volume.grid.size[0], volume.grid.size[1], volume.grid.size[2] - TRAIN_K_END), volume.grid.spacing,
                    tuple(origin[:3]), volume.grid.direction)
        volume = volume.with_array(np.ascontiguousarray(volume.array[:, :, TRAIN_K_END:]), grid)
    return volume


def edge_figures(truth: np.ndarray, estimate: np.ndarray, mask: np.ndarray, data_range: float) -> Dict[str, float]:
    """PSNR on the 10 % strongest edges of the truth, and how much edge contrast survives (1 = all)."""
    def gradient(a):
        a = a.astype(np.float32)
        return np.sqrt(sum(sobel(a, axis=axis) ** 2 for axis in range(3)))

    g_truth = gradient(truth)
    edges = mask & (g_truth >= np.percentile(g_truth[mask], 90))
    inner = edges & binary_erosion(mask, iterations=2)  # without the foreground's outline (a skull-stripped image's cut)
    return {"edge_psnr": psnr_from_mse(float(((estimate[edges] - truth[edges]) ** 2).mean()), data_range),
            "inner_edge_psnr": psnr_from_mse(float(((estimate[inner] - truth[inner]) ** 2).mean()), data_range),
            "edge_contrast": float(gradient(estimate)[edges].mean() / g_truth[edges].mean())}


def interior_of(mask: np.ndarray) -> np.ndarray:
    """The foreground without its 2-voxel outline: in a skull-stripped image the outline is a cut from brain to
    zero that a scan with its skull does not have."""
    return binary_erosion(mask, iterations=2)


def run_enhance_bench(output: Path, input_path: Optional[Path] = None, learned: Optional[Sequence[str]] = None,
                      overwrite: bool = False, progress: Progress = SILENT, seed: int = 0, noise_draws: int = 1) -> dict:
    """The full table on the noise draw ``seed``; with ``noise_draws`` > 1 the foreground gains of the learned
    methods' defaults over the oracle-best classical filter are also measured on draws seed+1, seed+2, ..."""
    if noise_draws < 1:
        raise MedSRError(f"the number of noise draws must be at least 1, not {noise_draws}")
    output = Path(output)
    refuse_existing_report(output, "enhance", overwrite)
    truth = held_out_truth(input_path)
    reference = truth.as_float32()
    mask = foreground_mask(truth)
    interior = interior_of(mask)
    learned = [m.name for m in methods("enhance") if m.family == "learned"] if learned is None else list(learned)
    results: Dict[str, Dict] = {}
    for index, level in enumerate(LEVELS):
        part = progress.sub(index / len(LEVELS), (index + 1 / noise_draws) / len(LEVELS))
        noisy = truth.with_array(add_noise(reference, "rician", level, np.random.default_rng(seed)))
        rows: List[Dict] = [_row("noisy input", "-", reference, noisy.array, mask, 0.0, None, interior)]
        best_foreground = {"psnr_db": -np.inf}  # over every filter and setting, whichever row the table shows
        best_interior = {"psnr_db": -np.inf}
        for name, settings in CLASSICAL_GRID.items():
            best = None
            for options in settings:
                part.check_cancel()
                start = time.perf_counter()
                estimate = get("enhance", name).run(noisy, Progress(), **options)
                row = _row(name, json.dumps(options), reference, estimate.array, mask, time.perf_counter() - start, None, interior)
                if best is None or row["psnr_db"] > best["psnr_db"]:
                    best = row
                if row["psnr_foreground_db"] > best_foreground["psnr_db"]:
                    best_foreground = {"method": name, "setting": row["setting"], "psnr_db": row["psnr_foreground_db"]}
                if row["psnr_interior_db"] > best_interior["psnr_db"]:
                    best_interior = {"method": name, "setting": row["setting"], "psnr_db": row["psnr_interior_db"]}
            rows.append(best)
        for name in learned:
            part.update(0.5, f"{name} at {level:.0%}")
            with PeakMemory() as memory:
                start = time.perf_counter()
                estimate = get("enhance", name).run(noisy, part.sub(0.5, 0.5))
                seconds = time.perf_counter() - start
            rows.append(_row(name, "default", reference, estimate.array, mask, seconds, memory.peak_mb, interior))
            for options in LEARNED_VARIANTS.get(name, []):
                start = time.perf_counter()
                estimate = get("enhance", name).run(noisy, part.sub(0.5, 0.5), **options)
                rows.append(_row(name, json.dumps(options), reference, estimate.array, mask, time.perf_counter() - start, None, interior))
        classical_best = max(r["psnr_db"] for r in rows if r["method"] in CLASSICAL_GRID)
        for r in rows:
            r["gain_over_best_classical_db"] = r["psnr_db"] - classical_best
            r["foreground_gain_over_best_classical_db"] = r["psnr_foreground_db"] - best_foreground["psnr_db"]
            r["interior_gain_over_best_classical_db"] = r["psnr_interior_db"] - best_interior["psnr_db"]
        draws = [{"seed": seed, "best_classical_foreground_db": best_foreground["psnr_db"],
                  "foreground_db": {r["method"]: r["psnr_foreground_db"] for r in rows if r["setting"] == "default"}}]
        for draw in range(1, noise_draws):
            draw_part = progress.sub((index + draw / noise_draws) / len(LEVELS), (index + (draw + 1) / noise_draws) / len(LEVELS))
            draws.append(_foreground_draw(truth, mask, level, seed + draw, learned, draw_part))
        for d in draws:
            d["foreground_gain_db"] = {name: v - d["best_classical_foreground_db"] for name, v in d["foreground_db"].items()}
        results[f"rician {level:.0%}"] = {"noise_sigma": level * float(reference.max()), "methods": rows,
                                          "best_classical_foreground": best_foreground, "best_classical_interior": best_interior,
                                          "noise_draws": draws}
    payload = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": "MNI ICBM152 2009a T1, axial slices k >= 112 (never seen in training)" if input_path is None else str(input_path),
        "size": list(truth.grid.size),
        "machine": machine_description(),
        "notes": "Rician noise with sigma = level * max. Classical rows: best PSNR over the listed settings, tuned on the "
                 "truth (an upper bound for them). PSNR/SSIM data range: the truth's 0.5-99.5 percentile range; "
                 "fg = foreground; fg gain against the best foreground PSNR of any classical filter at any setting; "
                 "edge PSNR on the truth's 10 % strongest gradients inside the foreground, all of them and without "
                 "those within 2 voxels of the foreground's outline (the template is skull-stripped, so its outline is "
                 "a cut from brain to zero); edge contrast = mean gradient on all of them relative to the truth's. "
                 "Interior = the foreground without its 2-voxel outline (that cut), with its own best classical "
                 "filter and setting.",
        "levels": results,
    }
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "enhance.json", json.dumps(payload, indent=2) + "\n")
    write_text_atomic(output / "enhance.md", _markdown(payload))
    progress.update(1.0, f"benchmark written to {output}")
    return payload


def _foreground_draw(truth, mask, level: float, seed: int, learned: Sequence[str], progress: Progress) -> dict:
    """Foreground PSNR of the oracle-best classical filter and of each learned method's default on one noise draw."""
    reference = truth.as_float32()
    noisy = truth.with_array(add_noise(reference, "rician", level, np.random.default_rng(seed)))

    def foreground_psnr(estimate):
        return image_metrics(reference, estimate.array, mask)["foreground"]["psnr"]

    best = -np.inf
    for name, settings in CLASSICAL_GRID.items():
        for options in settings:
            progress.check_cancel()
            best = max(best, foreground_psnr(get("enhance", name).run(noisy, Progress(), **options)))
    progress.update(0.5, f"noise draw {seed} at {level:.0%}")
    return {"seed": seed, "best_classical_foreground_db": best,
            "foreground_db": {name: foreground_psnr(get("enhance", name).run(noisy, progress.sub(0.5, 1.0))) for name in learned}}


def _row(method, setting, truth, estimate, mask, seconds, peak, interior):
    m = image_metrics(truth, estimate, mask)
    return {"method": method, "setting": setting, "psnr_db": m["whole"]["psnr"], "ssim": m["whole"]["ssim"],
            "psnr_foreground_db": m["foreground"]["psnr"], "ssim_foreground": m["foreground"]["ssim"],
            "psnr_interior_db": psnr_from_mse(float(((estimate[interior] - truth[interior]) ** 2).mean()), m["data_range"]),
            **edge_figures(truth, estimate, mask, m["data_range"]), "seconds": seconds, "peak_memory_mb": peak}


def _markdown(payload: dict) -> str:
    m = payload["machine"]
    lines = ["# MedSR enhancement benchmark", "", f"Date {payload['date']}; input: {payload['input']} {tuple(payload['size'])}; "
             f"machine: {m['cpu']}, {m['cpu_cores_usable']} usable cores ({m.get('torch_threads', '?')} torch threads), torch {m['torch']}; device: CPU.", "", payload["notes"]]
    for level, result in payload["levels"].items():
        lines += ["", f"## {level} (sigma {result['noise_sigma']:.2f})", "",
                  "Best classical foreground PSNR, any filter at any setting: "
                  f"{result['best_classical_foreground']['psnr_db']:.2f} dB ({result['best_classical_foreground']['method']} "
                  f"`{result['best_classical_foreground']['setting']}`); interior: {result['best_classical_interior']['psnr_db']:.2f} dB "
                  f"({result['best_classical_interior']['method']} `{result['best_classical_interior']['setting']}`).", "",
                  "| method | setting | PSNR (dB) | gain vs best classical (dB) | SSIM | PSNR fg | fg gain vs best classical fg (dB) "
                  "| SSIM fg | PSNR interior | interior gain vs best classical interior (dB) | edge PSNR | edge PSNR without outline "
                  "| edge contrast | time (s) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["methods"]:
            lines.append(f"| {r['method']} | `{r['setting']}` | {r['psnr_db']:.2f} | {r['gain_over_best_classical_db']:+.2f} | {r['ssim']:.4f} | "
                         f"{r['psnr_foreground_db']:.2f} | {r['foreground_gain_over_best_classical_db']:+.2f} | {r['ssim_foreground']:.4f} | "
                         f"{r['psnr_interior_db']:.2f} | {r['interior_gain_over_best_classical_db']:+.2f} | "
                         f"{r['edge_psnr']:.2f} | {r['inner_edge_psnr']:.2f} | {r['edge_contrast']:.3f} | {r['seconds']:.1f} |")
    draws = [(level, d) for level, result in payload["levels"].items() for d in result.get("noise_draws", [])]
    if len({d["seed"] for _, d in draws}) > 1:
        names = list(draws[0][1]["foreground_gain_db"])
        lines += ["", "## Noise draws", "",
                  "Foreground gain (dB) of each learned method's default over the best classical filter at any setting "
                  "(tuned on the truth of that draw), on independent noise draws (seeds); the tables above are the first.", "",
                  "| level | seed | best classical fg (dB) | " + " | ".join(f"{n} fg gain" for n in names) + " |",
                  "|---|---:|---:|" + "---:|" * len(names)]
        for level, d in draws:
            lines.append(f"| {level} | {d['seed']} | {d['best_classical_foreground_db']:.2f} | "
                         + " | ".join(f"{d['foreground_gain_db'][n]:+.2f}" for n in names) + " |")
        for level, result in payload["levels"].items():
            for n in names:
                gains = [d["foreground_gain_db"][n] for d in result["noise_draws"]]
                lines.append(f"\n{level}, {n}: foreground gain {np.mean(gains):+.2f} dB on average, {min(gains):+.2f} at worst, "
                             f"over {len(gains)} noise draws.")
    return "\n".join(lines) + "\n"
