"""Volume <-> SimpleITK image, without copying voxels when the layout allows."""

from __future__ import annotations

from typing import Optional

import numpy as np
import SimpleITK as sitk

from ..geometry.sitk_grid import apply_grid, grid_of, reference_image  # noqa: F401  (re-exported)
from ..volume import Volume

#: metadata key under which NRRD and MetaImage files keep the intensity meaning
MODALITY_KEY = "MedSR_modality"
METADATA_PREFIX = "MedSR_"


def volume_from_sitk(image: sitk.Image, modality: str = "MR", source: Optional[str] = None) -> Volume:
    if image.GetDimension() == 4:
        image = image[:, :, :, 0]
    # SimpleITK hands out (k, j, i); its transpose is our (i, j, k), a view, no copy
    array = sitk.GetArrayFromImage(image).T
    metadata = {key[len(METADATA_PREFIX):]: image.GetMetaData(key) for key in image.GetMetaDataKeys() if key.startswith(METADATA_PREFIX)}
    metadata.pop("modality", None)
    if source:
        metadata.setdefault("source", source)
    return Volume(array=array, grid=grid_of(image), modality=modality, metadata=metadata)


def sitk_from_volume(volume: Volume, array: Optional[np.ndarray] = None) -> sitk.Image:
    data = volume.array if array is None else array
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    image = sitk.GetImageFromArray(np.ascontiguousarray(data.T))
    apply_grid(image, volume.grid)
    return image
