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
brain (air, skull, scalp, fat) and no single Gaussian describes it. With a brain
mask (``brain``), the mask decides instead, after the fit: its voxels' tissues
share all of their probability and the background none. The fit is
refused, and the network's probabilities kept, when two tissues overlap in
intensity (their means closer than half the sum of their spreads): the
intensities cannot then separate them, and a fit seeded by wrong labels would
only make them worse.

When the head atlas has been placed on the scan (brain extraction), its tissue maps replace the network as the
EM's prior (``spatial_prior``): the atlas does not depend on the contrast, so the fit starts right in a T2- or
PD-like image where a network trained on T1-like images would seed it wrongly; the network is joined to the atlas
only when its labels agree with the atlas-only fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

ITERATIONS = 6
FLOOR_SD = 0.02  # in the units of the normalised image (0.5-99.5 percentile range = 0-1)
MIN_SEPARATION = 0.5
#: with atlas priors: the network joins the atlas (as network ** NETWORK_WEIGHT) when its labels agree with the
#: atlas-only fit by at least this mean Dice. Chosen on the tuning case (the 3T18yo atlas head placed anew, with its
#: MNI maps as reference; not a validation head): the network agreed by 0.74 on its T1, 0.56 on a T2-like and 0.35 on
#: a PD-like rendering, and joining it changed the mean tissue Dice by +0.007, +0.037 and -0.119 there
MIN_AGREEMENT = 0.45
NETWORK_WEIGHT = 0.5
#: what the EM takes as its prior when the network joins the atlas (``_network_factor``)
JOINED_PRIOR = f"atlas x network^{NETWORK_WEIGHT:g}, CSF never below grey matter"


@dataclass
class IntensityFit:
    """What the intensity model did: ``applied``, else ``reason``; per tissue the fitted mean and spread."""

    applied: bool
    reason: str = ""
    tissues: List[int] = field(default_factory=list)
    means: List[float] = field(default_factory=list)
    sds: List[float] = field(default_factory=list)
    #: what the EM took as its prior: "network", "atlas" or JOINED_PRIOR
    prior: str = "network"
    #: with atlas priors, the mean Dice between the network's labels and the atlas-only fit, else None
    network_agreement: Optional[float] = None
    #: the factor CSF's posterior was weighed by before the labels were taken (1: none; methods/segmentation.py)
    csf_prior_scale: float = 1.0
    #: with atlas priors, how far apart the fitted CSF and grey-matter means lie, in their summed spreads, else None
    csf_separation: Optional[float] = None

    def describe(self, names=None) -> str:
        names = names or {}
        fitted = ", ".join(f"{names.get(t, t)} {m:.3f} +- {s:.3f}" for t, m, s in zip(self.tissues, self.means, self.sds))
        if self.applied:
            prior = f"prior: {self.prior}" + ("" if self.network_agreement is None else
                                              f", the network agreeing by {self.network_agreement:.2f}")
            if self.csf_prior_scale != 1.0:
                prior += ", " + csf_weighing_note(self.csf_prior_scale, self.csf_separation)
            return f"intensity model applied ({prior}; normalised intensity per tissue: {fitted})"
        return f"intensity model not applied: {self.reason}" + (f" ({fitted})" if fitted else "")

    def separation(self, first: int, second: int) -> Optional[float]:
        """How far apart the fitted means of tissues ``first`` and ``second`` (labels) lie, in their summed spreads;
        None when either was not fitted."""
        if first not in self.tissues or second not in self.tissues:
            return None
        a, b = self.tissues.index(first), self.tissues.index(second)
        return float(abs(self.means[a] - self.means[b]) / max(self.sds[a] + self.sds[b], 1e-12))


def csf_weighing_note(scale: float, separation: Optional[float]) -> str:
    """The words for CSF's weighed prior (methods/segmentation.py), as the command line and the Slicer panel say them."""
    return f"CSF's prior weighed by {scale:g}" + ("" if separation is None else
                                                   f" (CSF {separation:.2f} summed spreads from grey matter)")


