"""Brain-tissue training data from the MNI ICBM152 2009a maps (the only real labels we may ship).

Classes: 0 background, 1 CSF, 2 grey matter, 3 white matter. The template has
grey- and white-matter probability maps but no CSF map and no brain mask:
the head mask is T1 > 0.2 * max (holes filled) and CSF = mask * (1 - GM - WM),
as ../shared/DATA.md suggests. Labels are the most probable class.

Hold-out: the template is left-right *symmetric*, so a hemisphere split would
test on a mirror image of the training data. We hold out the superior part
instead: training patches lie entirely below axial index k = 112 (LPS z < 40 mm),
validation figures are measured on k >= 120 (z >= 48 mm) only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from ..io import read_volume
from ..io.convert import sitk_from_volume
from ..sample_data import sample_path
from ..volume import Volume

LABEL_NAMES = {0: "background", 1: "cerebrospinal fluid", 2: "grey matter", 3: "white matter"}
LABEL_COLOURS = {0: (0, 0, 0), 1: (86, 180, 233), 2: (230, 159, 0), 3: (240, 240, 225)}
TRAIN_K_END = 112  # training patches end below this axial index
HELD_OUT_K_START = 120  # validation measured from this axial index up
T1_REFERENCE = 228.0  # the MNI T1's 99.5th percentile: training patches of the real T1 are divided by it


@dataclass
class TissueData:
    t1: Volume
    probabilities: np.ndarray  # (4, i, j, k) float32, sums to one
    labels: np.ndarray  # (i, j, k) uint8


def load_tissue_data() -> TissueData:
    t1 = read_volume(sample_path("t1"))
    gm = read_volume(sample_path("gm")).as_float32() / 255.0
    wm = read_volume(sample_path("wm")).as_float32() / 255.0
    t1_float = t1.as_float32()
    mask_image = sitk_from_volume(t1, (t1_float > 0.2 * t1_float.max()).astype(np.uint8))
    mask = sitk.GetArrayFromImage(sitk.BinaryFillhole(mask_image)).T.astype(np.float32)
    tissue = np.clip(gm + wm, 0.0, 1.0)
    gm, wm = gm * np.minimum(1.0, 1.0 / np.maximum(gm + wm, 1e-6)), wm * np.minimum(1.0, 1.0 / np.maximum(gm + wm, 1e-6))
    brain = np.maximum(mask, tissue)
    csf = np.clip(brain - gm - wm, 0.0, 1.0)
    background = np.clip(1.0 - csf - gm - wm, 0.0, 1.0)
    probabilities = np.stack([background, csf, gm, wm]).astype(np.float32)
    probabilities /= probabilities.sum(axis=0, keepdims=True)
    labels = probabilities.argmax(axis=0).astype(np.uint8)
    return TissueData(t1, probabilities, labels)


def training_window(labels: np.ndarray, patch: int, rng: np.random.Generator) -> tuple:
    """Slices of a random ``patch``-cube around the head that lies wholly in the training part (k < TRAIN_K_END)."""
    nonzero = np.argwhere(labels > 0)
    lo, hi = nonzero.min(axis=0), nonzero.max(axis=0)
    start = [int(rng.integers(max(0, lo[a] - patch // 4), max(1, min(hi[a], labels.shape[a]) - patch * 3 // 4))) for a in range(2)]
    start.append(int(rng.integers(max(0, lo[2] - patch // 4), TRAIN_K_END - patch + 1)))
    start = [min(s, labels.shape[a] - patch) for a, s in enumerate(start)]
    return tuple(slice(s, s + patch) for s in start)


def tissue_dice(truth: np.ndarray, prediction: np.ndarray) -> dict:
    """Dice of CSF, grey and white matter (by name) and their mean."""
    dice = {}
    for label in (1, 2, 3):
        a, b = truth == label, prediction == label
        dice[LABEL_NAMES[label]] = float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))
    dice["mean"] = float(np.mean(list(dice.values())))
    return dice
