"""Names of the files the commands write beside their main output."""

from __future__ import annotations

from pathlib import Path

VOLUME_ENDINGS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


def stem(path) -> str:
    """The file name without its volume ending (``t1.nii.gz`` -> ``t1``)."""
    name = Path(path).name
    for ending in VOLUME_ENDINGS:
        if name.lower().endswith(ending):
            return name[: -len(ending)]
    return name


def sidecar(path, ending: str) -> Path:
    """``<stem><ending>`` beside ``path`` (``mask.nii.gz``, ``.strip.json`` -> ``mask.strip.json``)."""
    return Path(path).with_name(stem(path) + ending)
