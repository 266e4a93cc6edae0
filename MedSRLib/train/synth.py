"""Domain randomisation: random tissue contrasts, bias fields, blur, thick slices, noise, rotations and elastic deformation (MONAI).

One label map gives T1-, T2- and PD-like images: each class gets a random mean
intensity and texture, mixed by the soft probability maps (so partial volume is
kept), then acquisition effects are simulated. Labels are the argmax of the
(possibly rotated) probabilities, so image and labels always agree.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..geometry import lanczos_weights, profile_weights
from ..simulate import add_noise
from .spatial import RandomMotion
from .tissue import T1_REFERENCE


def _axis_operator(n: int, factor: float) -> np.ndarray:
    """n x n matrix: thick slices of ``factor`` voxels (Gaussian profile), interpolated back by windowed sinc."""
    m = max(1, int(round(n / factor)))
    down = profile_weights(n, m, "gaussian", 1.0)
    up = lanczos_weights(m, n, lobes=3)
    up /= up.sum(axis=1, keepdims=True)
    return (up @ down).astype(np.float32)


def _apply(array: np.ndarray, matrix: np.ndarray, axis: int) -> np.ndarray:
    return np.moveaxis(np.moveaxis(array, axis, -1) @ matrix.T, -1, axis)


def _bias_field(shape, rng: np.random.Generator, strength: float) -> np.ndarray:
    axes = [np.linspace(-1, 1, n, dtype=np.float32) for n in shape]
    i, j, k = np.meshgrid(*axes, indexing="ij")
    terms = [i, j, k, i * j, j * k, i * k, i * i, j * j, k * k]
    log_field = sum(rng.normal(0, strength) * t for t in terms)
    return np.exp(log_field).astype(np.float32)


def _tissue_means(rng: np.random.Generator) -> np.ndarray:
    """Background, CSF, GM, WM intensities: T1-like, T2/PD-like or any order, tissues at least 0.12 apart.

    Kept apart so that every class stays visible: a CPU-sized training budget
    cannot afford SynthSeg's fully random (often indistinguishable) contrasts.
    """
    while True:
        levels = np.sort(rng.uniform(0.05, 1.0, 3))
        if np.min(np.diff(levels)) >= 0.12:
            break
    family = rng.choice(3, p=[0.4, 0.4, 0.2])
    csf, gm, wm = levels if family == 0 else levels[::-1] if family == 1 else rng.permutation(levels)
    means = np.array([rng.uniform(0.0, 0.1), csf, gm, wm], np.float32)
    return means / means[1:].max()


def normalise(image: np.ndarray) -> np.ndarray:
    """Map the 0.5 and 99.5 percentiles to 0 and 1 (what inference does to a whole volume)."""
    low, high = np.percentile(image, (0.5, 99.5))
    return ((image - low) / max(high - low, 1e-6)).astype(np.float32)


class SyntheticContrast:
    """Callable making one (image, labels) training pair from probability and T1 patches."""

    def __init__(self, real_fraction: float = 0.7, rotate_degrees: float = 12.0, t1_reference: float = T1_REFERENCE,
                 deform_voxels: float = 2.0, channel_labels: Optional[np.ndarray] = None):
        self.real_fraction = real_fraction
        self.t1_reference = t1_reference
        #: rotation and elastic deformation (MONAI), the same for the label maps and the real image
        self.motion = RandomMotion(("probabilities", "image"), rotate_degrees, deform_voxels)
        #: the label each probability channel trains (None: channel c is label c); extra channels before the last three
        #: (CSF, GM, WM) are non-brain classes of a whole head (train/head_labels.py), each with its own random intensity
        self.channel_labels = channel_labels

    def __call__(self, probabilities: np.ndarray, t1: np.ndarray, rng: np.random.Generator):
        # intensities are scaled as inference scales a whole volume (its 99.5th percentile ~ the brightest
        # tissue -> 1), never by the patch's own statistics, so patches and volumes look alike to the network
        real = rng.random() < self.real_fraction
        arrays = {"probabilities": probabilities}
        if real:  # the real image moves with its labels; a synthetic one is rendered from the moved labels
            arrays["image"] = t1[None] / np.float32(self.t1_reference)
        moved = self.motion(arrays, rng)
        probabilities = moved["probabilities"]
        labels = probabilities.argmax(axis=0).astype(np.int64)
        if self.channel_labels is not None:
            labels = self.channel_labels[labels]
        if real:
            image = moved["image"][0]
        else:
            means = _tissue_means(rng)
            extra = len(probabilities) - len(means)
            if extra > 0:  # air stays dark; skull, muscle, fat, ... take any intensity, as across MR contrasts
                outside = np.concatenate([[means[0]], rng.uniform(0.0, 1.2, extra)]).astype(np.float32)
                means = np.concatenate([outside, means[1:]])
            texture = rng.uniform(0.0, 0.06, len(means)).astype(np.float32)
            image = np.einsum("c...,c->...", probabilities, means)
            image += np.einsum("c...,c->...", probabilities, texture) * rng.normal(size=image.shape).astype(np.float32)
        image = np.clip(image, 0, None)
        if rng.random() < 0.4:
            image = image ** np.exp(rng.normal(0, 0.2))
        if rng.random() < 0.5:
            image = image * _bias_field(image.shape, rng, 0.06)
        if rng.random() < 0.5:
            axis = int(rng.integers(3))
            image = _apply(image, _axis_operator(image.shape[axis], rng.uniform(1.5, 6.0)), axis)
        if rng.random() < 0.5:
            image = add_noise(np.clip(image, 0, None), "rician", float(rng.uniform(0.0, 0.08)), rng)
        image = image * rng.uniform(0.9, 1.1) + rng.uniform(-0.03, 0.03)
        return image.astype(np.float32), labels
