"""`adapt`: the pretrained thick-slice `cnn`, fine-tuned on the scan's own in-plane detail, then applied.

The pretrained network learnt how thick slices lose detail from its training data (the MNI template under random
contrasts, biases and rotations); the scan knows its own contrast, anatomy, noise and field of view. As `self` (after SMORE) does, the scan's sharp in-plane axes give training
pairs: the volume is acquired again with the slice profile and factor of its thick axis, but along one in-plane
axis, and interpolated back by the windowed sinc the network refines at inference. The pretrained weights are
fine-tuned on random 3-D patches of those pairs for a bounded number of steps (small learning rate, so the prior
is adapted rather than forgotten), then run on the scan exactly as `cnn` runs (thick axis last, the same
windowed-sinc start, data consistency on by default).

Isotropic scans (no sharp axis to learn from) are adapted as ZSSR does: the scan itself, acquired once more as the
isotropic `cnn` model assumes (box profile, the same factor along every coarse axis) and interpolated back onto the
scan's grid, is paired with the scan; in voxel units that is the very step the network takes from the scan to the
finer grid. On the tuning head (FreeSurfer mni305, placed; 2x2x2 mm -> 1 mm) `cnn` gained +3.13 dB inside the head
over B-spline; adapted for 30 steps (learning rate 1e-4) +3.79, 60 steps +3.69, 150 steps +3.34, 60 steps at 5e-5
+3.80, 100 at 5e-5 +3.65: hence 30 steps, 16 s of fitting on 2 cores.

Patches of an isotropic scan are 24 voxels a side (``PATCH_ISOTROPIC``; thick slices: ``PATCH``, below). Measured
on 2026-12-04 on the same tuning head (mni305 placed, 2x2x2 mm -> 1 mm; the isotropic model of today, brain-sr-iso
0.3.0, gains +3.19 dB inside the head unadapted): 30 steps of 40^3 patches +5.10 dB, 32^3 +5.15, 24^3 +5.04; one step
of two patches takes 1.6 / 0.9 / 0.35 s on the 2 cores, so the fitting falls from about 48 s to 10 s, which is what
brings `auto` on an isotropic head within a minute on this slow machine (heads-sr/file-to-file.md).

Thick slices: 120 steps of 32^3 patches (``PATCH``, ``STEPS``; 60 steps of 40^3 before 2026-12-06): a step on 32^3
takes about half the time of one on 40^3 (on the held-out head of the heads-sr benchmark 134-138 s in all, 121-123 s
before). Measured on the tuning head (mni305 placed, which
no model trained on; `brain-sr-thick` 0.3.0; gain inside the head over B-spline, 40^3 x 60 -> 32^3 x 120): 1x1x2 mm
+10.33 -> +11.18 dB, 1x1x4 mm +4.94 -> +6.22 (32^3 x 60: +5.73; 24^3 x 120: +5.68), 1x1x6 mm +3.58 -> +3.75, each
run 122-127 s on the 264^3 grid either way; on 3T18yo placed, a head the network trained on, 1x1x4 mm +3.77 ->
+3.78. Why the smaller patches learn more per second was not checked.

Uncertainty: the expected absolute error, from how far the result departs from interpolation of the scan,
calibrated on the scan's own pairs (as for `self`; methods/uncertainty.py).
"""

from __future__ import annotations

import copy
from typing import Optional

import numpy as np

from ..errors import MedSRError
from ..geometry import Grid
from ..progress import SILENT, Progress
from ..slice_thickness import thickness_fractions
from ..volume import Volume, check_finite
from .consistency import OWN_PROFILE, SCAN_PROFILE, scan_profile
from .registry import Method, register
from .noise import noise_of_scan
from .unmeasured import handles_unmeasured
from .scan_pairs import scan_pairs

#: fine-tuning steps for a thick-slice scan (see above)
STEPS = 120
#: fine-tuning steps for an isotropic scan (see above)
STEPS_ISOTROPIC = 30
#: patch edge for a thick-slice scan's pairs (see above)
PATCH = 32
#: patch edge for an isotropic scan's pairs (see above)
PATCH_ISOTROPIC = 24
BATCH = 2
LEARNING_RATE = 1e-4


