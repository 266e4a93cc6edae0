"""`medsr strip IN OUT_MASK [--masked OUT_IMAGE]`: brain extraction."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import MedSRError
from .options import add_device_modality_overwrite_quiet


def add_parser(sub) -> None:
    p = sub.add_parser("strip", help="brain extraction: a brain mask on the input's grid (any MR contrast, "
                                     "orientation and field of view); refuses images with no head in them")
    p.add_argument("input")
    p.add_argument("output", help="the brain mask (a 0/1 label map on the input's grid); <stem>.strip.json beside it "
                                  "holds the intracranial volume and the evidence")
    p.add_argument("--masked", metavar="OUT_IMAGE", help="also write the input with everything outside the brain set to zero")
    add_device_modality_overwrite_quiet(p)


def cmd_strip(args: argparse.Namespace) -> int:
    from ..io import WrittenTogether, check_output_path, read_volume
    from ..strip import NoBrainFound, extract_brain
    from .console import progress_bar
    from .paths import sidecar

    report = sidecar(args.output, ".strip.json")
    outputs = [args.output, report] + ([args.masked] if args.masked else [])
    for index, path in enumerate(outputs):
        check_output_path(path, [args.input] + outputs[:index], args.overwrite)
    if args.device not in ("auto", "cpu"):
        print("note: brain extraction registers an atlas with SimpleITK and runs on the CPU", file=sys.stderr)
    volume = read_volume(args.input, modality=args.modality)
    try:
        with progress_bar("strip", not args.quiet) as progress:
            brain = extract_brain(volume, progress)
    except NoBrainFound as error:
        raise MedSRError(f"no brain found in {args.input}: {error}") from None
    with WrittenTogether(args.overwrite, [args.input]) as written:  # all three, or none
        written.volume(brain.mask, args.output)
        if args.masked:
            written.volume(brain.masked(volume), args.masked)
        written.text(report, json.dumps({"intracranial_ml": brain.intracranial_ml, "evidence": brain.evidence}, indent=2) + "\n")
    print(f"{args.output}: brain mask, {brain.intracranial_ml:.0f} mL "
          f"(the placed atlas explains {100 * brain.evidence['explained_variance']:.0f} % of the intensities around it); "
          f"mask from the {brain.evidence['mask_from']}; contrast read from the image: {brain.evidence['contrast']}" +
          (f"; its surface moved onto the skull's inner edge ({brain.evidence['skull_edge_ml']:+.0f} mL)"
           if "skull_edge_ml" in brain.evidence else "") +
          (f"; kept out of the scan's unmeasured outside, a mask's or padding's ({brain.evidence['unmeasured_ml']:+.0f} mL)"
           if "unmeasured_ml" in brain.evidence else ""))
    if brain.field_of_view_warning:
        print(f"warning: {brain.field_of_view_warning}", file=sys.stderr)
    return 0
