"""Which file formats MedSR reads and writes, recognised by their file name."""

from __future__ import annotations

from pathlib import Path

from ..errors import MedSRError

#: file name ending -> (format name, file extensions of separate data files it may write)
FILE_FORMATS = {
    ".nii.gz": "NIfTI",
    ".nii": "NIfTI",
    ".nrrd": "NRRD",
    ".nhdr": "NRRD (detached header)",
    ".mha": "MetaImage",
    ".mhd": "MetaImage (detached header)",
}
DICOM = "DICOM series folder"


def format_of(path: Path) -> str:
    """Format named by ``path``: a known file ending, or a DICOM series folder when there is no ending."""
    name = path.name.lower()
    for ending, fmt in FILE_FORMATS.items():
        if name.endswith(ending):
            return fmt
    if path.suffix == "" or path.is_dir():
        return DICOM
    endings = ", ".join(FILE_FORMATS)
    raise MedSRError(f"cannot write {path}: unknown format {path.suffix!r}; use one of {endings}, or a folder name for DICOM")


def file_stem(path) -> str:
    """The file name without its volume ending (``t1.nii.gz`` -> ``t1``)."""
    name = Path(path).name
    for ending in FILE_FORMATS:
        if name.lower().endswith(ending):
            return name[: -len(ending)]
    return name


def probability_map_path(labels_path, tissue: str) -> Path:
    """Where `medsr segment --probabilities` writes ``tissue``'s probability map beside the label map
    (``seg.nii.gz``, "grey matter" -> ``seg.probability-grey_matter.nii.gz``)."""
    labels_path = Path(labels_path)
    stem = file_stem(labels_path)
    slug = "_".join("".join(c if c.isalnum() else " " for c in tissue.lower()).split())
    return labels_path.with_name(f"{stem}.probability-{slug}{labels_path.name[len(stem):]}")


def is_volume_file(path) -> bool:
    return any(Path(path).name.lower().endswith(ending) for ending in FILE_FORMATS)
