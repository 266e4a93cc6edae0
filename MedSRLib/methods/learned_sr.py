"""`cnn` and `gan`: pretrained 3-D super-resolution networks from the model catalog.

Each catalog entry of task ``sr`` names its method (cnn or gan), the kind of
input it was trained for (``thick-slice``: one coarse axis; ``isotropic``:
every axis coarser), the range of factors, the modality and the output
spacing it is valid for. A method picks the entry that covers the input and
the target grid, or says why none does.

The network refines the windowed-sinc interpolation of the input on the
target grid of the resampling contract, so the output grid is exact by
construction. Thick-slice models see the coarse axis last (their canonical
orientation). The uncertainty map is the expected absolute error, as for
`adapt` (methods/uncertainty.py): the departure from interpolation of the scan,
calibrated on the network's own result on pairs made from the scan
(methods/scan_pairs.py), where the truth is known. A data-consistency
projection (on by default) then makes the output reproduce the input when
re-acquired.
"""

from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from ..errors import MedSRError
from ..geometry import Grid, above_air_box, resample_to_grid
from ..progress import SILENT, Progress
from ..slice_thickness import thickness_fractions
from ..volume import Volume, check_finite
from .consistency import OWN_PROFILE, project_onto_scan
from .registry import Method, register
from .noise import noise_of_scan
from .unmeasured import handles_unmeasured
from .scan_pairs import scan_pairs
from .uncertainty import calibrate_network, inferred_detail

FACTOR_TOLERANCE = 0.05
#: the catalog's 3-D networks see 17 voxels across (8 either side); twice that keeps what they compute above the air
AIR_MARGIN_VOXELS = 16


def factors_of(volume: Volume, grid: Grid) -> np.ndarray:
    return np.asarray(volume.grid.spacing, float) / np.asarray(grid.spacing, float)


def why_not(entry: Dict, volume: Volume, grid: Grid) -> str:
    """Why catalog model ``entry`` does not cover ``volume`` restored onto ``grid`` ("" when it does)."""
    name = f"{entry['name']} {entry['version']}"
    if volume.modality != entry["modality"]:
        return f"{name} is for {entry['modality']}, the input is {volume.modality}"
    low, high = entry["valid_spacing_mm"]
    if not all(low - 1e-6 <= s <= high + 1e-6 for s in grid.spacing):
        return f"{name} is for output voxels of {low:g}-{high:g} mm"
    factors = factors_of(volume, grid)
    first, last = entry["sr"]["factors"]
    inside = (factors >= first - FACTOR_TOLERANCE) & (factors <= last + FACTOR_TOLERANCE)
    unchanged = np.abs(factors - 1.0) < 1e-6
    if entry["sr"]["kind"] == "thick-slice":
        if not (inside.sum() == 1 and unchanged.sum() == 2):
            return f"{name} refines one thick axis by x{first:g}-{last:g} and keeps the others; factors here are " \
                   + "x".join(f"{f:.3g}" for f in factors)
    elif not inside.all():
        # an isotropic model may cover a scan coarse along every axis whose coarsest axis is coarser still (2x2x3 mm):
        # the catalog says how far, from the held-out benchmark (``coarsest_axis_up_to``)
        # (the others in range, the coarsest is at least their factor, so only its upper bound needs checking)
        coarsest_up_to = entry["sr"].get("coarsest_axis_up_to")
        others_inside = np.delete(inside, int(np.argmax(factors))).all()
        if coarsest_up_to is None or not others_inside or factors.max() > coarsest_up_to + FACTOR_TOLERANCE:
            stretched = "" if coarsest_up_to is None else f" (the coarsest up to x{coarsest_up_to:g})"
            return f"{name} refines every axis by x{first:g}-{last:g}{stretched}; factors here are " + "x".join(f"{f:.3g}" for f in factors)
    return ""


def covering_entry(method: str, volume: Volume, grid: Grid) -> Dict:
    """The catalog entry of ``method`` that covers the input (the newest if several); else a clear error."""
    from ..models.catalog import load_catalog

    entries = [e for e in load_catalog() if e["task"] == "sr" and e.get("method") == method]
    if not entries:
        raise MedSRError(f"the model catalog has no `{method}` super-resolution model")
    reasons: List[str] = []
    for entry in sorted(entries, key=lambda e: tuple(int(v) for v in e["version"].split(".")), reverse=True):
        reason = why_not(entry, volume, grid)
        if not reason:
            return entry
        reasons.append(reason)
    raise MedSRError(f"no `{method}` model covers this input: " + "; ".join(reasons))


