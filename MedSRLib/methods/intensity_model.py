"""A test-time intensity model for tissue segmentation: the network's probabilities as the prior of a Gaussian
mixture fitted to the very image being segmented.

This is classical Bayesian tissue classification (FAST, Atropos, SPM's unified
segmentation) with the network in place of the atlas: each tissue's intensity
mean and spread are estimated from the voxels the network gives it (EM), and
each voxel's tissue probabilities become the network's times the intensity
likelihood, renormalised. The network knows the anatomy but, trained for every
contrast, bias and resolution, it places the boundary between tissues of one
particular image only roughly; the image's own intensities place it sharply.

The background keeps the network's probability: it is everything outside the
brain (air, skull, scalp, fat) and no single Gaussian describes it. The fit is
refused, and the network's probabilities kept, when two tissues overlap in
intensity (their means closer than half the sum of their spreads): the
intensities cannot then separate them, and a fit seeded by wrong labels would
only make them worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

import numpy as np

ITERATIONS = 6
FLOOR_SD = 0.02  # in the units of the normalised image (0.5-99.5 percentile range = 0-1)
MIN_SEPARATION = 0.5


@dataclass
class IntensityFit:
    """What the intensity model did: ``applied``, else ``reason``; per tissue the fitted mean and spread."""

    applied: bool
    reason: str = ""
    tissues: List[int] = field(default_factory=list)
    means: List[float] = field(default_factory=list)
    sds: List[float] = field(default_factory=list)

    def describe(self, names=None) -> str:
        names = names or {}
        fitted = ", ".join(f"{names.get(t, t)} {m:.3f} +- {s:.3f}" for t, m, s in zip(self.tissues, self.means, self.sds))
        if self.applied:
            return f"intensity model applied (normalised intensity per tissue: {fitted})"
        return f"intensity model not applied: {self.reason}" + (f" ({fitted})" if fitted else "")


def refine_with_intensity_model(image: np.ndarray, probabilities: np.ndarray, tissues: Sequence[int] = (1, 2, 3),
                                iterations: int = ITERATIONS, floor_sd: float = FLOOR_SD,
                                min_separation: float = MIN_SEPARATION, names=None) -> Tuple[np.ndarray, IntensityFit]:
    """``probabilities`` (classes, *image.shape) refined by a Gaussian intensity model of ``tissues`` fitted to
    ``image`` by EM; the input probabilities and the reason when the tissues do not separate in intensity.

    The returned array is a new one; the classes not in ``tissues`` keep their probabilities exactly, and the
    tissues share what those leave (1 - background) in proportion to prior times likelihood. ``names``
    (label -> name) words the reason.
    """
    names = names or {}
    tissues = list(tissues)
    intensity = image.reshape(-1).astype(np.float32)
    prior = probabilities.reshape(probabilities.shape[0], -1)
    share = prior[tissues].sum(axis=0)
    posterior = prior[tissues].astype(np.float32)
    means, sds = [], []
    for _ in range(iterations):
        means, sds = _fit(intensity, posterior, floor_sd)
        for row, tissue in enumerate(tissues):
            posterior[row] = prior[tissue] * np.exp(-0.5 * ((intensity - means[row]) / sds[row]) ** 2) / sds[row]
        posterior *= share / np.maximum(posterior.sum(axis=0), 1e-30)
    fit = IntensityFit(True, "", tissues, [float(m) for m in means], [float(s) for s in sds])
    for a in range(len(tissues)):
        for b in range(a + 1, len(tissues)):
            separation = abs(means[a] - means[b]) / (sds[a] + sds[b])
            if separation < min_separation:
                fit.applied = False
                fit.reason = (f"{names.get(tissues[a], f'label {tissues[a]}')} and {names.get(tissues[b], f'label {tissues[b]}')} "
                              f"overlap in intensity (means {separation:.2f} summed spreads apart, under {min_separation})")
                return probabilities, fit
    refined = prior.copy()
    refined[tissues] = posterior
    return refined.reshape(probabilities.shape), fit


def _fit(intensity: np.ndarray, weights: np.ndarray, floor_sd: float):
    means, sds = [], []
    for row in weights:
        total = float(row.sum()) + 1e-6
        mean = float(row @ intensity) / total
        variance = float(row @ ((intensity - mean) ** 2)) / total
        means.append(mean)
        sds.append(max(float(np.sqrt(variance)), floor_sd))
    return means, sds
