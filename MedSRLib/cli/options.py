"""Options and small helpers that several commands share."""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from ..errors import MedSRError


def add_overwrite_and_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_modality(p: argparse.ArgumentParser) -> None:
    p.add_argument("--modality", choices=["MR", "CT"], help="what the intensities mean (default: from the file, else guessed: values <= -900 mean CT)")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="for learned methods: auto, cpu, cuda, cuda:N or mps (classical methods run on the CPU)")


def add_device_modality_overwrite_quiet(p: argparse.ArgumentParser) -> None:
    """The options of every command that runs a method on one volume: --device, --modality, --overwrite, --quiet."""
    add_device(p)
    add_modality(p)
    add_overwrite_and_quiet(p)


def add_slice_thickness(p: argparse.ArgumentParser, applies_to: str) -> None:
    p.add_argument("--slice-thickness", type=float, metavar="MM",
                   help="how thick the scan's slices are along its coarsest axis, where that is not their spacing: "
                        "slices with gaps (5 mm every 6 mm) or overlapping ones (a CT's 4 mm every 2 mm). Read from the "
                        "DICOM Slice Thickness, a NRRD's thicknesses or a NIfTI's BIDS sidecar (SliceThickness) when there; "
                        "taken as the spacing otherwise; "
                        f"{applies_to}")


def with_thickness_given(volume, thickness_mm: Optional[float], kspace_told_by: Optional[str] = None):
    """``volume`` with its slices ``thickness_mm`` thick along the coarsest axis (``--slice-thickness``; None: as its
    header says), and a note of the thickness the acquisition is modelled with when it is not the spacing, or of a
    header's figure left out. ``kspace_told_by``: what said the scan has the k-space profile (an option, or its
    header), which has no slice thickness of its own: a thickness other than the spacing is then refused, before
    any note."""
    from ..slice_thickness import IGNORED_KEY, TOUCHING_MM, describe, recorded_thickness_mm, slice_axis, with_slice_thickness

    axis = slice_axis(volume)
    thickness = thickness_mm if thickness_mm is not None else recorded_thickness_mm(volume, axis)
    spacing = float(volume.grid.spacing[axis])
    if kspace_told_by and thickness is not None and abs(thickness - spacing) > TOUCHING_MM:
        whose = "--slice-thickness" if thickness_mm is not None else "the header's slice thickness"
        raise MedSRError(f"{kspace_told_by} models a k-space truncated axis, which has no slice thickness of its own; "
                         f"{whose} {thickness:g} mm every {spacing:.4g} mm belongs to slices: give --slice-profile box "
                         f"or gaussian with it")
    if thickness_mm is not None:
        volume = with_slice_thickness(volume, axis, thickness_mm, "--slice-thickness")
    elif IGNORED_KEY in volume.metadata:
        print(f"note: slice thickness in the header left out: {volume.metadata[IGNORED_KEY]}", file=sys.stderr)
    recorded = describe(volume, axis)
    if recorded:
        given = "as given" if thickness_mm is not None else "from the file's header; --slice-thickness to change"
        print(f"note: the scan's slices are taken as {recorded} ({given})", file=sys.stderr)
    return volume


def device_option(method, device: str) -> dict:
    """Learned methods take the device; classical ones run where SimpleITK runs, so they take none."""
    if method.family == "classical":
        if device not in ("auto", "cpu"):
            print(f"note: {method.name} is a classical method and runs on the CPU", file=sys.stderr)
        return {}
    return {"device": device}


def method_list(text: Optional[str], task: str):
    """The comma-separated method names of ``text`` (each checked against the registry), or None when empty."""
    if not text:
        return None
    from ..methods import get

    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        get(task, name)
    return names


def mm(values) -> str:
    """Spacings or sizes in millimetres as ``1x1x4``."""
    return "x".join(f"{v:.4g}" for v in values)


def kspace_told_by(volume, slice_profile: Optional[str], takes_profile: bool, data_consistency: Optional[str] = None):
    """What says ``volume`` has the k-space profile, in the words of with_thickness_given's refusal, or None:
    ``--slice-profile kspace``, ``--data-consistency kspace``, or (for a method that takes the scan's profile and is
    told none) a header that says a 3-D acquisition (methods/consistency.scan_profile)."""
    from ..methods.consistency import scan_profile

    if slice_profile == "kspace":
        return "--slice-profile kspace"
    if data_consistency == "kspace":
        return "--data-consistency kspace"
    if takes_profile and not slice_profile and scan_profile(volume) == "kspace":
        return "the kspace profile (the header says a 3-D acquisition)"
    return None