def apply_model(volume: Volume, grid: Grid, entry: Dict, progress: Progress = SILENT, device: str = "auto",
                with_uncertainty: bool = False, data_consistency: Optional[str] = OWN_PROFILE, backend: str = "torch",
                network=None, method: Optional[str] = None, pair_profile: Optional[str] = None,
                noise_sigma: Optional[float] = None):
    """Run catalog model ``entry`` with torch or ONNX Runtime (``backend``); the restored volume, or
    (volume, uncertainty map) with ``with_uncertainty``. ``network``: run this torch network (the model adapted to
    the scan, `adapt`) instead of the catalog's weights; ``method`` names it in the result's metadata;
    ``pair_profile``: the slice profile of the scan's own pairs the map is calibrated on (default: the model's);
    ``noise_sigma``: the scan's noise when the caller has estimated it (methods/noise.noise_of_scan)."""
    from ..inference import predict
    from ..models.onnx_backend import load_network

    check_finite(volume)
    if network is None:
        network, entry = load_network(entry["name"], backend, device)
    offset = float(volume.array.min()) if volume.modality == "CT" else 0.0
    scale = float(np.percentile(volume.array - offset, 99.5)) or 1.0
    data = (volume.as_float32() - offset) / scale
    progress.update(0.0, f"{entry['name']}: windowed-sinc interpolation onto the target grid")
    base = resample_to_grid(data, volume.grid, grid, "lanczos")
    factors = factors_of(volume, grid)
    thick = int(np.argmax(factors))
    canonical = np.moveaxis(base, thick, -1) if entry["sr"]["kind"] == "thick-slice" else base
    notes = []
    if backend == "onnxruntime":  # say which execution provider ONNX Runtime took (TensorRT, CUDA or the CPU)
        notes.append(f"ONNX Runtime ran on {network.session.get_providers()[0]}")
    # the network runs on the box of what is above the air, widened by twice its receptive field's reach; outside
    # it the result is the interpolation
    box = above_air_box(canonical, AIR_MARGIN_VOXELS)
    estimate, report = predict(network, canonical[box], device=device, overlap=0.25, progress=progress.sub(0.05, 0.9),
                               bytes_per_voxel=entry["input"]["bytes_per_voxel"], multiple=entry["input"]["multiple"],
                               margin=entry["input"].get("margin"))
    notes += report.notes
    restored = canonical.copy()
    restored[box] = estimate[0]
    if volume.modality == "MR" and volume.array.min() >= 0:
        restored = np.clip(restored, 0, None)  # magnitude images are never negative
    if entry["sr"]["kind"] == "thick-slice":
        restored = np.moveaxis(restored, -1, thick)
    method = method or entry["method"]
    result = volume.with_array((restored * scale + offset).astype(np.float32), grid, method=method,
                               model=f"{entry['name']} {entry['version']}", inference_device=report.device)
    if notes:  # the ONNX Runtime provider; out-of-memory fallbacks: smaller patches, or the CPU
        result = result.with_array(result.array, inference_notes="; ".join(notes))
    unprojected = result
    if noise_sigma is None and (data_consistency or with_uncertainty):
        noise_sigma = noise_of_scan(volume)
    projected_with = None
    if data_consistency:
        progress.update(0.95, "data consistency")
        projected_with = entry["sr"]["profile"] if data_consistency == OWN_PROFILE else data_consistency
        result = project_onto_scan(result, volume, projected_with, device=report.device, noise_sigma=noise_sigma)
    progress.update(1.0, "done")
    if not with_uncertainty:
        return result
    # the expected absolute error, calibrated on the scan's own pairs (as for `adapt`, methods/uncertainty.py)
    profile = pair_profile or entry["sr"]["profile"]
    widths = thickness_fractions(volume)  # the scan's slices where not as thick as their spacing (slice_thickness.py)
    pair, = scan_pairs(data, factors, entry["sr"]["kind"], profile, first_only=True,
                       noise_sigma=noise_sigma / scale, thicknesses=widths)
    calibration = calibrate_network(network, pair, scale, profile, consistent=bool(data_consistency), factors=factors,
                                    noise_sigma=noise_sigma / scale, thickness=widths[thick])
    return result, inferred_detail(result, volume, grid, method, calibration, unprojected, projected_with)


def _run(method: str):
    def run(volume: Volume, grid: Grid, progress: Progress = SILENT, device: str = "auto", with_uncertainty: bool = False,
            data_consistency: Optional[str] = OWN_PROFILE, backend: str = "torch"):
        entry = covering_entry(method, volume, grid)
        return apply_model(volume, grid, entry, progress, device, with_uncertainty, data_consistency, backend)

    return handles_unmeasured(run)


OPTIONS = {"uncertainty": "map of the expected absolute error (calibrated on the scan's own pairs)", "backend": "torch or onnxruntime",
           "data_consistency": "projection onto the input (on by default, the model's slice profile)"}
register(Method(
    name="cnn", task="sr", family="pretrained", run=_run("cnn"), options=OPTIONS,
    summary="pretrained 3-D residual CNN (EDSR/VDSR line) refining windowed-sinc interpolation; catalog models for "
            "brain MRI thick-slice x2-6 and isotropic x2; data-consistent; a 197x233x189 output in 24 s on 2 CPU cores; "
            "on thick slices of a held-out head it ends below the windowed sinc made data-consistent (auto takes self there)",
))
register(Method(
    name="gan", task="sr", family="pretrained", run=_run("gan"), options=OPTIONS,
    summary="the cnn generator fine-tuned with an adversarial loss (3-D patch discriminator), aiming at texture; "
            "on the held-out head within 0.05 dB of cnn inside the head; an explicit choice, never picked by auto",
))
