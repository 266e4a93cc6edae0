"""`medsr train sr`: the 3-D super-resolution network, supervised (cnn) or fine-tuned adversarially (gan).

Supervised: L1 between the network's output and the high-resolution patch.
GAN: the same generator, started from supervised weights, trained with L1
content loss plus a small non-saturating adversarial loss from a 3-D patch
discriminator, for sharper texture (at some cost in PSNR, which the
validation figures show). One process or several under torchrun
(DistributedDataParallel); resumable from the checkpoint folder; every
validation logs held-out PSNR and SSIM next to those of windowed-sinc
interpolation of the same input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from ..errors import MedSRError
from ..inference import predict
from ..metrics.intensity import default_data_range, psnr_from_mse, ssim_map
from ..progress import SILENT, Progress
from . import distributed
from .loop import load_checkpoint, prepare_run, run_steps, save_checkpoint
from .sr_data import HighResolution, PairMaker, degrade_and_interpolate, load_high_resolution

ARCHITECTURE = {"name": "medsr.ResidualSR", "arguments": {"channels": 32, "blocks": 3, "residual_scale": 0.2}}
DISCRIMINATOR = {"channels": 32, "layers": 3}
#: the validation acquisition of each kind (the benchmark's): thick-slice x4 Gaussian, isotropic x2 box
VALIDATION = {"thick-slice": ((2,), 4.0, "gaussian"), "isotropic": ((0, 1, 2), 2.0, "box")}
CONTEXT = 16  # slices below the validation part given to the network as context (never measured)
ADVERSARIAL_WEIGHT = 3e-3


def validation_pair(volume: HighResolution, kind: str):
    """(interpolated low-resolution input, truth, first measured index along the last axis) of the held-out part."""
    axes, factor, profile = VALIDATION[kind]
    degraded = volume.array
    for axis in axes:
        degraded, _ = degrade_and_interpolate(degraded, axis, factor, profile)
    first = max(0, volume.validate_start - CONTEXT)
    return degraded[:, :, first:], volume.array[:, :, first:], volume.validate_start - first


def held_out_figures(network, pair, device: str) -> Dict[str, float]:
    """PSNR/SSIM of the network and of the interpolation alone on the held-out part (range: truth's percentiles)."""
    low, truth, skip = pair
    estimate, _ = predict(network, low, device=device, patch_size=(96, 96, 64), overlap=0.25, multiple=8)
    truth = truth[:, :, skip:]
    data_range = default_data_range(truth)
    figures = {}
    for name, result in (("network", estimate[0][:, :, skip:]), ("interpolation", low[:, :, skip:])):
        mse = float(((result - truth) ** 2).mean())
        figures[f"{name}_psnr_db"] = round(psnr_from_mse(mse, data_range), 3)
        figures[f"{name}_ssim"] = round(float(ssim_map(truth, result, data_range).mean()), 4)
    return figures


def train_sr(
    data: Sequence[str],
    output: Path,
    kind: str = "thick-slice",
    steps: int = 1500,
    batch: int = 4,
    learning_rate: float = 1e-3,
    seed: int = 0,
    device: str = "auto",
    validate_every: int = 250,
    resume: bool = False,
    progress: Progress = SILENT,
    log=print,
    gan: bool = False,
    init: Optional[str] = None,
    patch: int = 32,
) -> Dict:
    """Train on patches of the volumes in ``data`` (files or folders); returns the final state with its history."""
    if gan and not init and not (resume and (Path(output) / "checkpoint.json").exists()):
        raise MedSRError("GAN training fine-tunes a supervised network: give --init (a checkpoint folder or a catalog model)")
    processes = distributed.start(device)
    target = processes.device
    sources, validation = load_high_resolution(data)
    maker = PairMaker(kind, patch)
    network, optimizer, schedule, state = prepare_run(ARCHITECTURE, learning_rate, steps, Path(output), resume, target,
                                                      seed, init)
    trained = distributed.wrap(network, processes)
    rng = np.random.default_rng(seed + 7919 * processes.rank + state["step"])
    pair = validation_pair(validation, kind) if processes.is_main else None

    def sample():
        lows, highs = zip(*(maker(sources, rng) for _ in range(batch)))
        return (torch.from_numpy(np.stack(lows)[:, None]).to(target), torch.from_numpy(np.stack(highs)[:, None]).to(target))

    save_extra = None
    if gan:
        loss_of_batch, save_extra = _adversarial(trained, sample, Path(output), processes, learning_rate, resume)
    else:
        def loss_of_batch():
            low, high = sample()
            return torch.nn.functional.l1_loss(trained(low), high)

    state["kind"], state["gan"], state["processes"] = kind, gan, processes.world
    try:
        state = run_steps(trained, optimizer, schedule, state, steps, loss_of_batch,
                          lambda: held_out_figures(network, pair, str(target)), "held_out",
                          validate_every, Path(output), target, progress, log,
                          is_main=processes.is_main, saved_network=network, save_extra=save_extra)
    finally:
        distributed.finish(processes)
    return {"state": state, "network": network}


def _adversarial(generator, sample, output: Path, processes, learning_rate: float, resume: bool):
    """(loss of a generator batch that first steps the discriminator, checkpoint writer of the discriminator)."""
    from ..models.networks import PatchDiscriminator

    discriminator = PatchDiscriminator(**DISCRIMINATOR).to(processes.device)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=(0.5, 0.999))
    folder = output / "discriminator"
    if resume and (folder / "checkpoint.json").exists():
        load_checkpoint(folder, discriminator, optimizer)
    judged = distributed.wrap(discriminator, processes)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def loss_of_batch():
        low, high = sample()
        fake = generator(low)
        logits = judged(torch.cat([high, fake.detach()]))  # one forward: DDP expects one per backward
        real_logits, fake_logits = logits[: len(high)], logits[len(high):]
        judge_loss = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
        optimizer.zero_grad()
        judge_loss.backward()
        optimizer.step()
        fooled = judged(fake)
        return torch.nn.functional.l1_loss(fake, high) + ADVERSARIAL_WEIGHT * bce(fooled, torch.ones_like(fooled))

    def save():
        save_checkpoint(folder, discriminator, optimizer, {"step": 0})

    return loss_of_batch, save
