"""Learned denoising: `denoise` (Noise2Self, fitted on the volume itself) and `ae` (pretrained autoencoder).

Both work on intensities scaled by the volume's 99.5th percentile, keep the
grid and the intensity meaning (Hounsfield units stay HU), and for MR
magnitude data remove the Rician bias of the estimate with the noise level
estimated from the volume (or given).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import MedSRError
from ..metrics import foreground_mask
from ..progress import SILENT, Progress
from ..volume import Volume, check_finite
from .noise import estimate_noise_sigma, rician_unbias
from .registry import Method, register

NOISE2SELF_ARCHITECTURE = {
    "name": "medsr.NeighbourResidualUNet",
    "arguments": {"spatial_dims": 3, "in_channels": 1, "out_channels": 1, "channels": [16, 32, 64], "strides": [2, 2], "num_res_units": 1, "norm": "batch"},
}


def _scale_of(volume: Volume) -> tuple:
    """(offset, scale) mapping intensities to about [0, 1]; CT is offset by its minimum so air is 0."""
    array = volume.array
    offset = float(array.min()) if volume.modality == "CT" else 0.0
    high = float(np.percentile(array, 99.5)) - offset
    if high <= 0:
        raise MedSRError("the volume is empty or constant: nothing to denoise")
    return offset, high


def _finish(volume: Volume, estimate: np.ndarray, offset: float, scale: float, sigma: float, step: str) -> Volume:
    out = estimate * scale
    if volume.modality == "MR" and volume.array.min() >= 0:
        out = rician_unbias(np.clip(out, 0, None), sigma)
    out = (out + offset).astype(np.float32)
    steps = ",".join(filter(None, [volume.metadata.get("enhance"), step]))
    return volume.with_array(out, enhance=steps, noise_sigma=f"{sigma:.6g}")


def noise2self(
    volume: Volume,
    progress: Progress = SILENT,
    steps: int = 400,
    patch: int = 48,
    batch: int = 4,
    mask_fraction: float = 0.03,
    sigma: Optional[float] = None,
    device: str = "auto",
    seed: int = 0,
) -> Volume:
    """Fit a small 3-D U-Net to predict each voxel from its neighbours only (blind spot), then apply it.

    The network never sees the value it must predict during fitting, so it
    cannot learn the noise, only the structure (Batson & Royer 2019).
    """
    import torch

    from ..inference import predict, resolve_device
    from ..models import build_network

    check_finite(volume)
    target = resolve_device(device)
    sigma = estimate_noise_sigma(volume) if sigma is None else float(sigma)
    offset, scale = _scale_of(volume)
    image = ((volume.as_float32() - offset) / scale).astype(np.float32)
    data = torch.from_numpy(np.ascontiguousarray(image))
    box = np.argwhere(foreground_mask(volume))
    lo, hi = box.min(axis=0), box.max(axis=0) + 1
    size = [min(patch, n) for n in image.shape]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    network = build_network(NOISE2SELF_ARCHITECTURE).to(target)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    fit = progress.sub(0.0, 0.85)
    for step in range(steps):
        patches = []
        for _ in range(batch):
            start = [int(rng.integers(max(0, min(l, n - s)), max(1, min(h, n) - s + 1))) for l, h, n, s in zip(lo, hi, image.shape, size)]
            patches.append(data[start[0] : start[0] + size[0], start[1] : start[1] + size[1], start[2] : start[2] + size[2]])
        noisy = torch.stack(patches)[:, None].to(target)
        mask = (torch.rand(noisy.shape, device=target) < mask_fraction).float()
        interpolated = torch.nn.functional.conv3d(torch.nn.functional.pad(noisy, (1,) * 6, mode="replicate"), network.neighbours)
        blind = noisy * (1 - mask) + interpolated * mask
        loss = (((network(blind) - noisy) ** 2) * mask).sum() / mask.sum().clamp(min=1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        fit.update((step + 1) / steps, f"fitting step {step + 1}/{steps}")
    estimate, _ = predict(network, image, device=str(target), overlap=0.25, multiple=4, progress=progress.sub(0.85, 1.0))
    return _finish(volume, estimate[0], offset, scale, sigma, "denoise")


#: the noise-level input channel holds this times sigma in the scaled image's units (about 0.1-1.2 for 1-12 %)
NOISE_LEVEL_GAIN = 10.0


def autoencoder_input(image: np.ndarray, sigma: float, in_channels: int) -> np.ndarray:
    """The network's input, channels first: the scaled image, and for a noise-conditioned model (2 input
    channels) a constant channel of NOISE_LEVEL_GAIN * sigma, sigma in the scaled image's units."""
    if in_channels == 1:
        return image[None]
    if in_channels != 2:
        raise MedSRError(f"a denoising autoencoder takes 1 or 2 input channels, not {in_channels}")
    return np.stack([image, np.full_like(image, NOISE_LEVEL_GAIN * sigma)])


def autoencoder(volume: Volume, progress: Progress = SILENT, sigma: Optional[float] = None, device: str = "auto",
                model: str = "denoise-ae", mirror: bool = True) -> Volume:
    """The pretrained 3-D denoising autoencoder of the catalog (trained on MNI data with simulated Rician noise).

    A noise-conditioned model is told the noise level: ``sigma`` when given,
    else the estimate from the volume (the same estimator fed it in training).
    With ``mirror`` (the default) every patch is also denoised mirrored along
    each combination of the three axes and the eight results are averaged:
    eight times the work for a cleaner estimate (the model was trained with
    random flips, so each mirrored pass is an equally good, partly independent
    estimate). ``mirror=False`` makes one pass.
    """
    from ..inference import predict
    from ..models import load_model

    check_finite(volume)
    network, entry = load_model(model)
    sigma = estimate_noise_sigma(volume) if sigma is None else float(sigma)
    offset, scale = _scale_of(volume)
    image = ((volume.as_float32() - offset) / scale).astype(np.float32)
    inputs = autoencoder_input(image, sigma / scale, entry["architecture"]["arguments"].get("in_channels", 1))
    estimate, _ = predict(network, inputs, device=device, overlap=0.25, multiple=entry["input"].get("multiple", 8),
                          progress=progress, mirror_axes=(0, 1, 2) if mirror else ())
    # the autoencoder was trained to output the noise-free signal itself, so no Rician correction on top
    out = (np.clip(estimate[0], 0 if volume.modality == "MR" else None, None) * scale + offset).astype(np.float32)
    steps = ",".join(filter(None, [volume.metadata.get("enhance"), "ae"]))
    return volume.with_array(out, enhance=steps, noise_sigma=f"{sigma:.6g}")


register(Method(
    name="denoise", task="enhance", family="learned", run=noise2self,
    summary="self-supervised (Noise2Self) 3-D U-Net fitted on the volume itself; no training data needed",
    options={"steps": "fitting steps (400)", "sigma": "noise level (estimated)"},
))
