"""`medsr train sr`: the 3-D super-resolution network, supervised (cnn) or fine-tuned adversarially (gan).

Supervised: L1 between the network's output and the high-resolution patch.
GAN: the same generator, started from supervised weights, trained with L1
content loss plus a small non-saturating adversarial loss from a 3-D patch
discriminator, for sharper texture (at some cost in PSNR, which the
validation figures show). One process or several under torchrun
(DistributedDataParallel); resumable from the checkpoint folder; every
validation logs held-out PSNR and SSIM next to those of windowed-sinc
interpolation of the same input.

Consistent training (``consistent=True``, `--consistent`): inference makes
every result consistent with the scan (methods/consistency.py), which replaces
what the acquisition measured by the measurement, so the L1 is taken on the
rest only: the residual's part outside the range of each patch's own
acquisition (sr_data.measured_part), over the voxels that acquisition covers.
The network is then judged, and trained, on what it adds to the windowed sinc
made consistent; validation reports both after data consistency too.

``workers`` > 0 makes the pairs in that many processes (torch's DataLoader),
which keeps a GPU fed; 0 makes them in the training process.
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
from ..methods.consistency import acquire_array, project_array
from ..methods.uncertainty import acquisition_operator
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
    """(interpolated low-resolution input, truth, first measured index along the last axis, the acquisition of the
    part given: a (coarse, fine) matrix or None per axis) of the held-out part."""
    axes, factor, profile = VALIDATION[kind]
    degraded = volume.array
    for axis in axes:
        degraded, _ = degrade_and_interpolate(degraded, axis, factor, profile)
    first = max(0, volume.validate_start - CONTEXT)
    n = volume.array.shape
    operators = [None if a not in axes else acquisition_operator(n[a], factor, profile, first if a == 2 else 0)[0]
                 for a in range(3)]
    return degraded[:, :, first:], volume.array[:, :, first:], volume.validate_start - first, operators


def held_out_figures(network, pair, device: str) -> Dict[str, float]:
    """PSNR/SSIM of the network and of the interpolation alone on the held-out part (range: truth's percentiles),
    then PSNR of both made consistent with the part's acquisition (``consistent_``), as inference delivers them."""
    low, truth, skip, operators = pair
    estimate, _ = predict(network, low, device=device, patch_size=(96, 96, 64), overlap=0.25, multiple=8)
    estimate = estimate[0]
    measured = acquire_array(truth, operators)
    kept = truth[:, :, skip:]
    data_range = default_data_range(kept)
    figures = {}
    for name, result in (("network", estimate), ("interpolation", low)):
        mse = float(((result[:, :, skip:] - kept) ** 2).mean())
        figures[f"{name}_psnr_db"] = round(psnr_from_mse(mse, data_range), 3)
        figures[f"{name}_ssim"] = round(float(ssim_map(kept, result[:, :, skip:], data_range).mean()), 4)
        consistent = project_array(result, measured, operators)[:, :, skip:]
        figures[f"{name}_consistent_psnr_db"] = round(psnr_from_mse(float(((consistent - kept) ** 2).mean()), data_range), 3)
    return figures


def consistent_l1(output: torch.Tensor, high: torch.Tensor, projectors: torch.Tensor, covered: torch.Tensor,
                  axes: Sequence[int]) -> torch.Tensor:
    """L1 of the part of ``output - high`` (B, 1, i, j, k) that data consistency leaves, over the covered voxels:
    the residual minus its projection onto each patch's measured part (``projectors`` (B, len(axes), n, n), the
    product of the per-axis projectors, as the acquisition is separable); ``covered`` (B, len(axes), n)."""
    residual = output - high
    measured = residual
    weight = torch.ones_like(residual)
    letters = "ijk"
    for index, axis in enumerate(axes):
        a = letters[axis]
        spec = f"bcijk,b{a.upper()}{a}->bc" + "ijk".replace(a, a.upper())
        measured = torch.einsum(spec, measured, projectors[:, index])
        shape = [len(residual), 1, 1, 1, 1]
        shape[2 + axis] = residual.shape[2 + axis]
        weight = weight * covered[:, index].reshape(shape)
    left = (residual - measured).abs() * weight
    return left.sum() / weight.sum().clamp_min(1.0)


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
    consistent: bool = False,
    workers: int = 0,
) -> Dict:
    """Train on patches of the volumes in ``data`` (files or folders); returns the final state with its history."""
    if gan and not init and not (resume and (Path(output) / "checkpoint.json").exists()):
        raise MedSRError("GAN training fine-tunes a supervised network: give --init (a checkpoint folder or a catalog model)")
    if gan and consistent:
        raise MedSRError("--consistent trains the supervised network; GAN fine-tuning does not take it")
    processes = distributed.start(device)
    target = processes.device
    sources, validation = load_high_resolution(data)
    maker = PairMaker(kind, patch, consistent=consistent)
    network, optimizer, schedule, state = prepare_run(ARCHITECTURE, learning_rate, steps, Path(output), resume, target,
                                                      seed, init)
    trained = distributed.wrap(network, processes)
    pair = validation_pair(validation, kind) if processes.is_main else None
    batches = _pair_batches(maker, sources, batch, workers, seed + 7919 * processes.rank + state["step"])

    def sample():
        arrays = next(batches)
        low, high = (torch.as_tensor(a)[:, None].to(target, non_blocking=True) for a in arrays[:2])
        return (low, high) if not consistent else (low, high) + tuple(torch.as_tensor(a).to(target) for a in arrays[2:])

    save_extra = None
    if gan:
        loss_of_batch, save_extra = _adversarial(trained, sample, Path(output), processes, learning_rate, resume)
    else:
        def loss_of_batch():
            if consistent:
                low, high, projectors, covered = sample()
                return consistent_l1(trained(low), high, projectors, covered, maker.axes)
            low, high = sample()
            return torch.nn.functional.l1_loss(trained(low), high)

    state["kind"], state["gan"], state["processes"] = kind, gan, processes.world
    state["consistent"] = consistent
    try:
        state = run_steps(trained, optimizer, schedule, state, steps, loss_of_batch,
                          lambda: held_out_figures(network, pair, str(target)), "held_out",
                          validate_every, Path(output), target, progress, log,
                          is_main=processes.is_main, saved_network=network, save_extra=save_extra)
    finally:
        distributed.finish(processes)
    return {"state": state, "network": network}


class _PairStream(torch.utils.data.IterableDataset):
    """Endless batches of pairs, each worker process from its own random stream."""

    def __init__(self, maker: PairMaker, sources, batch: int, seed: int):
        super().__init__()
        self.maker, self.sources, self.batch, self.seed = maker, sources, batch, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id + 1])
        return _batches(self.maker, self.sources, self.batch, rng)


def _batches(maker: PairMaker, sources, batch: int, rng):
    """Endless batches (tuples of stacked arrays) of pairs drawn with ``rng``."""
    while True:
        pairs = [maker(sources, rng) for _ in range(batch)]
        yield tuple(np.stack(parts) for parts in zip(*pairs))


def _pair_batches(maker: PairMaker, sources, batch: int, workers: int, seed: int):
    """An iterator of batches: made here (``workers`` 0, one stream seeded with ``seed``, as before workers existed),
    else by a DataLoader's ``workers`` processes, each its own stream."""
    if workers <= 0:
        return _batches(maker, sources, batch, np.random.default_rng(seed))
    loader = torch.utils.data.DataLoader(_PairStream(maker, sources, batch, seed), batch_size=None,
                                         num_workers=workers, pin_memory=torch.cuda.is_available(), prefetch_factor=4,
                                         persistent_workers=True)
    return iter(loader)


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
