"""Whole-head training label maps: a head with skull, scalp and neck, its brain tissues and what lies outside the brain.

The tissue network learnt from one skull-stripped template; real scans have skull, scalp, fat, eyes and neck, and a
brain mask that overshoots by a millimetre or two leaves some of them inside. These maps teach it what they are:

* channels ``HEAD_CHANNELS``: air and three classes of non-brain tissue (the 3-class Otsu split of the head's own
  intensities outside the brain: dark - bone, air cavities; mid - muscle, skin; bright - fat, marrow) and CSF, grey
  and white matter (the MNI ICBM152 2009a maps carried onto the head by registration, inside the atlas brain carried
  the same way; strip/head_reference.py);
* the four non-brain channels are all *background* to the network (``CHANNEL_LABELS``), but each gets its own random
  intensity in synthesis (train/synth.py), so one label map gives heads of every contrast, SynthSeg's way.

Built from FreeSurfer's 3T18yo head, the atlas head (io/public_heads.py); never from the held-out 711-2C or ITK heads.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..strip.head_reference import reference_tissues
from ..volume import Volume
from .tissue import TissueData

HEAD_CHANNELS = ("air", "dark non-brain", "mid non-brain", "bright non-brain", "cerebrospinal fluid", "grey matter",
                 "white matter")
#: the label each channel trains: every non-brain channel is background
CHANNEL_LABELS = np.array([0, 0, 0, 0, 1, 2, 3], np.int64)
TRAINING_HEAD = "3t18yo"


def non_brain_classes(values: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """0 (air) to 3 (brightest) per voxel: the 3-class Otsu thresholds of the intensities outside ``brain``."""
    thresholds = sitk.OtsuMultipleThresholdsImageFilter()
    thresholds.SetNumberOfThresholds(3)
    thresholds.Execute(sitk.GetImageFromArray(values[~brain].astype(np.float32).reshape(1, 1, -1)))
    return np.digitize(values, sorted(thresholds.GetThresholds()))


def load_head_training_data(name: str = TRAINING_HEAD) -> TissueData:
    """The head ``name`` as :class:`TissueData` with the seven ``HEAD_CHANNELS`` as probabilities (they sum to one),
    its 4-class labels (``CHANNEL_LABELS`` of the most probable channel) and its image scaled so that its 99.5th
    percentile is 1 (what the real-image branch of the synthesis expects with ``t1_reference=1``)."""
    maps = reference_tissues(name, mask_name=None)
    head = maps["head"]
    values = head.as_float32()
    csf, gm, wm = (maps[n].array for n in ("csf", "gm", "wm"))
    brain_share = np.clip(csf + gm + wm, 0.0, 1.0)
    classes = non_brain_classes(values, brain_share > 0.5)
    outside = np.stack([(classes == c) for c in range(4)]).astype(np.float32) * (1.0 - brain_share)
    probabilities = np.concatenate([outside, np.stack([csf, gm, wm])]).astype(np.float32)
    probabilities /= np.maximum(probabilities.sum(axis=0, keepdims=True), 1e-6)
    labels = CHANNEL_LABELS[probabilities.argmax(axis=0)].astype(np.uint8)
    scaled = Volume((values / float(np.percentile(values, 99.5))).astype(np.float32), head.grid, "MR", {"source": name})
    return TissueData(scaled, probabilities, labels)
