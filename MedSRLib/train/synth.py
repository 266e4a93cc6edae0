"""Domain randomisation: random tissue contrasts, bias fields, blur, thick slices, noise and small rotations.

One label map gives T1-, T2- and PD-like images: each class gets a random mean
intensity and texture, mixed by the soft probability maps (so partial volume is
kept), then acquisition effects are simulated. Labels are the argmax of the
(possibly rotated) probabilities, so image and labels always agree.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..geometry import lanczos_weights, profile_weights
from ..simulate import add_noise
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
        self.rotate = np.deg2rad(rotate_degrees)
        self.deform_voxels = deform_voxels  # standard deviation of the elastic displacement's control points
        #: the label each probability channel trains (None: channel c is label c); extra channels before the last three
        #: (CSF, GM, WM) are non-brain classes of a whole head (train/head_labels.py), each with its own random intensity
        self.channel_labels = channel_labels

    def __call__(self, probabilities: np.ndarray, t1: np.ndarray, rng: np.random.Generator):
        probabilities = self._rotate(probabilities, rng)
        labels = probabilities.argmax(axis=0).astype(np.int64)
        if self.channel_labels is not None:
            labels = self.channel_labels[labels]
        # intensities are scaled as inference scales a whole volume (its 99.5th percentile ~ the brightest
        # tissue -> 1), never by the patch's own statistics, so patches and volumes look alike to the network
        if rng.random() < self.real_fraction:
            image = t1.astype(np.float32) / self.t1_reference
            image = self._rotate(image[None], rng, same_as_last=True)[0]
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

    def _rotate(self, array: np.ndarray, rng: np.random.Generator, same_as_last: bool = False) -> np.ndarray:
        """Small random rotation about the patch centre plus a smooth elastic displacement (bilinear).

        Used for the probabilities and then, with ``same_as_last``, for the
        image, so that both move together.
        """
        if not same_as_last:
            angles = rng.uniform(-self.rotate, self.rotate, 3)
            self._last = _rotation_grid(array.shape[1:], angles) + _elastic_displacement(array.shape[1:], rng, self.deform_voxels)
        tensor = torch.from_numpy(np.ascontiguousarray(array))[None]
        out = torch.nn.functional.grid_sample(tensor, self._last, mode="bilinear", padding_mode="border", align_corners=True)
        return out[0].numpy()


def _elastic_displacement(shape, rng: np.random.Generator, voxels: float, control_points: int = 5) -> torch.Tensor:
    """A smooth random displacement field in grid_sample's normalised units: Gaussian control points, trilinear upsampling.

    The control points' standard deviation is capped at a tenth of their
    spacing, so that the field never folds (its Jacobian stays positive).
    """
    voxels = min(voxels, 0.1 * (min(shape) - 1) / (control_points - 1))
    coarse = torch.from_numpy(rng.normal(0.0, voxels, (1, 3, control_points, control_points, control_points)).astype(np.float32))
    field = torch.nn.functional.interpolate(coarse, size=tuple(shape), mode="trilinear", align_corners=True)[0]
    # grid_sample's last dimension is (x, y, z) = (last, middle, first) array axis, in units of half the extent
    scale = torch.tensor([2.0 / max(n - 1, 1) for n in shape[::-1]], dtype=torch.float32)
    return (field.permute(1, 2, 3, 0) * scale)[None]


def _rotation_grid(shape, angles) -> torch.Tensor:
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    theta = np.zeros((1, 3, 4), np.float32)
    theta[0, :, :3] = rz @ ry @ rx
    return torch.nn.functional.affine_grid(torch.from_numpy(theta), (1, 1) + tuple(shape), align_corners=True)
