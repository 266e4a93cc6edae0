"""Cohorts: many volumes in one command (a folder of volume files, or a text file listing one path a line).

Under torchrun each process takes every WORLD_SIZE-th volume from its RANK,
so the cohort is split across GPUs and nodes without any communication: the
outputs are independent files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Tuple

from ..errors import MedSRError
from .formats import FILE_FORMATS

LIST_ENDINGS = (".txt", ".list", ".lst")


def rank_and_world() -> Tuple[int, int]:
    """(rank, world size) from torchrun's environment (0, 1 without it); no communication, no torch import."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _is_volume_file(path: Path) -> bool:
    return any(path.name.lower().endswith(ending) for ending in FILE_FORMATS)


def is_cohort(path: str) -> bool:
    """A list file, or a folder holding volume files (a folder of DICOM files is one volume, not a cohort)."""
    given = Path(path)
    if given.is_file():
        return given.suffix.lower() in LIST_ENDINGS
    return given.is_dir() and any(_is_volume_file(p) for p in given.iterdir())


def cohort_inputs(path: str) -> List[Path]:
    given = Path(path)
    if given.is_dir():
        return sorted(p for p in given.iterdir() if _is_volume_file(p))
    entries = []
    for number, line in enumerate(given.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        entry = Path(line) if Path(line).is_absolute() else given.parent / line
        if not entry.exists():
            raise MedSRError(f"{given}, line {number}: {entry} does not exist")
        entries.append(entry)
    if not entries:
        raise MedSRError(f"{given} lists no volume")
    return entries


def output_name(source: Path) -> str:
    """The output keeps the input's file name; a DICOM series folder becomes NIfTI."""
    return source.name if _is_volume_file(source) else source.name + ".nii.gz"


def plan(inputs: List[Path], output: str, extra: Optional[str], rank: int, world: int) -> List[Tuple[Path, Path, Optional[Path]]]:
    """(input, output, optional second output) of this process's share of the cohort."""
    folder = Path(output)
    if folder.exists() and not folder.is_dir():
        raise MedSRError(f"a cohort's output is a folder; {folder} is a file")
    names = [output_name(p) for p in inputs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise MedSRError(f"several inputs would be written to the same output name: {', '.join(repeated)}")
    return [(p, folder / n, Path(extra) / n if extra else None)
            for index, (p, n) in enumerate(zip(inputs, names)) if index % world == rank]
