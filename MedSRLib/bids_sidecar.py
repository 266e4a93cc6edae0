"""The BIDS sidecar that dcm2niix writes beside a NIfTI (``scan.json`` for ``scan.nii.gz``): the DICOM fields a NIfTI
header has no place for, such as the MR Acquisition Type (acquisition_type.py) and the Slice Thickness
(slice_thickness.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

NIFTI_SUFFIXES = (".nii.gz", ".nii")


def sidecar_of(path: Path) -> Optional[Path]:
    """``scan.json`` beside ``scan.nii.gz`` or ``scan.nii``, if there is one."""
    name = Path(path).name
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            candidate = Path(path).with_name(name[: -len(suffix)] + ".json")
            return candidate if candidate.is_file() else None
    return None


def sidecar_fields(path: Path) -> dict:
    """The fields of ``path``'s sidecar; {} where there is none or it cannot be read (a sidecar says nothing then,
    and the scan is read as a NIfTI alone)."""
    sidecar = sidecar_of(path)
    if sidecar is None:
        return {}
    try:
        fields = json.loads(sidecar.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    return fields if isinstance(fields, dict) else {}
