"""The volumes shipped in Resources/SampleData (MNI ICBM152 2009a; licence beside them)."""

from __future__ import annotations

from pathlib import Path

from .errors import MedSRError


def sample_folder() -> Path:
    """Resources/SampleData of the source tree, or its installed copy inside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "Resources" / "SampleData", here / "resources" / "SampleData"):
        if (candidate / "mni_icbm152_t1.nii.gz").exists():
            return candidate
    raise MedSRError("the sample data (Resources/SampleData) is missing from this installation")


def sample_path(name: str = "t1") -> Path:
    """``t1``, ``gm`` or ``wm`` of the MNI ICBM152 2009a template, 197x233x189 at 1 mm."""
    path = sample_folder() / f"mni_icbm152_{name}.nii.gz"
    if not path.exists():
        raise MedSRError(f"no sample volume {name!r}; there are t1, gm and wm")
    return path