def refine_with_intensity_model(image: np.ndarray, probabilities: np.ndarray, tissues: Sequence[int] = (1, 2, 3),
                                iterations: int = ITERATIONS, floor_sd: float = FLOOR_SD,
                                min_separation: float = MIN_SEPARATION, names=None,
                                spatial_prior: Optional[np.ndarray] = None,
                                brain: Optional[np.ndarray] = None) -> Tuple[np.ndarray, IntensityFit]:
    """``probabilities`` (classes, *image.shape) refined by a Gaussian intensity model of ``tissues`` fitted to
    ``image`` by EM; the input probabilities and the reason when the tissues do not separate in intensity.

    The returned array is a new one; the classes not in ``tissues`` keep their probabilities exactly, and the
    tissues share what those leave (1 - background) in proportion to prior times likelihood. ``names``
    (label -> name) words the reason.

    ``spatial_prior`` (len(tissues), *image.shape): where an atlas placed on the scan expects each tissue
    (strip.priors). The EM then takes it as the prior instead of the network's probabilities, so it starts from
    the atlas whatever the image's contrast (SPM's unified segmentation), and no overlap refusal applies, since the
    seed does not come from the image. The network is joined to it (prior = atlas x network ** NETWORK_WEIGHT, with
    _network_factor's CSF) only when the network's labels agree with that atlas-only fit (mean Dice of the tissues
    >= MIN_AGREEMENT): a network trained on T1-like images and wrong on another contrast is then left out, by
    evidence in the image.

    ``brain`` (bool, image.shape): voxels known to be brain (a brain mask). The fit is made as without it, each voxel
    weighing its tissues' share; after it, these voxels' tissues share all of their probability and the background
    none, so every voxel of the mask gets the tissue its intensity and prior make most likely.
    """
    names = names or {}
    tissues = list(tissues)
    network = probabilities.reshape(probabilities.shape[0], -1)
    share = network[tissues].sum(axis=0)
    # the fit sees only the voxels the tissues share (inside the brain mask, when there is one): elsewhere their share
    # is 0, so they weigh nothing in the fit and get no tissue. Leaving them out changes the result by float32 rounding
    # only (sums over a tenth of the voxels: on a 256^3 head 1.5 s instead of 9 s, 99.998 % of the labels the same)
    active = np.flatnonzero(share > 0)
    intensity = image.reshape(-1)[active].astype(np.float32)
    share = share[active]
    in_brain = None if brain is None else brain.reshape(-1)[active]
    final_share = None if in_brain is None else np.where(in_brain, 1.0, share).astype(np.float32)
    tissue_network = network[tissues][:, active]
    if spatial_prior is None:
        posterior, means, sds = _em(intensity, tissue_network, share, iterations, floor_sd, final_share)
        fit = IntensityFit(True, "", tissues, means, sds, prior="network")
        reason = _overlap(fit, min_separation, names)
        if reason:
            fit.applied, fit.reason = False, reason
            return probabilities, fit
    else:
        atlas = spatial_prior.reshape(len(tissues), -1)[:, active].astype(np.float32) + 1e-3  # never rule a tissue out
        inside = share > 0.5
        posterior, means, sds = _em(intensity, atlas, share, iterations, floor_sd, final_share)
        agreement = _agreement(tissue_network[:, inside].argmax(axis=0), posterior[:, inside].argmax(axis=0), len(tissues))
        fit = IntensityFit(True, "", tissues, means, sds, prior="atlas", network_agreement=agreement)
        if agreement >= MIN_AGREEMENT:
            joined = atlas * _network_factor(tissue_network) ** NETWORK_WEIGHT
            posterior, fit.means, fit.sds = _em(intensity, joined, share, iterations, floor_sd, final_share)
            fit.prior = JOINED_PRIOR
    refined = network.copy()
    refined[np.ix_(tissues, active)] = posterior
    if in_brain is not None:  # the mask's voxels: the tissues share everything, the other classes nothing
        others = [row for row in range(network.shape[0]) if row not in tissues]
        refined[np.ix_(others, active[in_brain])] = 0.0
    return refined.reshape(probabilities.shape), fit


def _network_factor(tissue_network: np.ndarray) -> np.ndarray:
    """The network's share in the joined prior, rows (CSF, GM, WM) as the spatial prior's: its own probabilities, but
    CSF's is never below grey matter's. The network learnt one sharp template, whose sulci are thin; on a scan whose
    sulci are blurred by partial volume (a real head, an average of heads) it calls grey matter what the intensities
    and the atlas put in the CSF, while it still tells grey from white matter and the brain's parenchyma from the
    ventricles well. Chosen on the tuning heads (3T18yo and mni305 placed anew; not validation heads): mean tissue
    Dice 0.683 -> 0.700 and 0.656 -> 0.683 on their real T1s, 0.873 -> 0.846 and 0.841 -> 0.815 on the T1- and
    T2-like renderings, whose sharp boundaries come from the template's maps themselves."""
    factor = tissue_network.copy()
    factor[0] = np.maximum(tissue_network[0], tissue_network[1])
    return factor


