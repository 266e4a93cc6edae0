"""`self`: self-supervised super-resolution of thick-slice scans from their own in-plane detail (after SMORE).

The sharp in-plane axes show what the anatomy looks like at fine resolution.
Degrading them the way the slice axis was acquired (same slice profile and
factor) gives training pairs for free; a small 2-D network learns to undo that
degradation and is then applied to the through-plane slices of the volume,
interpolated onto the target grid, in both through-plane orientations. No
training data, any modality. A data-consistency projection then makes the
result reproduce the input exactly when re-acquired.

Training patches are centred on what is above the air: a head's field of view is mostly air, and patches drawn
anywhere taught the network little that the data-consistency projection does not already restore. Tuned on the
3T18yo head placed as a scanner would (1x1x4 mm, 300 steps; measured 2026-12-03): RMS error inside the head without
the projection 29.8 with patches anywhere, 22.8 centred above the air (31.3 for the untrained network, i.e. Lanczos);
with the projection the gain over B-spline inside the head rose 3.10 -> 3.16 dB (1x1x2 mm 3.63 -> 3.69, 1x1x6 mm
2.45 -> 2.51) and the uncertainty map's top-10 % error ratio 3.06 -> 3.28 (1x1x6 mm 2.83 -> 3.03).
"""

from __future__ import annotations

import numpy as np

from ..acquisition_type import acquisition_type
from ..errors import MedSRError
from ..geometry import Grid, above_air_box, degrade_and_interpolate, refinement_kind, resample_to_grid
from ..geometry.box import AIR_FRACTION
from ..progress import SILENT, Progress
from ..slice_thickness import thickness_fraction
from ..volume import Volume, check_finite
from .consistency import OWN_PROFILE, SCAN_PROFILE, project_onto_scan, scan_profile
from .noise import noise_of_scan
from .unmeasured import MASKED_KIND, UNMEASURED_KEY, handles_unmeasured
from .uncertainty import (acquired_again_and_interpolated, acquisition_operator, calibrate, consistent_pair,
                          degraded_axis_distance, inferred_detail)
from .registry import Method, register


#: the 2-D network's receptive field reaches 6 voxels (six 3x3 convolutions)
BOX_MARGIN_VOXELS = 8


def _restorer(width: int = 32, depth: int = 6):
    """Residual 2-D CNN: ``depth`` convolutions of ``width`` channels; the correction starts at zero."""
    import torch

    layers = [torch.nn.Conv2d(1, width, 3, padding=1), torch.nn.ReLU()]
    for _ in range(depth - 2):
        layers += [torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU()]
    last = torch.nn.Conv2d(width, 1, 3, padding=1)
    torch.nn.init.zeros_(last.weight)  # the correction starts at zero, yet every layer gets gradients
    torch.nn.init.zeros_(last.bias)
    body = torch.nn.Sequential(*layers, last)

    class Restorer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body

        def forward(self, x):
            return x + self.body(x)

    return Restorer()


