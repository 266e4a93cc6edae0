"""Train the denoising autoencoder: clean MNI patches (real T1 and randomised contrasts) with Rician noise added.

The network is a residual U-Net *without normalisation layers*: batch
statistics of two patches at training time and running statistics at
inference disagree, and a denoiser must not rescale what it was given
(the reason EDSR dropped batch normalisation). Inputs are scaled as
inference scales a volume (by its 99.5th percentile), with a random factor
around it so that the scale a whole noisy volume gets does not matter.
Each patch's L1 is divided by its noise level: with the plain L1 the errors at
12 % noise outweigh those at 1-3 % several times over, and the network learnt to
smooth low-noise images (the brain's outline most) as if they were noisy.
The network is told the noise level (a second input channel, 0.5.0): without it
one set of weights must denoise every level alike, and weighting the loss only
moved the error from one level to another. The level it is told is the
estimate from the noisy image itself (the patch in training, the volume at
inference), never the true sigma, so training sees the estimator's errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from ..inference import predict, resolve_device
from ..methods.denoise import autoencoder_input
from ..methods.noise import noise_sigma_of_array
from ..metrics.intensity import psnr_from_mse
from ..progress import SILENT, Progress
from ..simulate import add_noise
from .loop import prepare_run, run_steps, weight_average
from .synth import _bias_field
from .tissue import HELD_OUT_K_START, T1_REFERENCE, TRAIN_K_END, load_tissue_data, training_window

# The first level keeps the full resolution (stride 1): MONAI's UNet joins its skip connections after each
# level's strided convolution, so with stride 2 at the top (0.2.0) every correction passed through half
# resolution. Measured on the held-out slab, the full-resolution level raised foreground PSNR by 1.0-1.4 dB and
# edge PSNR by 1.5 dB (0.3.0); that model still softened the brain's outline by about a voxel, which the
# per-noise-level loss below (0.4.0) reduced. The second input channel is the noise level (0.5.0).
ARCHITECTURE = {
    "name": "medsr.ResidualUNet",
    "arguments": {"spatial_dims": 3, "in_channels": 2, "out_channels": 1, "channels": [8, 16, 32, 64, 128], "strides": [1, 2, 2, 2], "num_res_units": 1, "norm": None},
}
PATCH = 40
NOISE_RANGE = (0.01, 0.12)
VALIDATION_LEVELS = (0.03, 0.05, 0.09)


def clean_patch(data, rng: np.random.Generator, real_fraction: float = 0.5) -> np.ndarray:
    """A noise-free patch from the training part: the real T1 or a random tissue contrast, scaled to [0, ~1]."""
    window = training_window(data.labels, PATCH, rng)
    if rng.random() < real_fraction:
        image = data.t1.as_float32()[window] / T1_REFERENCE
    else:
        means = rng.uniform(0.05, 1.0, 4).astype(np.float32)
        means[0] = 0.0
        image = np.einsum("c...,c->...", data.probabilities[(slice(None),) + window], means) / means.max()
    if rng.random() < 0.5:
        image = image * _bias_field(image.shape, rng, 0.1)
    flips = [a for a in range(3) if rng.random() < 0.5]
    return np.ascontiguousarray(np.flip(image, flips) if flips else image, dtype=np.float32)


def noisy_pair(clean: np.ndarray, rng: np.random.Generator):
    """(noisy, clean, level): Rician noise of sigma = level * the volume's maximum, level uniform in NOISE_RANGE, at a random scale."""
    scale = float(rng.uniform(0.85, 1.15))
    level = float(rng.uniform(*NOISE_RANGE))
    sigma = level * 255.0 / T1_REFERENCE
    real = clean + rng.normal(0.0, sigma, clean.shape).astype(np.float32)
    imaginary = rng.normal(0.0, sigma, clean.shape).astype(np.float32)
    return (np.sqrt(real * real + imaginary * imaginary) * scale).astype(np.float32), (clean * scale).astype(np.float32), level


def input_channels(network) -> int:
    return next(m for m in network.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)).in_channels


def network_input(noisy: np.ndarray, in_channels: int) -> np.ndarray:
    """What the network is given for a noisy image: the image, and for a conditioned network its estimated noise level."""
    return autoencoder_input(noisy, noise_sigma_of_array(noisy) if in_channels > 1 else 0.0, in_channels)