def adapt_super_resolve(volume: Volume, grid: Grid, progress: Progress = SILENT, device: str = "auto",
                        steps: Optional[int] = None, profile: Optional[str] = None, seed: int = 0,
                        with_uncertainty: bool = False, data_consistency: Optional[str] = OWN_PROFILE):
    """The pretrained `cnn` that covers ``volume`` -> ``grid``, fine-tuned on the scan for ``steps`` (default: STEPS
    for thick slices, STEPS_ISOTROPIC for isotropic scans) and applied. ``profile``: the scan's slice profile, which
    the pairs are acquired with and the result projected with (default: consistency.scan_profile, the header's for a
    3-D acquisition, else a box; the thick-slice model learnt Gaussian slices and is fine-tuned to the scan's)."""
    import torch

    from ..inference import resolve_device
    from ..inference.memory import keep_freed_memory_for_reuse
    from ..models.catalog import load_model
    from .learned_sr import apply_model, covering_entry, factors_of

    check_finite(volume)
    entry = covering_entry("cnn", volume, grid)
    isotropic = entry["sr"]["kind"] == "isotropic"
    steps = (STEPS_ISOTROPIC if isotropic else STEPS) if steps is None else steps
    profile = scan_profile(volume, profile)
    if not 0 <= int(steps) <= 2000:
        raise MedSRError(f"adapt fine-tunes for 0-2000 steps (0: the pretrained network as it is), not {steps}")
    factors = factors_of(volume, grid)
    thick = int(np.argmax(factors))
    factor = float(factors[thick])
    inplane = [a for a in range(3) if a != thick]
    target = resolve_device(device)
    if target.type == "cpu":
        keep_freed_memory_for_reuse()
    network, entry = load_model(entry["name"])
    network = copy.deepcopy(network).to(target)
    offset = float(volume.array.min()) if volume.modality == "CT" else 0.0
    scale = float(np.percentile(volume.array - offset, 99.5)) or 1.0  # the normalisation `cnn` uses
    data = (volume.as_float32() - offset) / scale
    if min(data.shape) < 8:
        raise MedSRError("`adapt` needs at least 8 voxels along every axis to learn from the scan")
    noise = noise_of_scan(volume)  # pairs as noisy as the scan (methods/scan_pairs.py)
    pairs = scan_pairs(data, factors, entry["sr"]["kind"], profile, noise_sigma=noise / scale, seed=seed,
                       thicknesses=thickness_fractions(volume))  # the scan's slices as thick as recorded
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    foreground = data > np.percentile(data, 50)  # patches that touch the head, not only air
    network.train()
    optimizer = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    fit = progress.sub(0.0, 0.5)
    patch = PATCH_ISOTROPIC if isotropic else PATCH
    for step in range(int(steps)):
        progress.check_cancel()
        xs, ys = [], []
        for _ in range(BATCH):
            which = int(rng.integers(len(pairs)))
            low, high, _ = pairs[which]
            mask = foreground if isotropic else np.moveaxis(foreground, inplane[which], -1)
            for _attempt in range(10):
                size = [min(patch, n) for n in low.shape]  # (a thin scan's slice axis may hold fewer voxels)
                start = [int(rng.integers(0, n - m + 1)) for n, m in zip(low.shape, size)]
                window = tuple(slice(s, s + m) for s, m in zip(start, size))
                if mask[window].mean() > 0.1:
                    break
            xs.append(low[window])
            ys.append(high[window])
        x = torch.from_numpy(np.stack(xs)[:, None]).to(target)
        y = torch.from_numpy(np.stack(ys)[:, None]).to(target)
        loss = torch.nn.functional.l1_loss(network(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        fit.update((step + 1) / max(int(steps), 1), f"adapting {entry['name']} to the scan's in-plane detail, step {step + 1}/{steps}")
    network.eval()
    consistency = profile if data_consistency == OWN_PROFILE else data_consistency  # the scan's profile, as the pairs'
    result = apply_model(volume, grid, entry, progress.sub(0.5, 1.0), device, with_uncertainty, consistency,
                         network=network, method="adapt", pair_profile=profile,
                         noise_sigma=noise)
    result, uncertainty = result if with_uncertainty else (result, None)
    learnt_from = "the scan acquired once more" if isotropic else "the scan's in-plane detail"
    result = result.with_array(result.array, adapted=f"{entry['name']} {entry['version']} fine-tuned {steps} steps "
                                                     f"on {learnt_from} (x{factor:.3g}, {profile} profile)",
                               slice_profile=profile)
    return (result, uncertainty) if with_uncertainty else result


register(Method(
    name="adapt", task="sr", family="learned", run=handles_unmeasured(adapt_super_resolve),
    summary="the pretrained cnn fine-tuned on the scan itself for a bounded number of steps (thick slices: on its "
            "in-plane detail; isotropic: on the scan acquired once more), then applied (data-consistent): the "
            "pretrained prior, adapted to this scan",
    options={"steps": f"fine-tuning steps ({STEPS}; isotropic {STEPS_ISOTROPIC})",
             "profile": f"slice profile of the scan (unless given: kspace where its header says a 3-D acquisition, else {SCAN_PROFILE})",
             "uncertainty": "map of inferred detail", "data_consistency": "projection onto the input (on by default)"},
))
