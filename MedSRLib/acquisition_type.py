"""Whether an MR scan was acquired as 2-D slices or as a 3-D volume, where its header says, and the slice profile that
follows for the methods that model the acquisition.

A 3-D acquisition encodes its coarse axis in k-space as it does the others: what it measures there is the central
frequencies, not slices with a profile of their own (geometry/kspace.py). Assumed to be a box, such a scan came out
below B-spline on the held-out head (Docs/super-resolution.md, "a 3-D acquisition's k-space truncated axis"); told
``kspace``, above it. So where a header says 3-D, ``kspace`` is the profile assumed unless the user gives another.

Where it comes from: a DICOM series' MR Acquisition Type (0018,0023); the BIDS sidecar that dcm2niix writes next to a
NIfTI (``scan.json`` beside ``scan.nii.gz``: ``MRAcquisitionType``); a NRRD or MetaImage file MedSR wrote (``medsr
degrade --sampling kspace`` records it, and so does the Slicer module for a volume loaded from a DICOM series or
from a NIfTI with its sidecar). Recorded in the
volume's metadata under ``KEY``, which a new grid drops (Volume.with_array): a result on a finer grid is no
acquisition.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

from .bids_sidecar import sidecar_fields
from .volume import ACQUISITION_TYPE_KEY as KEY, Volume

#: DICOM MR Acquisition Type, as SimpleITK names the tag
DICOM_MR_ACQUISITION_TYPE = "0018|0023"
#: the BIDS sidecar's name for the same tag (dcm2niix writes it)
SIDECAR_FIELD = "MRAcquisitionType"
TYPES = ("2D", "3D")
#: the slice profile a 3-D acquisition's coarse axis has (methods/consistency.py, PROFILES)
PROFILE_3D = "kspace"


def acquisition_type(volume: Volume) -> Optional[str]:
    """"2D", "3D", or None where nothing said."""
    value = volume.metadata.get(KEY)
    return value if value in TYPES else None


def type_from_header(path: Path, tags: Dict[str, str], is_dicom_series: bool) -> Optional[str]:
    """The acquisition type a file's header (or, for a NIfTI, its BIDS sidecar) records, or None."""
    if is_dicom_series:
        return parse_type(tags.get(DICOM_MR_ACQUISITION_TYPE, ""))
    return parse_type(sidecar_fields(path).get(SIDECAR_FIELD, ""))


def parse_type(value) -> Optional[str]:
    """"2D" or "3D" from a header's text (any case, padded), else None."""
    text = str(value).strip().upper()
    return text if text in TYPES else None