def _em(intensity: np.ndarray, prior: np.ndarray, share: np.ndarray, iterations: int, floor_sd: float,
        final_share: Optional[np.ndarray] = None):
    """(posterior, means, sds): ``iterations`` of EM for one Gaussian per row of ``prior`` (rows scaled to ``share``;
    the returned posterior, of the last fit, to ``final_share`` when given),
    each tissue's mixing weight re-estimated too (SPM, FAST and Atropos do): a prior that expects too little of a tissue
    in this brain (a wider ventricle, thinner cortex) is scaled by how much the image's intensities give it. The
    likelihood takes one spread for every tissue (_shared_spread); the returned spreads are each tissue's own."""
    prior = prior * (share / np.maximum(prior.sum(axis=0), 1e-30))
    posterior = prior.astype(np.float32)
    expected = np.maximum(prior.sum(axis=1), 1e-6)
    means, sds = [], []
    for iteration in range(iterations):
        if final_share is not None and iteration == iterations - 1:
            share = final_share
        means, sds = _fit(intensity, posterior, floor_sd)
        weights = posterior.sum(axis=1) / expected
        spread = _shared_spread(sds, posterior.sum(axis=1))
        for row in range(len(prior)):
            posterior[row] = weights[row] * prior[row] * np.exp(-0.5 * ((intensity - means[row]) / spread) ** 2)
        posterior *= share / np.maximum(posterior.sum(axis=0), 1e-30)
    return posterior, [float(m) for m in means], [float(s) for s in sds]


def _shared_spread(sds, totals) -> float:
    """The tissues' spreads pooled (weighted by each tissue's share of the voxels): the likelihood's one spread.

    Each tissue's own spread is inflated by partial volume most where a thin tissue borders a thick one: the CSF of
    the sulci is mostly CSF mixed with cortex, so a CSF Gaussian fitted to it is wide and claims the darker half of
    the cortex. One spread for all (the equal-variance mixture that linear discriminant analysis and, implicitly,
    Otsu's thresholds assume) puts each boundary half-way between the means, shifted by the prior alone. Measured
    on the tuning cases with a SyN-made reference, the reference mask given (Testing/Benchmarks/heads/
    tuning_cases_syn.py; not validation heads), mean tissue Dice per-tissue spreads -> one spread: mni305 real
    0.715 -> 0.752, T1-like 0.890 -> 0.892, T2-like 0.818 -> 0.825, PD-like 0.768 -> 0.767; 3T18yo real
    0.748 -> 0.752, T1-like 0.864 -> 0.884, T2-like 0.834 -> 0.848, PD-like 0.808 -> 0.792 (in PD-like images CSF
    lies close above grey matter, and its own narrower spread separated them better); mean 0.806 -> 0.814.
    Capping CSF's spread at grey matter's instead: 0.813, and PD-like 0.779; each tissue's own spread capped at the pooled
    one 0.811, their geometric mean 0.810 (PD-like 0.765 / 0.783 and 0.767 / 0.793).

    An explicit partial-volume model instead (as FAST and Atropos offer: mixed CSF/GM and GM/WM classes whose
    intensity is a uniform mix of their neighbours' Gaussians, prior the geometric mean of the two pure priors, only
    the pure classes fitting the means and spreads, each mixed voxel's share split between its tissues by its
    fraction), measured on the same cases 2026-12-05: mean 0.804 with each tissue's own spread, 0.812 with one
    spread (T1-/T2-like +0.004 to +0.011, PD-like -0.016 / -0.026, real +0.003 / +0.000), 0.807 with the smaller
    pure prior as the mixed one, 0.805 with the mixed prior halved: not adopted."""
    totals = np.asarray(totals, dtype=np.float64)
    variance = float(np.sum(totals * np.square(np.asarray(sds, dtype=np.float64))) / max(float(totals.sum()), 1e-12))
    return float(np.sqrt(variance))


def _overlap(fit: IntensityFit, min_separation: float, names) -> str:
    """Why the fit must be refused (two tissues overlap in intensity), or ''."""
    for index, tissue in enumerate(fit.tissues):
        for other in fit.tissues[index + 1:]:
            separation = fit.separation(tissue, other)
            if separation < min_separation:
                first, second = (names.get(t, f"label {t}") for t in (tissue, other))
                return (f"{first} and {second} overlap in intensity (means {separation:.2f} summed spreads apart, "
                        f"under {min_separation})")
    return ""


def _agreement(first: np.ndarray, second: np.ndarray, classes: int) -> float:
    """Mean Dice over ``classes`` of two labellings (0..classes-1) of the same voxels."""
    scores = []
    for k in range(classes):
        a, b = first == k, second == k
        total = np.count_nonzero(a) + np.count_nonzero(b)
        scores.append(2.0 * np.count_nonzero(a & b) / total if total else 1.0)
    return float(np.mean(scores))


def _fit(intensity: np.ndarray, weights: np.ndarray, floor_sd: float):
    means, sds = [], []
    for row in weights:
        total = float(row.sum()) + 1e-6
        mean = float(row @ intensity) / total
        variance = float(row @ ((intensity - mean) ** 2)) / total
        means.append(mean)
        sds.append(max(float(np.sqrt(variance)), floor_sd))
    return means, sds
