"""Write volumes atomically: into a hidden temporary folder beside the target, then rename into place."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Iterable

import numpy as np
import SimpleITK as sitk

from ..acquisition_type import DICOM_MR_ACQUISITION_TYPE, acquisition_type
from ..errors import MedSRError
from ..slice_thickness import recorded_thickness_mm
from ..volume import Volume
from .convert import METADATA_PREFIX, MODALITY_KEY, sitk_from_volume
from .formats import DICOM, format_of
from .integrity import check_complete


def check_output_path(path, inputs: Iterable = (), overwrite: bool = False) -> Path:
    """Refuse an output that is an input, exists without ``overwrite``, or sits in a missing folder."""
    path = Path(path)
    for given in inputs:
        if given is not None and Path(given).resolve() == path.resolve():
            raise MedSRError(f"output {path} is the input; choose another output path")
    if path.exists() and not overwrite:
        raise MedSRError(f"{path} already exists; pass --overwrite to replace it")
    if not path.parent.exists():
        raise MedSRError(f"cannot write {path}: folder {path.parent} does not exist")
    try:  # a read-only file system or a folder without write permission: say so before any work starts
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as error:
        raise MedSRError(f"cannot write {path}: {error.strerror or error} ({path.parent})") from None
    return path


def write_volume(volume: Volume, path, overwrite: bool = False, inputs: Iterable = ()) -> Path:
    """Write ``volume`` to ``path`` (format from the file name; no ending = DICOM series folder).

    Nothing appears at ``path`` unless the whole write succeeded, and an existing
    file is replaced only with ``overwrite``.
    """
    path = check_output_path(path, inputs, overwrite)
    fmt = format_of(path)
    staging = Path(tempfile.mkdtemp(prefix=".medsr-", dir=path.parent))
    try:
        staged = staging / path.name
        if fmt == DICOM:
            _write_dicom_series(volume, staged)
        else:
            _write_file(volume, staged)
        _move_into_place(staging, path, fmt, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


@contextlib.contextmanager
def native_messages_silenced():
    """Hold back what C libraries (ITK's NIfTI writer: "** ERROR: NWAD: wrote only 0 of ...") print straight to
    the process's stderr while they write: a failed write is reported once, in MedSR's own words."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (an embedding application): nothing to hold back
        yield
        return
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _write_file(volume: Volume, staged: Path) -> None:
    image = sitk_from_volume(volume)
    image.SetMetaData(MODALITY_KEY, volume.modality)
    for key, value in volume.metadata.items():
        image.SetMetaData(METADATA_PREFIX + key, str(value))
    try:
        with native_messages_silenced():
            sitk.WriteImage(image, str(staged), useCompression=not staged.name.lower().endswith((".nii", ".nhdr", ".mhd")))
    except RuntimeError as error:
        raise MedSRError(f"cannot write {staged.name}: {str(error).strip().splitlines()[-1]}") from None
    try:  # ITK can report a failed write (a full disk) without raising: read back what reached the disk
        check_complete(staged, volume.grid.size, image.GetSizeOfPixelComponent())
    except (MedSRError, OSError):
        raise MedSRError(f"cannot write {staged.name}: only part of it reached the disk (is the disk full?)") from None


def _move_into_place(staging: Path, path: Path, fmt: str, overwrite: bool) -> None:
    if fmt == DICOM:
        if path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            path.rename(old)
            (staging / path.name).rename(path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            (staging / path.name).rename(path)
        return
    # detached headers name their data file: move the data first, the header last
    files = sorted(staging.iterdir(), key=lambda f: f.name == path.name)
    for staged in files:
        if staged.name != path.name and (path.parent / staged.name).exists() and not overwrite:
            raise MedSRError(f"{path.parent / staged.name} (the data file of {path.name}) already exists; pass --overwrite to replace it")
    for staged in files:
        staged.replace(path.parent / staged.name)


def _new_uid() -> str:
    return f"2.25.{uuid.uuid4().int}"


def _dicom_pixels(volume: Volume):
    """int16/uint16 pixels and the (slope, intercept) that give back the volume's values."""
    array = volume.array
    if array.dtype in (np.int16, np.uint16, np.uint8):
        return array, 1.0, 0.0
    if array.dtype.kind in "bi" and array.dtype.itemsize == 1:
        return array.astype(np.int16), 1.0, 0.0
    low, high = float(array.min()), float(array.max())
    if array.dtype.kind in "iu" and low >= -32768 and high <= 32767:
        return array.astype(np.int16), 1.0, 0.0
    slope = max(high - low, 1e-12) / 65000.0
    intercept = low + 32500.0 * slope
    pixels = np.clip(np.rint((array - intercept) / slope), -32768, 32767).astype(np.int16)
    return pixels, slope, intercept


def _write_dicom_series(volume: Volume, folder: Path) -> None:
    folder.mkdir()
    pixels, slope, intercept = _dicom_pixels(volume)
    rescaled = (slope, intercept) != (1.0, 0.0)
    # GDCM takes a rescale only from ITK's own conversion of a real-valued image (given int16 pixels and a fractional
    # slope or intercept it refuses, "intercept == (int)intercept"): the quantised values go as float64, with the
    # rescale and 16-bit signed storage asked for in the tags
    image = sitk_from_volume(volume, pixels.astype(np.float64) * slope + intercept if rescaled else pixels)
    study, series = _new_uid(), _new_uid()
    modality = volume.modality if volume.modality in ("MR", "CT") else "OT"
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    thickness = recorded_thickness_mm(volume, 2) or volume.grid.spacing[2]  # the slices' own, when not the spacing
    for k in range(volume.grid.size[2]):
        # a one-slice 3-D image keeps the full 3-D direction, so GDCM writes exact position and orientation tags
        slice_image = image[:, :, k : k + 1]
        tags = {
            "0008|0060": modality,
            "0008|0008": "DERIVED\\SECONDARY",
            "0020|000d": study,
            "0020|000e": series,
            "0008|0018": _new_uid(),
            "0020|0013": str(k + 1),
            "0008|103e": volume.metadata.get("description", "MedSR output")[:64],
            "0018|0050": f"{thickness:.6f}",
            "0028|1052": f"{intercept:.10g}",
            "0028|1053": f"{slope:.10g}",
        }
        if rescaled:
            tags.update({"0028|0100": "16", "0028|0101": "16", "0028|0102": "15", "0028|0103": "1"})
        if modality == "MR" and acquisition_type(volume):  # 2-D slices or a 3-D volume (acquisition_type.py)
            tags[DICOM_MR_ACQUISITION_TYPE] = acquisition_type(volume)
        for key, value in tags.items():
            slice_image.SetMetaData(key, value)
        writer.SetFileName(str(folder / f"slice{k:05d}.dcm"))
        try:
            with native_messages_silenced():
                writer.Execute(slice_image)
        except RuntimeError as error:
            raise MedSRError(f"cannot write DICOM slice {k}: {str(error).strip().splitlines()[-1]}") from None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text_atomic(path, text: str) -> Path:
    """Write a small text file through a temporary file and a rename, so readers never see half of it."""
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise MedSRError(f"cannot write {path}: {error.strerror}") from None
    try:
        with open(handle, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        Path(temporary).replace(path)
    except OSError as error:  # a full disk or a folder that refuses the rename
        raise MedSRError(f"cannot write {path}: {error.strerror}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


class WrittenTogether:
    """The files one command writes as a set (a label map, its colour table and its volumes; a mask and its
    report): when one of them cannot be written, those this command already wrote are removed again, so a failed
    run leaves nothing at any output path.

    >>> with WrittenTogether() as outputs:  # doctest: +SKIP
    ...     outputs.volume(labels, "labels.nii.gz")
    ...     outputs.text("labels.ctbl", table)
    """

    def __init__(self, overwrite: bool = False, inputs: Iterable = ()):
        self.overwrite, self.inputs, self.written = overwrite, list(inputs), []

    def volume(self, volume: Volume, path) -> Path:
        written = write_volume(volume, path, self.overwrite, self.inputs + self.written)
        self.written.append(written)
        return written

    def text(self, path, text: str) -> Path:
        written = write_text_atomic(path, text)
        self.written.append(Path(written))
        return Path(written)

    def __enter__(self) -> "WrittenTogether":
        return self

    def __exit__(self, kind, error, trace) -> bool:
        if error is not None:
            for path in self.written:
                if path.is_dir():  # a DICOM series
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        return False
