"""Overlap and distance between label maps: Dice, IoU and the 95 % Hausdorff distance per label."""

from __future__ import annotations

import numpy as np

from ..errors import MedSRError
from ..volume import Volume

#: at most this many distinct values for a volume to be taken as a label map when not told
MAX_AUTO_LABELS = 64


def looks_like_labels(volume: Volume) -> bool:
    array = volume.array
    if array.dtype.kind not in "biu":
        if not np.array_equal(array, np.round(array)):
            return False
    return np.unique(array).size <= MAX_AUTO_LABELS


def check_label_map(volume: Volume, what: str) -> np.ndarray:
    array = volume.array
    if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
        raise MedSRError(f"{what} is not a label map: it has non-integer values")
    labels = np.unique(array)
    if labels.size > 1000:
        raise MedSRError(f"{what} is not a label map: it has {labels.size} distinct values")
    return array.astype(np.int32)


def hd95(reference: np.ndarray, test: np.ndarray, spacing) -> float:
    """Symmetric 95th-percentile surface distance in mm, by MONAI (max of both directed 95th percentiles)."""
    import warnings

    import torch
    from monai.metrics import compute_hausdorff_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # MONAI warns about its own internal argument
        value = compute_hausdorff_distance(
            torch.from_numpy(np.ascontiguousarray(test))[None, None],
            torch.from_numpy(np.ascontiguousarray(reference))[None, None],
            percentile=95,
            spacing=[float(s) for s in spacing],
        )
    return float(value.item())


def label_metrics(reference: Volume, test: Volume) -> dict:
    """Dice, IoU, HD95 (mm) and volumes (mL) for every non-zero label of the reference or the test."""
    ref = check_label_map(reference, "the reference")
    tst = check_label_map(test, "the test volume")
    labels = sorted(set(np.unique(ref).tolist()) | set(np.unique(tst).tolist()) - {0})
    voxel_ml = float(np.prod(reference.grid.spacing)) / 1000.0
    per_label = {}
    for label in labels:
        a, b = ref == label, tst == label
        na, nb = int(a.sum()), int(b.sum())
        both = int(np.logical_and(a, b).sum())
        union = na + nb - both
        per_label[str(label)] = {
            "dice": 2.0 * both / (na + nb),
            "iou": both / union,
            "hd95_mm": hd95(a, b, reference.grid.spacing) if na and nb else float("nan"),
            "reference_ml": na * voxel_ml,
            "test_ml": nb * voxel_ml,
        }
    mean_dice = float(np.mean([m["dice"] for m in per_label.values()])) if per_label else float("nan")
    return {"labels": per_label, "mean_dice": mean_dice}
