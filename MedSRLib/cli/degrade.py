"""`medsr degrade IN OUT --factors FI FJ FK`: simulate a lower-resolution or noisier acquisition."""

from __future__ import annotations

import sys
from pathlib import Path

from .options import add_modality, add_overwrite_and_quiet, mm


def add_parser(sub) -> None:
    from ..simulate import NOISE_KINDS, SAMPLINGS

    p = sub.add_parser("degrade", help="simulate a lower-resolution / noisier acquisition")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--factors", nargs=3, type=float, required=True, metavar=("FI", "FJ", "FK"), help="voxel size multiplier per axis (1 keeps an axis)")
    p.add_argument("--sampling", choices=SAMPLINGS, default="box", help="slice profile: box (block average), gaussian (FWHM = slice thickness) or kspace (MRI k-space truncation, a 3-D acquisition: recorded so in the output, for `medsr sr`)")
    p.add_argument("--gap", type=float, default=0.0, metavar="MM", help="gap between slices on the coarsened axes, mm (negative: an overlap, as a CT reconstructed at an increment below its thickness); the output records the slice thickness for `medsr sr`")
    p.add_argument("--noise", choices=NOISE_KINDS, help="gaussian, rician (MR magnitude) or poisson (CT-like, signal-dependent)")
    p.add_argument("--noise-level", type=float, default=0.0, metavar="FRACTION", help="noise standard deviation as a fraction of the maximum")
    p.add_argument("--seed", type=int, help="makes the noise repeatable")
    add_modality(p)
    add_overwrite_and_quiet(p)


def cmd_degrade(args) -> int:
    from ..io import check_output_path, read_volume, write_volume
    from ..simulate import Acquisition, degrade
    from .console import progress_bar

    check_output_path(args.output, [args.input], args.overwrite)
    acquisition = Acquisition(tuple(args.factors), args.sampling, args.gap, args.noise, args.noise_level, args.seed)
    volume = read_volume(args.input, modality=args.modality)
    volume.grid.coarsened(acquisition.factors)  # refuse bad factors before any progress is shown
    with progress_bar("degrade", not args.quiet) as progress:
        low = degrade(volume, acquisition, progress)
    write_volume(low, args.output, args.overwrite, [args.input])
    _note_what_the_format_drops(low, Path(args.output))
    print(f"{args.output}: {acquisition.describe()}, {low.grid.size} voxels of {mm(low.grid.spacing)} mm")
    return 0


def _note_what_the_format_drops(low, output: Path) -> None:
    """A NIfTI has no place for the slice thickness or the acquisition type the simulation recorded (NRRD, MetaImage
    and DICOM keep them, and `medsr sr` reads them there): say so, and how to tell `medsr sr` instead."""
    from ..acquisition_type import acquisition_type
    from ..io.formats import format_of
    from ..slice_thickness import recorded_thickness_mm, slice_axis

    if format_of(output) != "NIfTI":
        return
    lost = []
    thickness = recorded_thickness_mm(low, slice_axis(low))
    if thickness is not None:
        lost.append(f"the slices' thickness (tell `medsr sr --slice-thickness {thickness:.4g}`)")
    if acquisition_type(low) == "3D":
        lost.append("a 3-D acquisition's type (tell `medsr sr --slice-profile kspace`)")
    if lost:
        print(f"note: a NIfTI has no place for {' or '.join(lost)}, which `medsr sr` reads from .nrrd, .mha or a "
              f"DICOM folder", file=sys.stderr)
