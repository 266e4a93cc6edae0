"""Compare a test volume with a reference on the same grid (the `medsr eval` command)."""

from __future__ import annotations

from typing import Optional

from ..errors import MedSRError
from ..volume import Volume
from .intensity import foreground_mask, image_metrics
from .labels import label_metrics, looks_like_labels

KINDS = ("auto", "image", "labels")


def require_same_grid(reference: Volume, other: Volume, what: str) -> None:
    """Refuse, never resample: a metric on a silently resampled volume measures the resampler."""
    if not reference.grid.matches(other.grid):
        raise MedSRError(
            f"{what} is not on the reference's grid ({reference.grid.describe_difference(other.grid)}); "
            "resample it first, e.g. with `medsr sr --reference`"
        )


def evaluate(
    reference: Volume,
    test: Volume,
    mask: Optional[Volume] = None,
    kind: str = "auto",
    data_range: Optional[float] = None,
) -> dict:
    """Image metrics (whole volume and foreground) or label metrics, with what was measured stated."""
    if kind not in KINDS:
        raise MedSRError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    require_same_grid(reference, test, "the test volume")
    if kind == "auto":
        kind = "labels" if looks_like_labels(reference) and looks_like_labels(test) else "image"
    if kind == "labels":
        return {"kind": "labels", **label_metrics(reference, test)}
    if mask is not None:
        require_same_grid(reference, mask, "the mask")
        mask_array, mask_source = mask.array > 0, "given mask (voxels > 0)"
    else:
        mask_array, mask_source = foreground_mask(reference), "Otsu threshold of the reference, holes filled"
    result = image_metrics(reference.array, test.array, mask_array, data_range)
    range_source = "given" if data_range is not None else "reference 0.5-99.5 percentile range"
    return {"kind": "image", "data_range_source": range_source, "mask_source": mask_source, **result}
