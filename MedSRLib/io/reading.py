"""Read any 3-D scalar volume SimpleITK understands, with checks that name what is wrong."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import SimpleITK as sitk

from ..acquisition_type import KEY as ACQUISITION_TYPE_KEY, type_from_header
from ..errors import MedSRError
from ..slice_thickness import (IGNORED_KEY, TOUCHING_MM, from_sidecar, sidecar_axis_is_slices, thickness_from_header,
                              with_slice_thickness)
from ..volume import Volume, check_finite
from .convert import MODALITY_KEY, volume_from_sitk
from .integrity import check_complete


def read_volume(path, modality: Optional[str] = None, series_uid: Optional[str] = None) -> Volume:
    """Read a NIfTI, NRRD, MetaImage or other SimpleITK file, or a DICOM series folder.

    ``modality`` overrides what the file says (DICOM tag (0008,0060), our own
    NRRD/MetaImage key) or what the intensities suggest (HU-like values below
    -900 mean CT). Raises :class:`MedSRError` for anything that is not one
    finite 3-D scalar volume.
    """
    path = Path(path)
    if not path.exists():
        raise MedSRError(f"no such file or folder: {path}")
    if path.is_dir():
        image, tags = _read_dicom_series(path, series_uid)
    else:
        if not os.access(path, os.R_OK):
            raise MedSRError(f"cannot read {path}: permission denied")
        image, tags = _read_file(path)
    _check_shape(image, path)
    try:
        volume = volume_from_sitk(image, modality=modality or _modality_from(tags, image), source=str(path))
    except MedSRError as error:
        raise MedSRError(f"{path}: {error}") from None
    check_finite(volume, str(path))
    return _with_header_thickness(_with_acquisition_type(volume, path, tags, path.is_dir()), path, tags, path.is_dir())


def _with_acquisition_type(volume: Volume, path: Path, tags: dict, is_dicom_series: bool) -> Volume:
    """``volume`` with the MR acquisition type (2-D or 3-D) its header or BIDS sidecar records (acquisition_type.py)."""
    kind = type_from_header(path, tags, is_dicom_series)
    return volume.with_array(volume.array, **{ACQUISITION_TYPE_KEY: kind}) if kind else volume


def _with_header_thickness(volume: Volume, path: Path, tags: dict, is_dicom_series: bool) -> Volume:
    """``volume`` with the slice thicknesses its header records (slice_thickness.py); one out of range is left out
    and said (slice_thickness.IGNORED_KEY), the slices then taken to touch; so is one of a 3-D acquisition, whose
    coarse axis is resolved by its k-space, not by slices of a thickness (acquisition_type.py)."""
    sidecar = from_sidecar(path, is_dicom_series)
    for axis, thickness in thickness_from_header(path, tags, is_dicom_series).items():
        spacing = float(volume.grid.spacing[axis])
        if abs(thickness - spacing) <= TOUCHING_MM and sidecar:
            continue  # touching slices: nothing to record, whichever axis the sidecar meant
        if sidecar and not sidecar_axis_is_slices(volume.grid.spacing):
            reason = (f"{path}: its BIDS sidecar's SliceThickness ({thickness:g} mm) is for the axis its slices stack "
                      f"along, k as dcm2niix writes them, but k is not the scan's coarsest axis (spacing "
                      f"{', '.join(f'{v:.4g}' for v in volume.grid.spacing)} mm: reoriented since?); the thickness left out")
            volume = volume.with_array(volume.array, **{IGNORED_KEY: reason})
            continue
        if volume.metadata.get(ACQUISITION_TYPE_KEY) == "3D":  # no slices: its k-space resolves it
            if abs(thickness - spacing) > TOUCHING_MM:  # a figure that would have meant something: say why not
                reason = (f"{path}: its header says a 3-D acquisition, resolved along axis {'ijk'[axis]} by its "
                          f"k-space, and a Slice Thickness of {thickness:g} mm every {spacing:.4g} mm; the thickness left out")
                volume = volume.with_array(volume.array, **{IGNORED_KEY: reason})
            continue
        try:
            volume = with_slice_thickness(volume, axis, thickness, f"{path}: its header")
        except MedSRError as error:
            reason = f"{error}; the slices taken to touch (--slice-thickness says otherwise)"
            volume = volume.with_array(volume.array, **{IGNORED_KEY: reason})
    return volume


def _read_file(path: Path):
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        if path.stat().st_size == 0:
            raise MedSRError(f"cannot read {path}: the file is empty") from None
        raise MedSRError(f"cannot read {path}: not an image file that SimpleITK understands") from None
    _check_header(reader, path)
    check_complete(path, reader.GetSize(), _pixel_bytes(reader))
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise MedSRError(f"cannot read {path}: the file is damaged or truncated ({_first_line(error)})") from None
    tags = {key: reader.GetMetaData(key) for key in reader.GetMetaDataKeys()}
    return image, tags


def _pixel_bytes(reader) -> int:
    probe = sitk.Image([1, 1], reader.GetPixelID())
    return int(probe.GetSizeOfPixelComponent()) * int(reader.GetNumberOfComponents())


def _check_header(reader, path: Path) -> None:
    size = reader.GetSize()
    if any(n == 0 for n in size):
        raise MedSRError(f"{path} is empty: its size is {size}")
    components = reader.GetNumberOfComponents()
    if components > 1:
        raise MedSRError(
            f"{path} has {components} components per voxel (a vector, RGB or multi-channel image); "
            "MedSR needs one scalar volume"
        )
    if reader.GetDimension() == 4:
        if size[3] == 1:
            return  # a 4-D header around one 3-D volume is fine
        raise MedSRError(
            f"{path} is 4-D with {size[3]} volumes of {size[:3]} voxels (a time series or multi-channel "
            "image); extract one 3-D volume first"
        )
    if reader.GetDimension() > 4:
        raise MedSRError(f"{path} is {reader.GetDimension()}-D (size {size}); MedSR needs one 3-D volume")


def _read_dicom_series(folder: Path, series_uid: Optional[str]):
    ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not ids:
        raise MedSRError(f"{folder} is a folder with no DICOM series in it")
    if series_uid is None:
        if len(ids) > 1:
            raise MedSRError(f"{folder} holds {len(ids)} DICOM series ({', '.join(ids)}); choose one with its series UID")
        series_uid = ids[0]
    elif series_uid not in ids:
        raise MedSRError(f"{folder} has no DICOM series {series_uid}; it has {', '.join(ids)}")
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), series_uid)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    reader.MetaDataDictionaryArrayUpdateOn()
    try:
        image = reader.Execute()
    except RuntimeError as error:
        raise MedSRError(f"cannot read the DICOM series in {folder}: {_first_line(error)}") from None
    if image.GetNumberOfComponentsPerPixel() > 1:
        raise MedSRError(f"the DICOM series in {folder} has colour or multi-component pixels; MedSR needs a scalar volume")
    tags = {key: reader.GetMetaData(0, key) for key in reader.GetMetaDataKeys(0)}
    return image, tags


def _check_shape(image: sitk.Image, path: Path) -> None:
    if image.GetDimension() == 4:
        image = image[:, :, :, 0]
    size = image.GetSize()
    if image.GetDimension() == 2 or (image.GetDimension() == 3 and 1 in size):
        raise MedSRError(f"{path} is a 2-D image (size {size}); MedSR needs a 3-D volume")
    if image.GetNumberOfComponentsPerPixel() > 1:
        raise MedSRError(f"{path} has {image.GetNumberOfComponentsPerPixel()} components per voxel; MedSR needs a scalar volume")
    if "complex" in image.GetPixelIDTypeAsString():
        raise MedSRError(f"{path} has complex voxels; MedSR needs real (magnitude) values")


def _modality_from(tags: dict, image: sitk.Image) -> str:
    recorded = tags.get(MODALITY_KEY) or tags.get("0008|0060", "").strip()
    if recorded in ("MR", "CT"):
        return recorded
    stats = sitk.MinimumMaximumImageFilter()
    stats.Execute(image if image.GetDimension() == 3 else image[:, :, :, 0])
    return "CT" if stats.GetMinimum() <= -900 else "MR"


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__

