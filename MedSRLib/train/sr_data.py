"""Training data for learned super-resolution: high-resolution volumes and low/high pairs made on the fly.

Pairs come from the acquisition model the rest of MedSR uses: along each
coarsened axis, slice-profile averages (:func:`profile_weights`) of the fine
voxels, interpolated back onto the fine grid with the same windowed sinc the
inference path uses (:func:`lanczos_weights`). The network therefore sees at
training time exactly what ``medsr sr`` gives it, on patches cut with enough
margin that the windowed sinc's taps never reach a patch edge.

Kinds of model:
- ``thick-slice``: one coarse axis (moved last, the canonical orientation), with augmentation any of the
  source's three axes (axial, coronal and sagittal thick slices; before 2026-12-04 evening always the source's
  last axis), factor 2 to 6, Gaussian (mostly) or box slice profile, random slice phase;
- ``isotropic``: every axis coarsened by about 2, box (mostly) or Gaussian.

Augmentation, so the models do not learn the training volume's contrast:
random monotone or non-monotone intensity curves (T1-, T2- and PD-like
contrasts from one scan), gamma, smooth multiplicative bias fields, small
random rotations (MONAI's RandAffined), the thick axis along any of the source's axes, flips and
in-plane transposes, and Rician noise on
the low-resolution side.

Consistent pairs (``consistent=True``): each pair also carries, per coarsened
axis, the orthogonal projector onto what the patch's own acquisition measures
(the slices whose whole profile lies in the patch) and which of the patch's
voxels those slices cover, so a loss can score the network's output as
inference delivers it, after data consistency (train/sr.py).

Hold-out: with two or more volumes the last (in name order) is validation
only. A single volume is split like the tissue models' data (the MNI T1):
patches come from below 59 % of the last axis, validation from above 63.5 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from ..errors import MedSRError
from ..geometry import degrade_and_interpolate
from ..io import read_volume
from ..io.formats import FILE_FORMATS
from ..methods.uncertainty import acquisition_operator
from ..simulate import add_noise
from .spatial import RandomMotion
from .synth import _bias_field

KINDS = ("thick-slice", "isotropic")
FACTORS = {"thick-slice": (2.0, 6.0), "isotropic": (1.6, 2.5)}
TRAIN_FRACTION = 112 / 189  # the MNI T1's 112 of 189 axial slices, as the tissue models
HELD_OUT_FRACTION = 120 / 189
#: the random rotation (MONAI) some training crops get: up to 10 degrees about each axis
ROTATION = RandomMotion(("crop",), 10.0)


@dataclass
class HighResolution:
    name: str
    array: np.ndarray  # float32, scaled so the 99.5th percentile is 1
    train_end: int  # training patches lie below this index of the last axis
    validate_start: int  # validation is measured from this index of the last axis

    @property
    def limits(self) -> List[int]:
        """How far training patches may reach along each axis (the last axis: up to ``train_end``)."""
        return [self.array.shape[0], self.array.shape[1], self.train_end]

    @cached_property
    def head_box(self) -> Tuple[np.ndarray, np.ndarray]:
        """First and last index, per axis, of the non-background voxels in the training part."""
        inside = np.argwhere(self.array[:, :, : self.train_end] > 0.1)
        if not len(inside):
            return np.zeros(3, int), np.array(self.limits) - 1
        return inside.min(axis=0), inside.max(axis=0)


def volume_files(paths: Sequence[str]) -> List[Path]:
    """The volume files named, folders expanded to the volume files inside them (sorted)."""
    files: List[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if any(p.name.lower().endswith(e) for e in FILE_FORMATS))
            if not inside:
                raise MedSRError(f"{path} holds no volume file ({', '.join(FILE_FORMATS)})")
            files += inside
        elif path.exists():
            files.append(path)
        else:
            raise MedSRError(f"{path} does not exist")
    return files


def load_high_resolution(paths: Sequence[str]) -> Tuple[List[HighResolution], HighResolution]:
    """(training volumes, validation volume) from files or folders of high-resolution volumes."""
    files = volume_files(paths)
    volumes = []
    for path in files:
        volume = read_volume(path)
        array = volume.as_float32()
        offset = float(array.min()) if volume.modality == "CT" else 0.0
        scale = float(np.percentile(array - offset, 99.5))
        if scale <= 0:
            raise MedSRError(f"{path} is empty or constant")
        volumes.append(HighResolution(path.name, ((array - offset) / scale).astype(np.float32), 0, 0))
    if len(volumes) == 1:
        only = volumes[0]
        n = only.array.shape[2]
        only.train_end, only.validate_start = int(round(n * TRAIN_FRACTION)), int(round(n * HELD_OUT_FRACTION))
        return [only], only
    for volume in volumes:
        volume.train_end, volume.validate_start = volume.array.shape[2], 0
    return volumes[:-1], volumes[-1]


def measured_part(n: int, factor: float, profile: str, start: int, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """(the orthogonal projector onto what the slices lying wholly in fine voxels start..start+size of an ``n``-voxel
    axis measure, (size, size) float32; which of those voxels the slices cover, (size,) float32 0/1). Data
    consistency replaces that part of an output by the measurement, so only the rest is the network's to get right."""
    rows, covered = acquisition_operator(n, factor, profile, start, size)
    if not len(rows):
        return np.zeros((size, size), np.float32), np.zeros(size, np.float32)
    return (np.linalg.pinv(rows) @ rows).astype(np.float32), covered.astype(np.float32)


