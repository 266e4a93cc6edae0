"""Patch-wise inference of any network over a whole volume, bounded in memory by the patch.

MONAI's ``sliding_window_inference`` does the tiling and the blending (Gaussian, or for
networks without striding each voxel from a window that saw its whole receptive field); this
module adds what a product needs around it: a patch size chosen from free
memory, mixed precision on GPUs, progress and cancel, and an out-of-memory
fallback (smaller patches, then the CPU) that says what it did.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence

import numpy as np
import torch

from ..errors import MedSRError
from ..progress import SILENT, Progress
from .device import resolve_device

MIN_PATCH = 32
CPU_MAX_PATCH = 128


@dataclass
class InferenceReport:
    device: str
    patch_size: tuple
    windows: int
    notes: List[str] = field(default_factory=list)


def window_count(shape: Sequence[int], patch: Sequence[int], overlap) -> int:
    """Windows MONAI's sliding window visits (same scan-interval rule); ``overlap`` one fraction or one per axis."""
    overlaps = overlap if isinstance(overlap, (tuple, list)) else (overlap,) * len(shape)
    total = 1
    for n, p, o in zip(shape, patch, overlaps):
        p = min(p, n)
        step = max(int(p * (1 - o)), 1)
        total *= 1 if n <= p else math.ceil((n - p) / step) + 1
    return total


