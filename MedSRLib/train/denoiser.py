"""Train the denoising autoencoder: clean MNI patches (real T1 and randomised contrasts) with Rician noise added."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import numpy as np
import torch

from ..inference import predict, resolve_device
from ..metrics.intensity import psnr_from_mse
from ..progress import SILENT, Progress
from ..simulate import add_noise
from .loop import prepare_run, run_steps
from .segmenter import PATCH
from .synth import _bias_field
from .tissue import HELD_OUT_K_START, TRAIN_K_END, load_tissue_data, training_window

ARCHITECTURE = {
    "name": "medsr.ResidualUNet",
    "arguments": {"spatial_dims": 3, "in_channels": 1, "out_channels": 1, "channels": [16, 32, 64, 128], "strides": [2, 2, 2], "num_res_units": 2, "norm": "batch"},
}
NOISE_RANGE = (0.01, 0.12)
VALIDATION_LEVELS = (0.03, 0.05, 0.09)


def clean_patch(data, rng: np.random.Generator, real_fraction: float = 0.5) -> np.ndarray:
    """A noise-free patch from the training part: the real T1 or a random tissue contrast, scaled to [0, ~1]."""
    window = training_window(data.labels, PATCH, rng)
    if rng.random() < real_fraction:
        image = data.t1.as_float32()[window] / 228.0  # the T1's 99.5th percentile
    else:
        means = rng.uniform(0.05, 1.0, 4).astype(np.float32)
        means[0] = 0.0
        image = np.einsum("c...,c->...", data.probabilities[(slice(None),) + window], means) / means.max()
    if rng.random() < 0.5:
        image = image * _bias_field(image.shape, rng, 0.1)
    flips = [a for a in range(3) if rng.random() < 0.5]
    return np.ascontiguousarray(np.flip(image, flips) if flips else image, dtype=np.float32)


def held_out_psnr(network, data, device: str = "cpu", seed: int = 1) -> Dict[str, float]:
    """PSNR (dB, range = the reference's 99.5th percentile) of the held-out part at 3, 5 and 9 % Rician noise."""
    truth = data.t1.as_float32()[:, :, TRAIN_K_END:] / 228.0
    out = {}
    for level in VALIDATION_LEVELS:
        noisy = add_noise(truth, "rician", level * 255.0 / 228.0, np.random.default_rng(seed))
        estimate, _ = predict(network, noisy, device=device, patch_size=(96, 96, 64), overlap=0.25, multiple=8)
        k = HELD_OUT_K_START - TRAIN_K_END
        mse = float(((np.clip(estimate[0], 0, None) - truth)[:, :, k:] ** 2).mean())
        out[f"rician {level:.0%}"] = psnr_from_mse(mse, 1.0)
    return out


def train_denoiser(output: Path, steps: int = 1500, batch: int = 2, learning_rate: float = 1e-3, seed: int = 0,
                   device: str = "auto", validate_every: int = 250, resume: bool = False, progress: Progress = SILENT, log=print) -> Dict:
    target = resolve_device(device)
    data = load_tissue_data()
    network, optimizer, schedule, state = prepare_run(ARCHITECTURE, learning_rate, steps, output, resume, target, seed)
    rng = np.random.default_rng(seed + state["step"])

    def loss_of_batch():
        clean = np.stack([clean_patch(data, rng) for _ in range(batch)])
        noisy = np.stack([add_noise(c, "rician", float(rng.uniform(*NOISE_RANGE)), rng) for c in clean])
        prediction = network(torch.from_numpy(noisy[:, None]).to(target))
        return torch.nn.functional.l1_loss(prediction, torch.from_numpy(clean[:, None]).to(target))

    state = run_steps(network, optimizer, schedule, state, steps, loss_of_batch,
                      lambda: held_out_psnr(network, data, str(target)), "held_out_psnr_db",
                      validate_every, output, target, progress, log)
    return {"state": state, "network": network}
