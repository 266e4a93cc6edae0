"""Random spatial augmentation by MONAI: a rotation and a smooth elastic deformation (``Rand3DElasticd``), or a
rotation alone (``RandAffined``), drawn once per call and applied alike to every array given (an image and its
label maps)."""

from __future__ import annotations

from typing import Dict

import numpy as np
import torch
from monai.transforms import Rand3DElasticd, RandAffined

#: standard deviation (voxels) of the Gaussian that smooths MONAI's random offsets into a deformation
ELASTIC_SIGMA_VOXELS = (6.0, 8.0)


def elastic_magnitude(voxels: float, sigma: float) -> float:
    """The ``magnitude`` for MONAI's elastic transforms that gives displacements of ``voxels`` standard deviation
    after smoothing by ``sigma``: its offsets are uniform in [-1, 1] (s.d. 1/sqrt 3), and a normalised 3-D
    Gaussian of ``sigma`` voxels scales white noise's s.d. by 1 / ((4 pi)^(3/4) sigma^(3/2))."""
    return voxels * np.sqrt(3.0) * (4.0 * np.pi) ** 0.75 * sigma ** 1.5


class RandomMotion:
    """``motion({"name": (channels, i, j, k) array, ...}, rng)``: every array given (any of ``keys``) moved by one new random motion,
    a rotation of up to ``rotate_degrees`` about each axis and, when ``deform_voxels`` > 0, an elastic deformation
    whose displacements have a standard deviation of at most ``deform_voxels`` (small enough never to fold)."""

    def __init__(self, keys, rotate_degrees: float, deform_voxels: float = 0.0, padding_mode: str = "border"):
        self.keys = tuple(keys)
        rotate = (float(np.deg2rad(rotate_degrees)),) * 3
        if deform_voxels > 0:
            largest = elastic_magnitude(deform_voxels, ELASTIC_SIGMA_VOXELS[0])
            self.transform = Rand3DElasticd(self.keys, sigma_range=ELASTIC_SIGMA_VOXELS, magnitude_range=(0.5 * largest, largest),
                                            prob=1.0, rotate_range=rotate, mode="bilinear", padding_mode=padding_mode,
                                            allow_missing_keys=True)
        else:
            self.transform = RandAffined(self.keys, prob=1.0, rotate_range=rotate, mode="bilinear", padding_mode=padding_mode,
                                         allow_missing_keys=True)

    def __call__(self, arrays: Dict[str, np.ndarray], rng: np.random.Generator) -> Dict[str, np.ndarray]:
        self.transform.set_random_state(seed=int(rng.integers(2 ** 31 - 1)))
        moved = self.transform({k: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for k, a in arrays.items()})
        return {k: torch.as_tensor(moved[k]).numpy() for k in arrays}
