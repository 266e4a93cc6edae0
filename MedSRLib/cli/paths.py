"""Names of the files the commands write beside their main output."""

from __future__ import annotations

from pathlib import Path

from ..io.formats import file_stem


def sidecar(path, ending: str) -> Path:
    """``<stem><ending>`` beside ``path`` (``mask.nii.gz``, ``.strip.json`` -> ``mask.strip.json``)."""
    return Path(path).with_name(file_stem(path) + ending)