def random_contrast(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random intensity curve through (0, 0): monotone (T1-like) or not (T2/PD-like), brightest output 1."""
    knots = np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0])
    values = np.sort(rng.uniform(0.05, 1.0, 5))
    if rng.random() < 0.5:
        values = rng.permutation(values)
    curve = np.concatenate([[0.0], values, [values[-1] * 1.5]])
    return (np.interp(image, knots, curve) / values.max()).astype(np.float32)


class PairMaker:
    """Random (low-resolution interpolated, high-resolution) patches of ``patch`` voxels for a kind of model."""

    def __init__(self, kind: str, patch: int = 32, augment: bool = True, consistent: bool = False):
        if kind not in KINDS:
            raise MedSRError(f"unknown kind of super-resolution model {kind!r}; choose {' or '.join(KINDS)}")
        self.kind, self.patch, self.augment, self.consistent = kind, patch, augment, consistent

    @property
    def axes(self) -> List[int]:
        """The coarsened axes of this kind's pairs."""
        return [2] if self.kind == "thick-slice" else [0, 1, 2]

    def __call__(self, sources: List[HighResolution], rng: np.random.Generator) -> tuple:
        """(low, high) patches; with ``consistent``, (low, high, projectors (axes, patch, patch), covered (axes,
        patch)): per coarsened axis the projector onto the patch's measured part and the voxels it covers."""
        factor, profile = self._factor_and_profile(rng)
        axes = self.axes
        margin = int(np.ceil(6 * factor)) + 2  # the windowed sinc reaches 5 coarse voxels each way
        size = [self.patch + (2 * margin if a in axes else 0) for a in range(3)]
        source = sources[int(rng.integers(len(sources)))]
        # the source's axis that becomes the coarse one: for a thick-slice model any of the three that is long
        # enough (axial, coronal or sagittal thick slices of the same head), moved last as inference moves it
        thick = 2
        if self.augment and self.kind == "thick-slice":
            long_enough = [a for a, n in enumerate(source.limits) if n >= size[2]]
            thick = int(rng.choice(long_enough)) if long_enough else 2
        reach = list(size)  # the crop's size in the source's axis order
        reach[2], reach[thick] = size[thick], size[2]
        crop = np.moveaxis(self._crop(source, reach, rng), thick, 2)
        if self.augment:
            crop = self._augment(crop, rng)
        degraded = crop
        for axis in axes:
            degraded, _ = degrade_and_interpolate(degraded, axis, factor, profile)
        if self.augment and rng.random() < 0.3:
            degraded = add_noise(np.clip(degraded, 0, None), "rician", float(rng.uniform(0.0, 0.02)), rng)
        centre = tuple(slice(margin, margin + self.patch) if a in axes else slice(None) for a in range(3))
        low, high = np.ascontiguousarray(degraded[centre], np.float32), np.ascontiguousarray(crop[centre], np.float32)
        if not self.consistent:
            return low, high
        projectors, covered = zip(*(measured_part(size[a], factor, profile, margin, self.patch) for a in axes))
        return low, high, np.stack(projectors), np.stack(covered)

    def _factor_and_profile(self, rng):
        lo, hi = FACTORS[self.kind]
        factor = float(rng.uniform(lo, hi))
        gaussian_share = 0.8 if self.kind == "thick-slice" else 0.4
        return factor, "gaussian" if rng.random() < gaussian_share else "box"

    def _crop(self, source: HighResolution, size, rng) -> np.ndarray:
        array = source.array
        limits = source.limits
        if any(s > n for s, n in zip(size, limits)):
            raise MedSRError(f"{source.name} is too small for {self.patch}-voxel training patches of this kind")
        lo, hi = source.head_box  # most patches touch the head: start around its bounding box
        start = []
        for a in range(3):
            first = int(np.clip(lo[a] - size[a] // 4, 0, limits[a] - size[a]))
            last = int(np.clip(hi[a] - size[a] * 3 // 4, first, limits[a] - size[a]))
            start.append(int(rng.integers(first, last + 1)))
        return array[tuple(slice(s, s + n) for s, n in zip(start, size))].astype(np.float32, copy=True)

    def _augment(self, crop: np.ndarray, rng) -> np.ndarray:
        if rng.random() < 0.5:
            crop = random_contrast(crop, rng)
        if rng.random() < 0.3:
            crop = np.clip(crop, 0, None) ** float(np.exp(rng.normal(0, 0.25)))
        if rng.random() < 0.5:
            crop = crop * _bias_field(crop.shape, rng, 0.1)
        if rng.random() < 0.3:
            crop = ROTATION({"crop": crop[None]}, rng)["crop"][0]
        flips = [a for a in range(3) if rng.random() < 0.5]
        if flips:
            crop = np.flip(crop, flips)
        if rng.random() < 0.5:  # in-plane axes may swap; the coarse axis of thick-slice models stays last
            crop = np.swapaxes(crop, 0, 1)
        return np.ascontiguousarray(crop * rng.uniform(0.9, 1.1), dtype=np.float32)
