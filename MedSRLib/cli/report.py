"""`medsr report VOLUME|COHORT_FOLDER [--labels L] [--compare C] --output REPORT.html`: an offline review page."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import MedSRError


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="one self-contained HTML file to review a volume (its label map as an overlay, "
                                      "a second volume beside it) or a folder of results (one section per case, "
                                      "outliers flagged); opens offline in any browser")
    p.add_argument("target", help="a volume, or a folder of results (label maps with their .volumes.json, volumes)")
    p.add_argument("--labels", help="a label map on the volume's grid, drawn over it (colours and names from its .ctbl)")
    p.add_argument("--compare", help="a second volume on the same grid, shown beside the first (e.g. the input of a "
                                     "super-resolution beside its result)")
    p.add_argument("--output", required=True, help="the report, an .html file")
    p.add_argument("--overwrite", action="store_true", help="replace the report if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_report(args: argparse.Namespace) -> int:
    from ..io import check_output_path
    from ..review.report import cohort_cases, load_case, write_report
    from .console import progress_bar

    output = Path(args.output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise MedSRError(f"the report is one HTML file; name it *.html, not {output.name}")
    target = Path(args.target)
    check_output_path(output, [target] + [Path(p) for p in (args.labels, args.compare) if p], args.overwrite)
    if target.is_dir() and not any(target.glob("*.dcm")):
        if args.labels or args.compare:
            raise MedSRError("--labels and --compare are for a single volume; a cohort folder pairs them itself")
        cases = cohort_cases(target)
        title = f"MedSR review: {target.name} ({len(cases)} cases)"
    else:
        cases = [load_case(str(target), args.labels, args.compare)]
        title = f"MedSR review: {cases[0].name}"
    with progress_bar("report", not args.quiet) as progress:
        write_report(cases, output, title, progress)
    print(f"{output}: {len(cases)} case{'s' if len(cases) != 1 else ''}")
    return 0