def self_super_resolve(volume: Volume, grid: Grid, progress: Progress = SILENT, profile: str | None = None,
                       steps: int = 300, device: str = "auto", seed: int = 0, with_uncertainty: bool = False,
                       data_consistency: str | None = OWN_PROFILE):
    """The restored volume; with ``with_uncertainty`` also the map of its expected absolute error, in the volume's
    units (methods/uncertainty.py: the departure from Lanczos interpolation, calibrated on in-plane pairs).
    ``profile``: the scan's slice profile, which the pairs are acquired with and the result projected with
    (default: consistency.scan_profile, the header's for a 3-D acquisition, else a box)."""
    import torch

    from ..inference import resolve_device

    check_finite(volume)
    profile = scan_profile(volume, profile)
    reason = not_applicable(volume, grid)
    if reason:
        raise MedSRError(reason)
    target = resolve_device(device)
    if target.type == "cpu":
        from ..inference.memory import keep_freed_memory_for_reuse

        keep_freed_memory_for_reuse()
    thick = int(np.argmax(volume.grid.spacing))
    factor = volume.grid.spacing[thick] / grid.spacing[thick]
    width = thickness_fraction(volume, thick)  # the slices' profile in slice spacings (slice_thickness.py)
    inplane = [a for a in range(3) if a != thick]
    scale = float(np.percentile(volume.array, 99.5)) or 1.0
    offset = float(volume.array.min()) if volume.modality == "CT" else 0.0
    data = (volume.as_float32() - offset) / scale
    # --- training pairs from the in-plane axes -------------------------------------------------------------
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    pairs_x, pairs_y = [], []
    exact_factors = []
    noise = noise_of_scan(volume)  # the scan's, in its units; the pairs' thick voxels carry it too
    # the pairs' noise from a generator of its own: which patches the fit draws does not hang on the scan's noise
    noise_rng = np.random.default_rng([seed, 1])
    for axis in inplane:  # degrade along each in-plane axis in turn; the other in-plane axis stays sharp
        degraded, exact = degrade_and_interpolate(data, axis, factor, profile, noise / scale, noise_rng, width)
        exact_factors.append(exact)
        other = [a for a in inplane if a != axis][0]
        # 2-D slices (degraded axis first, sharp axis second), one per position along the slice axis
        pairs_x.append(np.transpose(degraded, (thick, axis, other)))
        pairs_y.append(np.transpose(data, (thick, axis, other)))
    # patches are centred on what is above the air: a head's field of view is mostly air, which teaches nothing
    centres = [np.argwhere(y[:, ::4, ::4] > AIR_FRACTION) * (1, 4, 4) for y in pairs_y]
    network = _restorer().to(target)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    size = 48
    fit = progress.sub(0.0, 0.6)
    for step in range(steps):
        xs, ys = [], []
        for _ in range(16):
            which = int(rng.integers(2))
            x, y = pairs_x[which], pairs_y[which]
            if len(centres[which]):
                s, i, j = (int(v) for v in centres[which][rng.integers(len(centres[which]))])
                i0 = min(max(i - size // 2, 0), max(x.shape[1] - size, 0))
                j0 = min(max(j - size // 2, 0), max(x.shape[2] - size, 0))
            else:
                s = int(rng.integers(x.shape[0]))
                i0 = int(rng.integers(max(1, x.shape[1] - size + 1)))
                j0 = int(rng.integers(max(1, x.shape[2] - size + 1)))
            xs.append(x[s, i0:i0 + size, j0:j0 + size])
            ys.append(y[s, i0:i0 + size, j0:j0 + size])
        shape = min(a.shape for a in xs)
        xb = torch.from_numpy(np.stack([a[: shape[0], : shape[1]] for a in xs])[:, None]).to(target)
        yb = torch.from_numpy(np.stack([a[: shape[0], : shape[1]] for a in ys])[:, None]).to(target)
        loss = torch.nn.functional.l1_loss(network(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        fit.update((step + 1) / steps, f"learning from in-plane detail, step {step + 1}/{steps}")
    # --- apply to the through-plane slices of the interpolated volume ---------------------------------------------
    base = resample_to_grid(data, volume.grid, grid, "lanczos")
    network.eval()
    # the network runs on the box of what is above the air, widened by more than its receptive field; outside it
    # the result is the interpolation (the box is 59 % of 711-2C's field of view as distributed, 91 % of the
    # heads-sr benchmark's placed head)
    box = above_air_box(base, BOX_MARGIN_VOXELS)
    region = base[box]
    outputs = []
    for index, other in enumerate(inplane):  # slices spanned by the slice axis and one in-plane axis
        moved = np.moveaxis(region, (thick, other), (1, 2))  # (remaining axis, slice axis, other in-plane axis)
        result = np.empty_like(moved)
        with torch.no_grad():
            for start in range(0, moved.shape[0], 8):
                progress.update(0.6 + 0.35 * (index + start / moved.shape[0]) / 2, "restoring through-plane slices")
                chunk = torch.from_numpy(np.ascontiguousarray(moved[start:start + 8]))[:, None].to(target)
                result[start:start + 8] = network(chunk)[:, 0].cpu().numpy()
        outputs.append(np.moveaxis(result, (1, 2), (thick, other)))
    combined = base.copy()
    combined[box] = np.mean(outputs, axis=0)
    restored = unprojected = volume.with_array((combined * scale + offset).astype(np.float32), grid, method="self",
                                               slice_profile=profile)
    projected_with = None
    if data_consistency:
        progress.update(0.97, "data consistency")
        projected_with = profile if data_consistency == OWN_PROFILE else data_consistency
        restored = project_onto_scan(restored, volume, projected_with, device=str(target), noise_sigma=noise)
    if not with_uncertainty:
        return restored
    progress.update(0.98, "calibrating the uncertainty on in-plane pairs")
    with torch.no_grad():  # the network on the first in-plane axis's pairs, where the truth is known
        start = pairs_x[0]
        restored_pairs = np.concatenate([network(torch.from_numpy(np.ascontiguousarray(start[s:s + 8]))[:, None].to(target))[:, 0].cpu().numpy()
                                         for s in range(0, start.shape[0], 8)])
    distance = degraded_axis_distance(start.shape[1], exact_factors[0])[None, :, None]  # pairs: (slice, degraded, sharp)
    unprojected_pairs = None
    if data_consistency:  # the pairs made consistent with what they measured, as the result is with the scan
        acquisition, _ = acquisition_operator(start.shape[1], exact_factors[0], profile, thickness=width)
        unprojected_pairs = restored_pairs
        restored_pairs = consistent_pair(restored_pairs, pairs_y[0], [None, acquisition, None], noise / scale)
        # the departure from the pairs' restoration acquired again, as the result's is (inferred_detail)
        start = acquired_again_and_interpolated(restored_pairs, 1, factor, profile, width)
    calibration = calibrate(restored_pairs, start, pairs_y[0], scale, 1, distance, unprojected=unprojected_pairs)
    return restored, inferred_detail(restored, volume, grid, "self", calibration, unprojected, projected_with)


def not_applicable(volume: Volume, grid: Grid) -> str:
    """Why `self` cannot restore ``volume`` onto ``grid`` ("" when it can)."""
    thick = int(np.argmax(volume.grid.spacing))
    factor = volume.grid.spacing[thick] / grid.spacing[thick]
    if factor < 1.5:
        return f"`self` restores a thick-slice axis; this volume's thickest axis is only {factor:.2f}x coarser than the target"
    if any(grid.size[a] != volume.grid.size[a] for a in range(3) if a != thick):
        return "`self` keeps the in-plane grid and refines the slice axis only; give a target spacing that changes only that axis"
    return ""


register(Method(
    name="self", task="sr", family="learned", run=handles_unmeasured(self_super_resolve),
    summary="self-supervised: learns from the scan's own in-plane detail and restores the thick-slice axis (SMORE idea); "
            "no training data, any modality; data-consistent",
    options={"steps": "fitting steps (300)", "profile": f"slice profile of the scan (unless given: kspace where its header says a 3-D acquisition, else {SCAN_PROFILE})", "uncertainty": "map of inferred detail",
             "data_consistency": "projection onto the input (on by default, with the scan's slice profile)"},
))


def auto_preferences() -> dict:
    """The shipped evidence (Resources/Models/auto-sr.json, written by `medsr bench --task heads-sr`): per kind of
    scan, the learned methods in the order of their measured gain over B-spline on a held-out head; {} if absent."""
    import json

    from ..models.catalog import models_folder

    try:
        return json.loads((models_folder() / "auto-sr.json").read_text())
    except (MedSRError, OSError, ValueError):
        return {}


def auto(volume: Volume, grid: Grid, progress: Progress = SILENT, device: str = "auto", with_uncertainty: bool = False,
         data_consistency: str | None = OWN_PROFILE, profile: str | None = None):
    """The learned method that the benchmark on held-out heads ranks first among those that apply to this input
    (a `cnn` model must cover it; `self` needs a thick-slice axis), else Lanczos. Without shipped evidence: a
    covering `cnn`, else `self`, else Lanczos. A scan masked on its own grid (methods/unmeasured.py) is ranked by the
    benchmark's skull-stripped case where the evidence has one. The choice, why, and the figure behind it are kept in
    the output's metadata (``auto_choice``). ``profile``: the scan's slice profile, for the methods that learn from
    the scan (`self`, `adapt`; default consistency.scan_profile: the header's for a 3-D acquisition, else a box); a
    pretrained `cnn` assumes its model's and is passed over for a scan given another, or whose header implies
    another."""
    from .learned_sr import apply_model, covering_entry

    evidence = auto_preferences()
    if profile is None and acquisition_type(volume) == "3D":  # the header's (acquisition_type.py)
        profile = scan_profile(volume)
    kind = refinement_kind(volume.grid, grid)  # a 2x2x3 mm scan brought to 1 mm: the isotropic scans' evidence
    if UNMEASURED_KEY in volume.metadata and kind + MASKED_KIND in evidence.get("order", {}):
        kind += MASKED_KIND  # a scan masked on its own grid (methods/unmeasured.py): the evidence of such scans
    ranked = evidence.get("order", {}).get(kind)
    if ranked is None:
        ranked = [{"method": "cnn"}, {"method": "self"}]
    passed = []
    for place, choice in enumerate(ranked, 1):
        why = (f"ranked {place} of {len(ranked)} for {kind} scans on a held-out head with skull: "
               f"+{choice['worst_gain_head_db']:.2f} dB inside the head over B-spline in the worst case measured ({evidence.get('source', '')})"
               if "worst_gain_head_db" in choice else "no benchmark evidence shipped: the default order")
        if choice["method"] == "cnn":
            try:
                entry = covering_entry("cnn", volume, grid)
            except MedSRError as error:
                passed.append(f"cnn: {error}")
                continue
            if profile and profile != entry["sr"]["profile"]:
                passed.append(f"cnn: model {entry['name']} assumes a {entry['sr']['profile']} slice profile, the scan a {profile} one")
                continue
            progress.update(0.0, f"auto: pretrained model {entry['name']} {entry['version']}")
            result = apply_model(volume, grid, entry, progress, device, with_uncertainty, data_consistency)
            return _noted(result, f"cnn (model {entry['name']} {entry['version']}; {why})", with_uncertainty)
        if choice["method"] in ("adapt", "self"):
            reason = not_applicable(volume, grid) if choice["method"] == "self" else ""
            if choice["method"] == "adapt":  # adapt starts from a covering cnn
                try:
                    covering_entry("cnn", volume, grid)
                except MedSRError as error:
                    reason = str(error)
            if reason:
                passed.append(f"{choice['method']}: {reason}")
                continue
            from .adapt_sr import adapt_super_resolve

            run, what = ((adapt_super_resolve, "the pretrained cnn adapted to this scan") if choice["method"] == "adapt"
                         else (self_super_resolve, "self-supervised restoration of the thick-slice axis"))
            progress.update(0.0, f"auto: {what}")
            result = run(volume, grid, progress, device=device, with_uncertainty=with_uncertainty,
                         data_consistency=data_consistency, **({"profile": profile} if profile else {}))
            return _noted(result, f"{choice['method']} ({why})", with_uncertainty)
    reasons = "; ".join(passed) or f"no learned method beat B-spline on {kind} scans of a held-out head"
    if grid.matches(volume.grid):  # a cohort's volume already on the target grid: nothing to infer, the scan itself
        reasons = "the output grid is the scan's own: nothing to super-resolve"
    elif with_uncertainty:
        raise MedSRError(f"auto chose lanczos, which gives no uncertainty map ({reasons})")
    from .interpolation import interpolate_volume

    result = interpolate_volume(volume, grid, progress, "lanczos")
    result = result.with_array(result.array, auto_choice=f"lanczos ({reasons})")
    if not with_uncertainty:
        return result
    nothing_inferred = volume.with_array(np.zeros(grid.size, np.float32), grid, method="auto",
                                         kind="uncertainty (expected absolute error, in the scan's units: zero, "
                                              "the output is the scan on its own grid and no voxel was inferred)")
    return result, nothing_inferred


def _noted(result, note: str, with_uncertainty: bool):
    if with_uncertainty:
        return result[0].with_array(result[0].array, auto_choice=note), result[1]
    return result.with_array(result.array, auto_choice=note)


register(Method(
    name="auto", task="sr", family="dispatch", run=handles_unmeasured(auto),
    summary="picks the learned method that the benchmark on held-out heads ranks first among those that apply "
            "(Resources/Models/auto-sr.json), else Lanczos; the choice, why and the figure are printed and stored",
    options={"uncertainty": "map of inferred detail (cnn or self)",
             "profile": f"slice profile of the scan, for self and adapt (unless given: kspace where its header says a 3-D acquisition, else {SCAN_PROFILE})",
             "data_consistency": "projection onto the input (on by default)"},
))
