"""`medsr bench --task heads-sr`: super-resolution on a held-out head with skull, placed as a scanner would, and the
evidence that orders `auto`'s preferences (written to ``auto-sr.json`` beside the report; copy it into
Resources/Models to ship it).

Held out: FreeSurfer's 711-2C head (no SR model trained on it; both `cnn` models were trained on the 3T18yo head and
the MNI template below k = 112), rotated 12/-10/15 degrees, shifted, on a sagittal 1 mm grid of its own (evaluation/placement.py).
Cases: 1x1x2, 1x1x4 and 1x1x6 mm thick slices along the grid's k axis, each with a Gaussian slice profile (FWHM =
thickness) and with a box one (a 2-D acquisition's near-rectangular slice, or slices averaged from a finer volume),
which the methods are not told (they assume their default, methods/consistency.SCAN_PROFILE), 2x2x2 mm
isotropic and 2x2x3 mm (coarse along every axis, as ITK's real KmeansTest subject; box), each brought back to the
1 mm grid; 1x1x4 mm with Rician noise, and that again skull-stripped on its own thick-slice grid (outside the
711-2B intracranial mask, placed with the head, set to 0: methods/unmeasured.py), scored against the 1 mm head inside
the same mask. PSNR and SSIM on the whole volume and inside the head (the truth's Otsu foreground; for the
skull-stripped case the brain 3 voxels in from the mask's edge), gains over B-spline.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Optional

import numpy as np
from scipy import ndimage

from ..errors import MedSRError
from ..geometry import Grid
from ..io import write_text_atomic
from ..methods import get
from ..methods.consistency import SCAN_PROFILE
from ..methods.consistent_interpolation import consistent_interpolation
from ..methods.unmeasured import EDGE_BAND_MM, MASKED_KIND
from ..models.catalog import find_entry
from ..metrics import evaluate, foreground_mask
from ..progress import SILENT, Progress
from ..volume import Volume
from ..simulate import Acquisition, add_noise, degrade
from .comparison import PeakMemory, machine_description, run_line
from ..io.public_heads import load_head
from .placement import centre_of, place, scanner_grid, scanner_placement
from .report import refuse_existing_report

#: case -> (voxel size over the truth's, slice profile, Rician noise as a share of the maximum: a real scan's noise,
#: which the noise-free cases leave out; skull-stripped on the scan's own grid after it was acquired)
CASES = {"thick-slice 1x1x2 mm, Gaussian profile": ((1, 1, 2), "gaussian", 0.0, False),
         "thick-slice 1x1x4 mm, Gaussian profile": ((1, 1, 4), "gaussian", 0.0, False),
         "thick-slice 1x1x6 mm, Gaussian profile": ((1, 1, 6), "gaussian", 0.0, False),
         "thick-slice 1x1x2 mm, box profile": ((1, 1, 2), "box", 0.0, False),
         "thick-slice 1x1x4 mm, box profile": ((1, 1, 4), "box", 0.0, False),
         "thick-slice 1x1x6 mm, box profile": ((1, 1, 6), "box", 0.0, False),
         "isotropic 2x2x2 mm": ((2, 2, 2), "box", 0.0, False),
         "every axis coarse 2x2x3 mm": ((2, 2, 3), "box", 0.0, False),
         "thick-slice 1x1x4 mm, Gaussian profile, Rician noise 1 %": ((1, 1, 4), "gaussian", 0.01, False),
         "thick-slice 1x1x4 mm, Gaussian profile, Rician noise 1 %, skull-stripped": ((1, 1, 4), "gaussian", 0.01, True)}
#: not a method of its own: the windowed sinc made consistent with the scan, the start every learned method refines
#: and the projection every one ends with, so the rows show what each learned method adds to it
CONSISTENT_SINC = "lanczos + data consistency"
#: worst-case gains inside the head (dB) this close are a tie for `auto`'s order, which the faster method wins:
#: `self`'s figures moved by up to 0.08 dB between two runs of unchanged code (Docs/figures.md, 2026-12-05 00:56 UTC)
TIE_DB = 0.1
METHODS = ("bspline", CONSISTENT_SINC, "self", "cnn", "adapt")


def placed_head(with_brain_mask: bool = False):
    """The held-out head placed as a scanner would; with ``with_brain_mask``, (head, its 711-2B intracranial mask
    placed the same way, bool)."""
    head = load_head("711-2c")
    centre = centre_of(head.grid)
    grid = scanner_grid(head, spacing=(1.0, 1.0, 1.0), margin_mm=0.0)
    grid = Grid(tuple(n + (-n) % 12 for n in grid.size), grid.spacing, grid.origin, grid.direction)  # whole slabs of 2, 4, 6
    placed = place(head, scanner_placement(centre=centre), grid)
    if not with_brain_mask:
        return placed
    mask = place(load_head("711-2b"), scanner_placement(centre=centre), grid, labels=True)
    return placed, np.asarray(mask.array) > 0


def skull_stripped(low: Volume, brain: np.ndarray, truth: Volume, factors, sampling: str):
    """(``low`` with its voxels outside ``brain``, acquired as ``low`` was and over one half, set to 0 — a scan
    skull-stripped on its own grid; ``truth`` inside ``brain``, 0 outside: what it is scored against)."""
    share = degrade(truth.with_array(brain.astype(np.float32)), Acquisition(factors, sampling)).as_float32()
    stripped = low.with_array(np.where(share > 0.5, low.as_float32(), 0).astype(np.float32))
    return stripped, truth.with_array(np.where(brain, truth.as_float32(), 0).astype(np.float32))


def case_inputs(case: str, head: Volume, brain: np.ndarray) -> tuple:
    """(The scan of ``case``, that scan before its noise, the truth it is scored against, the voxels scored where not
    the whole head (else None)) from the placed ``head`` and its ``brain`` mask (placed_head)."""
    factors, sampling, noise, stripped = CASES[case]
    truth, scored = head, None
    low = clean = degrade(truth, Acquisition(factors, sampling))
    if noise:  # the same noise for every method (seeded)
        low = low.with_array(add_noise(low.as_float32(), "rician", noise, np.random.default_rng(0)))
    if stripped:  # scored inside the brain, 3 voxels in from the mask's edge, where the mask on the scan's thick
        # grid and the 1 mm one agree (the truth beyond the scan's mask is not the scan's to restore)
        low, truth = skull_stripped(low, brain, head, factors, sampling)
        scored = truth.with_array(ndimage.binary_erosion(brain, iterations=3).astype(np.uint8))
    return low, clean, truth, scored


def run_heads_sr_bench(output: Path, device: str = "cpu", overwrite: bool = False, progress: Progress = SILENT) -> dict:
    output = Path(output)
    refuse_existing_report(output, "heads-sr", overwrite)
    head, brain = placed_head(with_brain_mask=True)
    results = {}
    steps = len(CASES) * len(METHODS)
    for case_index, case in enumerate(CASES):
        factors, sampling, noise, stripped = CASES[case]
        low, clean, truth, scored = case_inputs(case, head, brain)
        voxels = residual_voxels(low, stripped)
        consistency = {"noise_rms_pct": noise_rms_pct(low, clean, voxels)} if noise else {}
        for method_index, method_name in enumerate(METHODS):
            progress.update((case_index * len(METHODS) + method_index) / steps, f"{case}: {method_name}")
            row, projected = _method_row(method_name, low, truth, scored, device)
            results.setdefault(case, {})[method_name] = row
            if projected is not None:  # how far from the scan, as truly acquired
                row["consistency_residual_pct"] = residual_pct(projected, low, factors, sampling, voxels)
                row.update(consistency)
    for case, row in results.items():
        base = row["bspline"]
        for method_name, r in row.items():
            if "psnr_whole" in r:
                r["gain_whole_db"] = r["psnr_whole"] - base["psnr_whole"]
                r["gain_head_db"] = r["psnr_head"] - base["psnr_head"]
    payload = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine_description(), "device": device,
               "validated_on": "FreeSurfer 711-2C average head with skull, placed rotated 12/-10/15 degrees, shifted "
                               "7/-11/9 mm, on a sagittal 1 mm grid (its skull-stripped case: inside the FreeSurfer 711-2B "
                               "intracranial mask, placed with it); no SR model was trained on it",
               "trained_on": trained_on(),
               "grid": repr(truth.grid), "cases": results}
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "heads-sr.json", json.dumps(payload, indent=2) + "\n")
    write_text_atomic(output / "auto-sr.json", json.dumps(auto_preferences(payload), indent=2) + "\n")
    write_text_atomic(output / "heads-sr.md", _markdown(payload))
    progress.update(1.0, "done")
    return payload


def _method_row(method_name: str, low: Volume, truth: Volume, scored: Optional[Volume], device: str) -> tuple:
    """(One method's figures on one case, its result where it was projected onto the scan, else None: for the
    caller's consistency residual.)"""
    if method_name == CONSISTENT_SINC:  # (through the learned methods' handling of a masked scan's outside)
        start = time.perf_counter()
        restored = consistent_interpolation(get("sr", "lanczos").run, SCAN_PROFILE)(low, truth.grid, SILENT)
        row = _image_row(truth, restored, scored, seconds=time.perf_counter() - start)
        return row, restored
    method = get("sr", method_name)
    options = {} if method.family == "classical" else {"device": device}
    if method_name in ("self", "adapt"):  # their uncertainty map costs one B-spline interpolation more
        options["with_uncertainty"] = True
    try:
        with PeakMemory() as memory:
            start = time.perf_counter()
            restored = method.run(low, truth.grid, SILENT, **options)
            seconds = time.perf_counter() - start
    except MedSRError as error:  # e.g. self on an isotropic scan
        return {"not_applicable": str(error)}, None
    uncertainty = None
    if isinstance(restored, tuple):
        restored, uncertainty = restored
    row = _image_row(truth, restored, scored, seconds=seconds, peak_memory_mb=memory.peak_mb,
                     process_peak_memory_mb=memory.process_peak_mb)
    if uncertainty is None and method_name == "cnn":  # its map is made in a second run, not timed (the time is the restoration alone)
        scored_restored, uncertainty = method.run(low, truth.grid, SILENT, with_uncertainty=True, **options)
    else:
        scored_restored = restored
    if uncertainty is not None:
        row["uncertainty"] = uncertainty_figures(uncertainty.as_float32(), np.abs(scored_restored.as_float32() - truth.as_float32()),
                                                 np.asarray(foreground_mask(truth) if scored is None else scored.array) > 0)
    return row, (restored if "consistency_residual_after" in restored.metadata else None)


def residual_voxels(low: Volume, stripped: bool) -> np.ndarray:
    """Where the consistency residual is taken: every voxel of the scan; of a scan skull-stripped on its own grid, the
    voxels it kept farther from its mask's edge than EDGE_BAND_MM and a slice (nearer, a kept voxel's slice profile
    reaches the band where every method's result fades to the fill value: methods/unmeasured.py)."""
    scan = low.as_float32()
    if not stripped:
        return np.ones(scan.shape, bool)
    return ndimage.distance_transform_edt(scan != 0, sampling=low.grid.spacing) > EDGE_BAND_MM + max(low.grid.spacing)


def _pct_of_range(difference: np.ndarray, low: Volume, voxels: np.ndarray) -> float:
    scan = low.as_float32()
    span = float(scan.max() - scan.min()) or 1.0
    return 100.0 * float(np.sqrt(np.mean(difference[voxels] ** 2))) / span


def residual_pct(restored: Volume, low: Volume, factors, sampling: str, voxels: np.ndarray) -> float:
    """RMS of ``restored`` acquired again as the scan truly was (its own slice profile ``sampling``, whichever the
    method assumed) minus the scan, in % of the scan's range, over ``voxels`` (:func:`residual_voxels`)."""
    again = degrade(restored, Acquisition(factors, sampling)).as_float32()
    return _pct_of_range(again - low.as_float32(), low, voxels)


def noise_rms_pct(low: Volume, clean: Volume, voxels: np.ndarray) -> float:
    """RMS of the noise the scan ``low`` carries (``low`` minus ``clean``, the scan before its noise) over the voxels
    of the residual, in % of the scan's range: a projection that leaves the noise in the scan unfitted, as it is
    meant to, has a residual about as large."""
    return _pct_of_range(low.as_float32() - clean.as_float32(), low, voxels)


def _image_row(truth: Volume, restored: Volume, scored: Optional[Volume] = None, **timing) -> dict:
    """PSNR and SSIM of ``restored`` against ``truth``, whole and inside the head (or ``scored``, a mask), with
    ``timing``'s figures."""
    figures = evaluate(truth, restored, scored, "image")
    return {"psnr_whole": figures["whole"]["psnr"], "psnr_head": figures["foreground"]["psnr"],
            "ssim_whole": figures["whole"]["ssim"], "ssim_head": figures["foreground"]["ssim"], **timing}


def trained_on() -> str:
    """What the catalog's super-resolution networks learnt from (each entry's training data, to its first ';' outside
    brackets)."""
    parts = []
    for kind, name in (("isotropic cnn", "brain-sr-iso"), ("thick-slice cnn", "brain-sr-thick")):
        entry = find_entry(name)
        parts.append(f"{kind} ({name} {entry['version']}): {_first_clause(entry['training']['data'])}")
    return "; ".join(parts + ["self: each scan itself", "adapt: the covering cnn (thick-slice or isotropic) fine-tuned on each scan itself"])


def _first_clause(text: str) -> str:
    depth = 0
    for index, character in enumerate(text):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if character == ";" and depth == 0:
            return text[:index]
    return text


def uncertainty_figures(uncertainty: np.ndarray, error: np.ndarray, inside: np.ndarray) -> dict:
    """How well an uncertainty map tracks the true absolute error inside the head: Spearman's rho (every 7th voxel),
    the mean error of the 10 % most uncertain voxels over that of the rest, and the map's mean over the error's (1 for a
    map in the error's own units and scale)."""
    from scipy.stats import spearmanr

    u, e = uncertainty[inside], error[inside]
    top = u >= np.quantile(u, 0.9)
    return {"spearman_rho": float(spearmanr(u[::7], e[::7]).statistic),
            "top10_error_ratio": float(e[top].mean() / max(float(e[~top].mean()), 1e-12)),
            "mean_map_over_mean_error": float(u.mean() / max(float(e.mean()), 1e-12))}


def auto_preferences(payload: dict) -> dict:
    """For each kind of scan, the learned methods in the order of their measured gain inside the head in the worst
    case (those that beat B-spline only), with the figures behind each place; worst cases within TIE_DB of each other
    are a tie, which the faster method (mean time over the kind's cases) wins."""
    kinds = {}
    for case, row in payload["cases"].items():
        kind = _kind(case)
        for method, r in row.items():
            if method not in ("bspline", CONSISTENT_SINC) and "gain_head_db" in r:
                kinds.setdefault(kind, {}).setdefault(method, []).append((case, r["gain_head_db"], r["gain_whole_db"],
                                                                          r["seconds"]))
    preferences = {}
    for kind, methods in kinds.items():
        entries = [{"method": method, "worst_gain_head_db": round(min(g for _, g, _, _ in cases), 2),
                    "mean_seconds": round(float(np.mean([t for _, _, _, t in cases])), 1),
                    "gains": {case: {"head_db": round(g, 2), "whole_db": round(w, 2)} for case, g, w, _ in cases}}
                   for method, cases in methods.items() if min(g for _, g, _, _ in cases) > 0]
        preferences[kind] = _faster_first_within_a_tie(sorted(entries, key=lambda e: -e["worst_gain_head_db"]))
    return {"source": "medsr bench --task heads-sr (Testing/Benchmarks/heads-sr)", "date": payload["date"],
            "validated_on": payload["validated_on"], "tie_db": TIE_DB, "order": preferences}


def _faster_first_within_a_tie(ranked: list) -> list:
    """``ranked`` (best worst-case gain first) with each neighbour that is within TIE_DB of the one before it and
    faster moved ahead of it, until none is."""
    ranked = list(ranked)
    moved = True
    while moved:
        moved = False
        for i in range(len(ranked) - 1):
            ahead, behind = ranked[i], ranked[i + 1]
            if (ahead["worst_gain_head_db"] - behind["worst_gain_head_db"] <= TIE_DB
                    and behind["mean_seconds"] < ahead["mean_seconds"]):
                ranked[i], ranked[i + 1], moved = behind, ahead, True
    return ranked


def _kind(case: str) -> str:
    """The kind of scan whose `auto` order a case informs: "isotropic" for a scan coarse along every axis (2x2x2 and
    2x2x3 mm: geometry.refinement_kind), else "thick-slice"; with MASKED_KIND after it for a scan masked on its own
    grid (methods/unmeasured.py), which `auto` orders by its own evidence."""
    factors, _, _, stripped = CASES[case]
    kind = "isotropic" if all(f > 1 for f in factors) else "thick-slice"
    return kind + MASKED_KIND if stripped else kind


def _markdown(payload: dict) -> str:
    lines = ["# Super-resolution on a held-out head with skull", "", run_line(payload), "",
             f"Validated on: {payload['validated_on']}. Trained on: {payload['trained_on']}. Grid: {payload['grid']}.", "",
             "| case | method | PSNR whole (dB) | gain whole | PSNR head (dB) | gain head | SSIM head | time (s) | peak memory, MB: rise (process) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for case, row in payload["cases"].items():
        for method, r in row.items():
            if "not_applicable" in r:
                lines.append(f"| {case} | {method} | n/a: {r['not_applicable']} | | | | | | |")
                continue
            memory = f"{r['peak_memory_mb']:.0f}" if "peak_memory_mb" in r else ""
            if "process_peak_memory_mb" in r:
                memory += f" ({r['process_peak_memory_mb']:.0f})"
            lines.append(f"| {case} | {method} | {r['psnr_whole']:.2f} | {r['gain_whole_db']:+.2f} | {r['psnr_head']:.2f} | "
                         f"{r['gain_head_db']:+.2f} | {r['ssim_head']:.4f} | {r['seconds']:.1f} | {memory} |")
    lines += ["", "The methods that learn from the scan (`self`, `adapt`) are not told its slice profile: they assume "
              f"their default, a {SCAN_PROFILE} (`--slice-profile`); the pretrained `cnn` assumes its model's.",
              "", f"`{CONSISTENT_SINC}` is not a method of its own: the windowed-sinc (Lanczos) interpolation that every "
              "learned method refines, projected onto the scan as `self`'s and `adapt`'s results are (with their default "
              f"profile, a {SCAN_PROFILE}; data consistency, down to the scan's noise: methods/consistency.py); a learned "
              "method's gain over it is what its network adds.",
              "", "Peak memory: the process's resident memory above its level before the method, measured after freed "
              "memory was handed back to the system, and in brackets the benchmark process's own peak during the "
              "method (the benchmark's data included)."]
    checks = [(case, method, r) for case, row in payload["cases"].items() for method, r in row.items()
              if "consistency_residual_pct" in r or "uncertainty" in r]
    if checks:
        lines += ["", "Data consistency (RMS of the result acquired again as the input truly was, with its own slice "
                  "profile whichever the method assumed, minus the input, in % of the input's range; of a skull-stripped "
                  "scan over the voxels it kept farther from its mask's edge than the band where a result fades into the "
                  f"mask ({EDGE_BAND_MM:g} mm) and one slice) and, where the run gave one, how the uncertainty map tracks the true absolute error "
                  "inside the head (Spearman's rho; mean error of the 10 % most uncertain voxels over the rest's; the map's "
                  "mean over the true error's: 1 for a map in the error's own units, as `self`'s and `adapt`'s expected "
                  "absolute error is meant to be).", "",
                  "| case | method | consistency residual (% of range) | the scan's noise, RMS (% of range) | uncertainty rho | top-10 % error ratio | map mean / error mean |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for case, method, r in checks:
            u = r.get("uncertainty", {})
            residual = f"{r['consistency_residual_pct']:.4f}" if "consistency_residual_pct" in r else ""
            noise = f"{r['noise_rms_pct']:.2f}" if "noise_rms_pct" in r else ""
            lines.append(f"| {case} | {method} | {residual} | {noise} | {u.get('spearman_rho', float('nan')):.2f} | "
                         f"{u.get('top10_error_ratio', float('nan')):.2f} | "
                         f"{u.get('mean_map_over_mean_error', float('nan')):.2f} |".replace("nan", ""))
    return "\n".join(lines) + "\n"