def foreground_weights(clean: torch.Tensor, outline_weight: float = 0.0) -> torch.Tensor:
    """Loss weights: 1 in the air around the head, 4 where there is tissue (the image, not the empty background),
    and ``outline_weight`` more on tissue within 2 voxels of exact zero (a skull-stripped image's cut)."""
    tissue = (clean > 0.05).float()
    weights = 1.0 + 3.0 * tissue
    if outline_weight:
        near_zero = torch.nn.functional.max_pool3d((clean <= 1e-6).float(), kernel_size=5, stride=1, padding=2)
        weights = weights + outline_weight * tissue * near_zero
    return weights


def held_out_psnr(network, data, device: str = "cpu", seed: int = 1) -> Dict[str, float]:
    """PSNR (dB, range = the reference's 99.5th percentile) of the held-out part at 3, 5 and 9 % Rician noise.

    Whole part, foreground (the truth above its Otsu threshold; the
    benchmark's foreground mask also fills holes, so its figures differ a little)
    and edges (the foreground's 10 % strongest gradients of the truth; the
    benchmark picks them with a Sobel gradient, so again close, not equal).
    """
    import SimpleITK as sitk

    truth = data.t1.as_float32()[:, :, TRAIN_K_END:] / T1_REFERENCE
    k = HELD_OUT_K_START - TRAIN_K_END
    foreground = sitk.GetArrayFromImage(sitk.OtsuThreshold(sitk.GetImageFromArray(truth[:, :, k:]), 0, 1)).astype(bool)
    strength = sitk.GetArrayFromImage(sitk.GradientMagnitude(sitk.GetImageFromArray(truth[:, :, k:])))
    edges = foreground & (strength >= np.percentile(strength[foreground], 90))  # the benchmark's rule, with ITK's gradient, not Sobel
    out = {}
    for level in VALIDATION_LEVELS:
        noisy = add_noise(truth, "rician", level, np.random.default_rng(seed))  # sigma = level * max, as the benchmark
        estimate, _ = predict(network, network_input(noisy, input_channels(network)), device=device, patch_size=(96, 96, 64), overlap=0.25, multiple=8)
        error = (np.clip(estimate[0], 0, None) - truth)[:, :, k:] ** 2
        out[f"rician {level:.0%}"] = psnr_from_mse(float(error.mean()), 1.0)
        out[f"rician {level:.0%} foreground"] = psnr_from_mse(float(error[foreground].mean()), 1.0)
        out[f"rician {level:.0%} edges"] = psnr_from_mse(float(error[edges].mean()), 1.0)
    return out


def train_denoiser(output: Path, steps: int = 1500, batch: int = 4, learning_rate: float = 1e-3, seed: int = 0,
                   device: str = "auto", validate_every: int = 250, resume: bool = False, progress: Progress = SILENT, log=print,
                   init: Optional[str] = None, per_noise_level: bool = True, average_decay: Optional[float] = None,
                   outline_weight: float = 0.0) -> Dict:
    """Train the autoencoder; with ``per_noise_level`` each patch's L1 is divided by its noise level (relative to the
    middle of NOISE_RANGE), so that the low levels, whose errors are small, weigh as much as the high ones.
    ``average_decay``: validate and publish an exponential moving average of the weights (see weight_average).
    ``outline_weight``: extra loss weight on tissue next to exact zero (see foreground_weights)."""
    target = resolve_device(device)
    data = load_tissue_data()
    network, optimizer, schedule, state = prepare_run(ARCHITECTURE, learning_rate, steps, output, resume, target, seed, init)
    average = weight_average(network, average_decay, output if resume else None) if average_decay else None
    evaluated = network if average is None else average.module
    rng = np.random.default_rng(seed + state["step"])

    def loss_of_batch():
        noisy, clean, levels = zip(*(noisy_pair(clean_patch(data, rng), rng) for _ in range(batch)))
        channels = ARCHITECTURE["arguments"]["in_channels"]
        inputs = np.stack([network_input(image, channels) for image in noisy])
        prediction = network(torch.from_numpy(inputs).to(target))
        clean = torch.from_numpy(np.stack(clean)[:, None]).to(target)
        weights = foreground_weights(clean, outline_weight)
        if per_noise_level:
            weights = weights * torch.tensor([sum(NOISE_RANGE) / 2 / level for level in levels], device=target).view(-1, 1, 1, 1, 1)
        return (weights * (prediction - clean).abs()).mean()

    state = run_steps(network, optimizer, schedule, state, steps, loss_of_batch,
                      lambda: held_out_psnr(evaluated, data, str(target)), "held_out_psnr_db",
                      validate_every, output, target, progress, log, average=average)
    return {"state": state, "network": evaluated}