def choose_patch(shape: Sequence[int], device: torch.device, bytes_per_voxel: float, multiple: int = 16) -> tuple:
    """Largest cubic patch (a multiple of ``multiple``) whose activations fit in half the free memory."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        limit = 1024
    else:
        import psutil

        free = psutil.virtual_memory().available
        limit = CPU_MAX_PATCH  # bigger CPU patches do not run faster, they only use more memory
    side = int((0.5 * free / bytes_per_voxel) ** (1 / 3)) // multiple * multiple
    side = max(MIN_PATCH, min(side, limit))
    # never larger than the volume (rounded down to the network's multiple): padding a patch with zeros
    # shows the network an edge that is not there
    return tuple(min(side, n // multiple * multiple) if n >= multiple else _round_up(n, multiple) for n in shape)


def even_tiles(shape: Sequence[int], largest: Sequence[int], margin: int, multiple: int = 8) -> tuple:
    """(patch, overlap per axis) covering ``shape`` with as few, as equal windows as possible, each no larger than
    ``largest`` and overlapping by at least ``margin`` voxels.

    For networks with a small receptive field a fixed fractional overlap wastes
    most of the work (a 233-voxel axis in 128-voxel windows at 25 % overlap
    takes three windows of 128); equal windows with just the margin the network
    needs take the least.
    """
    patch, overlaps = [], []
    for n, most in zip(shape, largest):
        if n <= most:
            patch.append(n)
            overlaps.append(0.0)
            continue
        tiles = math.ceil((n - margin) / (most - margin))
        side = min(most, _round_up(math.ceil((n + (tiles - 1) * margin) / tiles), multiple))
        step = math.ceil((n - side) / (tiles - 1))  # MONAI's scan interval that gives exactly ``tiles`` windows
        patch.append(side)
        overlaps.append(1.0 - (step + 0.5) / side)  # MONAI truncates side * (1 - overlap) to an integer
    return tuple(patch), tuple(overlaps)


#: weight, per axis, of a window's outer voxels where the network saw the window's edge instead of the volume; the
#: weights of the axes multiply, so of the windows that see a voxel the one that saw its whole receptive field along
#: more axes decides (10^4 times the weight per axis), and a voxel near the volume's own face, where every window is
#: at its edge, still gets its value
EDGE_WEIGHT = 1e-4


def trusted_interior_weights(window: Sequence[int], shape: Sequence[int], reach: int) -> torch.Tensor:
    """(1, 1, *window) blending weights: the product over the axes the windows tile (``window`` shorter than
    ``shape``) of 1 inside and EDGE_WEIGHT within ``reach`` voxels of either face. With windows overlapping by at
    least twice the network's ``reach``, every voxel is seen by some window from at least ``reach`` voxels inside it
    along every axis, so a network without striding gives what it gives run on the whole volume at once."""
    weights = torch.ones(tuple(window))
    for axis, (side, n) in enumerate(zip(window, shape)):
        if side < n and reach > 0:
            profile = torch.ones(side)
            profile[:reach] = EDGE_WEIGHT
            profile[side - reach:] = EDGE_WEIGHT
            view = [1] * len(window)
            view[axis] = side
            weights = weights * profile.view(view)
    return weights[None, None]


def _mirror_combinations(axes: Sequence[int]) -> list:
    """Every non-empty combination of spatial ``axes`` as tensor dims of a (batch, channel, i, j, k) patch."""
    axes = sorted(set(int(a) for a in axes))
    if any(a not in (0, 1, 2) for a in axes):
        raise MedSRError(f"mirror axes must be spatial axes 0, 1 or 2, not {axes}")
    return [tuple(a + 2 for a in combo) for n in range(1, len(axes) + 1) for combo in itertools.combinations(axes, n)]


def _round_up(n: int, multiple: int) -> int:
    return int(math.ceil(n / multiple) * multiple)


def _is_out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in text or "can't allocate memory" in text


def predict(
    network: Callable[[torch.Tensor], torch.Tensor],
    image: np.ndarray,
    device: str = "auto",
    patch_size: Optional[Sequence[int]] = None,
    overlap: float = 0.25,
    bytes_per_voxel: float = 4096.0,
    amp: bool = True,
    progress: Progress = SILENT,
    multiple: int = 16,
    margin: Optional[int] = None,
    mirror_axes: Sequence[int] = (),
) -> tuple:
    """Run ``network`` over a (C, i, j, k) or (i, j, k) float32 array; returns (output (C', i, j, k), report).

    Patches run on ``device``; the blended output accumulates on the CPU, so GPU
    memory is bounded by the patch, not the volume. With ``margin`` (voxels, for
    networks without striding whose receptive field is ``margin + 1`` across)
    the windows tile the volume evenly with that overlap instead of the fraction
    ``overlap``, and each voxel is taken from a window that saw all its
    receptive field (trusted_interior_weights), so the result is the network's
    on the whole volume, free of seams. With
    ``mirror_axes`` (spatial axes 0-2) each patch is also run mirrored along
    every combination of them, mirrored back and averaged (the test-time
    mirroring of nnU-Net; 2^len(mirror_axes) network passes per patch).
    """
    from monai.inferers import sliding_window_inference

    target = resolve_device(device)
    if target.type == "cpu":
        from .memory import keep_freed_memory_for_reuse

        keep_freed_memory_for_reuse()
    data = torch.from_numpy(np.ascontiguousarray(image[None] if image.ndim == 3 else image, dtype=np.float32))[None]
    shape = data.shape[2:]
    patch = tuple(patch_size) if patch_size else choose_patch(shape, target, bytes_per_voxel, multiple)
    mirrors = _mirror_combinations(mirror_axes)
    notes: List[str] = []
    if isinstance(network, torch.nn.Module):
        network.eval()
    while True:
        window, overlaps = (patch, overlap) if margin is None else even_tiles(shape, patch, margin, multiple)
        windows = window_count(shape, window, overlaps)
        weights = None if margin is None else trusted_interior_weights(window, shape, margin // 2)
        done = [0]

        def predictor(batch: torch.Tensor) -> torch.Tensor:
            progress.check_cancel()
            use_amp = amp and target.type == "cuda"
            batch = batch.to(target)
            with torch.autocast(device_type=target.type, dtype=torch.bfloat16, enabled=use_amp):
                out = network(batch).float()
                for dims in mirrors:
                    progress.check_cancel()
                    out += torch.flip(network(torch.flip(batch, dims)), dims).float()
            out /= len(mirrors) + 1
            done[0] += batch.shape[0]
            progress.update(done[0] / windows, f"patch {done[0]}/{windows} on {target.type}")
            return out

        try:
            with torch.no_grad():
                if isinstance(network, torch.nn.Module):
                    network.to(target)
                output = sliding_window_inference(
                    data, roi_size=window, sw_batch_size=1, predictor=predictor, overlap=overlaps, mode="gaussian",
                    sw_device=target, device=torch.device("cpu"), roi_weight_map=weights,
                )
            return output[0].numpy(), InferenceReport(str(target), tuple(window), windows, notes)
        except Exception as error:  # noqa: BLE001 - only out-of-memory is handled, everything else re-raised
            if not _is_out_of_memory(error):
                raise
            if target.type == "cuda":
                torch.cuda.empty_cache()
            if min(patch) > MIN_PATCH:
                smaller = tuple(max(MIN_PATCH, p // 2 // multiple * multiple) for p in patch)
                notes.append(f"out of memory on {target} with patch {patch}; retrying with {smaller}")
                patch = smaller
            elif target.type != "cpu":
                notes.append(f"out of memory on {target} even with patch {patch}; falling back to the CPU")
                target = torch.device("cpu")
            else:
                raise MedSRError(f"out of memory on the CPU even with {patch} patches; close other programs or use a machine with more memory") from None
            progress.update(0.0, notes[-1])
