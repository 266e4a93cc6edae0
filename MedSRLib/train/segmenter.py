"""Train the brain-tissue segmenter (MONAI UNet) on randomised contrasts of the MNI tissue maps."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np
import torch

from ..inference import predict, resolve_device
from ..progress import SILENT, Progress
from .loop import prepare_run, run_steps, weight_average
from .synth import SyntheticContrast, normalise
from .tissue import HELD_OUT_K_START, TRAIN_K_END, load_tissue_data, tissue_dice, training_window

ARCHITECTURE = {
    "name": "monai.UNet",
    "arguments": {
        "spatial_dims": 3,
        "in_channels": 1,
        "out_channels": 4,
        "channels": [16, 32, 64, 128],
        "strides": [2, 2, 2],
        "num_res_units": 2,
        "norm": "batch",
    },
}
PATCH = 64


def sample_batch(data, synth: SyntheticContrast, rng: np.random.Generator, batch: int, window=None):
    """Random patches lying wholly in the training part (k < TRAIN_K_END) of the brain's bounding box, or where
    ``window(data, rng)`` puts them."""
    window = window or (lambda d, r: training_window(d.labels, PATCH, r))
    images, labels = [], []
    for _ in range(batch):
        cut = window(data, rng)
        image, label = synth(data.probabilities[(slice(None),) + cut], data.t1.array[cut], rng)
        flips = [a for a in range(3) if rng.random() < 0.5]
        if flips:
            image, label = np.flip(image, flips), np.flip(label, flips)
        order = tuple(int(a) for a in rng.permutation(3))  # any axis order, as scanners store sagittal, coronal, axial
        image, label = np.transpose(image, order), np.transpose(label, order)
        images.append(np.ascontiguousarray(image))
        labels.append(np.ascontiguousarray(label))
    return torch.from_numpy(np.stack(images)[:, None]), torch.from_numpy(np.stack(labels)[:, None])


def head_windows(head):
    """``window(head, rng)`` for :func:`sample_batch`: random ``PATCH``-cubes anywhere in a whole head
    (train/head_labels.py), brain, skull, scalp, face and neck alike."""
    inside = np.argwhere(head.probabilities[0] < 0.5)  # not air
    lo, hi = inside.min(axis=0), inside.max(axis=0)
    shape = head.labels.shape

    def window(_, rng: np.random.Generator) -> tuple:
        start = [int(rng.integers(max(0, lo[a] - PATCH // 4), max(1, min(hi[a], n - PATCH // 4) - PATCH * 3 // 4)))
                 for a, n in enumerate(shape)]
        return tuple(slice(min(s, n - PATCH), min(s, n - PATCH) + PATCH) for s, n in zip(start, shape))

    return window


def held_out_dice(network, data, image: Optional[np.ndarray] = None, device: str = "cpu") -> Dict[str, float]:
    """Dice per tissue on the held-out superior part (k >= HELD_OUT_K_START) of the real T1."""
    k0 = TRAIN_K_END  # context from just below the held-out part; its labels are never used
    t1 = data.t1.as_float32()[:, :, k0:] if image is None else image[:, :, k0:]
    logits, _ = predict(network, normalise(t1), device=device, patch_size=(96, 96, 64), overlap=0.25, multiple=8)
    prediction = logits.argmax(axis=0)[:, :, HELD_OUT_K_START - k0 :]
    return tissue_dice(data.labels[:, :, HELD_OUT_K_START:], prediction)


def train_segmenter(
    output: Path,
    steps: int = 2000,
    batch: int = 2,
    learning_rate: float = 2e-3,
    seed: int = 0,
    device: str = "auto",
    validate_every: int = 250,
    resume: bool = False,
    progress: Progress = SILENT,
    log=print,
    init: Optional[str] = None,
    real_fraction: float = 0.7,
    norm=None,
    average_decay: Optional[float] = None,
    head_fraction: float = 0.0,
) -> Dict:
    """Train, validating on the held-out part; returns the final state with its history.

    ``init``: start from a checkpoint folder or a catalog model (continued training).
    ``real_fraction``: share of patches from the real T1 rather than a synthetic contrast.
    ``norm``: the U-Net's normalisation layers, as MONAI names them (default: ARCHITECTURE's).
    ``average_decay``: keep an exponential moving average of the weights with this decay (e.g. 0.999), and
    validate and publish it instead of the last step's weights.
    ``head_fraction``: share of batches cut from a whole head with skull, scalp and neck (train/head_labels.py, the
    3T18yo atlas head), its non-brain classes each given a random intensity and labelled background.
    """
    from monai.losses import DiceCELoss

    target = resolve_device(device)
    data = load_tissue_data()
    architecture = ARCHITECTURE if norm is None else dict(ARCHITECTURE, arguments=dict(ARCHITECTURE["arguments"], norm=norm))
    network, optimizer, schedule, state = prepare_run(architecture, learning_rate, steps, output, resume, target, seed, init)
    average = weight_average(network, average_decay, output if resume else None) if average_decay else None
    evaluated = network if average is None else average.module
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    rng = np.random.default_rng(seed + state["step"])
    synth = SyntheticContrast(real_fraction=real_fraction)
    head, head_synth = None, None
    if head_fraction > 0:
        from .head_labels import CHANNEL_LABELS, load_head_training_data

        head = load_head_training_data()
        head_synth = SyntheticContrast(real_fraction=real_fraction, t1_reference=1.0, channel_labels=CHANNEL_LABELS)
        head_window = head_windows(head)

    def loss_of_batch():
        if head is not None and rng.random() < head_fraction:
            images, labels = sample_batch(head, head_synth, rng, batch, head_window)
        else:
            images, labels = sample_batch(data, synth, rng, batch)
        return loss_fn(network(images.to(target)), labels.to(target))

    state = run_steps(network, optimizer, schedule, state, steps, loss_of_batch,
                      lambda: held_out_dice(evaluated, data, device=str(target)), "held_out_dice",
                      validate_every, output, target, progress, log, average=average)
    return {"state": state, "network": evaluated}


