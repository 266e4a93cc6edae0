"""A second opinion on the brain: deepbet's brain-extraction network, as a probability map on the scan's own grid.

deepbet (PyPI ``deepbet``, MIT licence; Fisch et al., 2024) is a U-Net trained on about 7,000 real T1-weighted
heads. MedSR does not copy it: it calls the installed package, whose two TorchScript models (a coarse network that
finds the brain's box, then the mask network on that box at 256^3) run on the scan in its closest canonical
(RAS) orientation; the probability is carried back to the scan's own voxel order. The models are TorchScript
archives, read by ``torch.jit.load``'s own restricted unpickler (tensors and TorchScript objects only: unlike
``torch.load`` it cannot call arbitrary Python), and their sha256 is checked against the pinned release before the
first load in a process.

The network runs twice, on the scan and on its left-right mirror image, and the two probabilities are averaged
(test-time augmentation; a brain is nearly symmetric, the network's errors are not), so the probability of a
mirrored scan is exactly the mirror of the scan's. Measured on the tuning cases (mni305 and 3T18yo placed anew, their
T1 and T1-, T2-, PD-like renderings, SyN-made references; not validation heads), mean brain-mask Dice 0.9638 ->
0.9648 (mni305 T2-like +0.0053, six others +0.0001 to +0.0008, 3T18yo's T1 -0.0004), for 2-3 s more per scan.

strip/extract.py averages this probability with the placed atlas's brain where the two agree, and ignores it
where they do not (a contrast the T1 network was not trained for; see there).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import MedSRError
from ..models.catalog import sha256_of
from ..volume import Volume

DEEPBET_RELEASE = "1.0.2"
MODEL_SHA256 = {
    "bbox_model.pt": "39a7b2b5f799faa1391ea97bfcdc0b9299f20d84f2316a4ff8918dc4685e40aa",
    "model.pt": "de8ee7c69654d0dd3935dc4a5d84571d8ecf4637a6bfc01df399c4c2bc86e0fd",
}
_LOADED = {}


def available() -> bool:
    """Whether deepbet is installed (a dependency of MedSRLib; Slicer installs it on the first Apply)."""
    try:
        import deepbet  # noqa: F401
    except ImportError:
        return False
    return True


def _extractor():
    """deepbet's BrainExtraction, built once per process after its model files' sha256 are checked."""
    if "extractor" not in _LOADED:
        from deepbet.bet import BrainExtraction
        from deepbet.utils import DATA_PATH

        folder = Path(DATA_PATH) / "models"
        for name, expected in MODEL_SHA256.items():
            path = folder / name
            if not path.is_file():
                raise MedSRError(f"deepbet's model file {path} is missing; reinstall it: pip install deepbet=={DEEPBET_RELEASE}")
            if sha256_of(path) != expected:
                raise MedSRError(f"deepbet's model file {path} does not match the release MedSR was validated with "
                                 f"(deepbet {DEEPBET_RELEASE}); reinstall it: pip install deepbet=={DEEPBET_RELEASE}")
        with warnings.catch_warnings():  # torch.jit.load's deprecation notice is for deepbet's authors, not our users
            warnings.simplefilter("ignore", DeprecationWarning)
            _LOADED["extractor"] = BrainExtraction(no_gpu=True, model_path=str(folder / "model.pt"),
                                                   bbox_model_path=str(folder / "bbox_model.pt"))
    return _LOADED["extractor"]


def brain_probability(volume: Volume) -> Optional[np.ndarray]:
    """deepbet's brain probability (0-1, float32) on ``volume``'s grid, averaged with its left-right mirror's (see
    above); None when deepbet is not installed or finds no brain box at all (an image it cannot read as a head)."""
    if not available():
        return None
    import nibabel
    import torch

    extractor = _extractor()
    image = nibabel.Nifti1Image(volume.as_float32(), volume.grid.ijk_to_ras())
    orientation = nibabel.io_orientation(image.affine)
    canonical = nibabel.apply_orientation(volume.as_float32(), orientation)  # = nibabel.as_closest_canonical's voxels
    with torch.inference_mode():
        try:  # canonical axis 0 runs from left to right: its reversal is the mirror image
            probability = extractor.run_model(np.ascontiguousarray(canonical))
            mirrored = extractor.run_model(np.ascontiguousarray(canonical[::-1]))[::-1]
        except ValueError:  # its box network found nothing (argmax of an empty count)
            return None
        probability = 0.5 * (np.asarray(probability, np.float32) + np.asarray(mirrored, np.float32))
    back = nibabel.orientations.ornt_transform([[0, 1], [1, 1], [2, 1]], orientation)
    return np.ascontiguousarray(nibabel.apply_orientation(probability, back), dtype=np.float32)
