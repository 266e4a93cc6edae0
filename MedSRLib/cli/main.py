"""`medsr`: the command line. Builds the parser from each command's module, dispatches, and turns every MedSRError
into one line on stderr."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .. import __version__
from ..errors import Cancelled, MedSRError
from . import bench, catalog, degrade, demo, enhance, evaluate, export, report, segment, sr, strip, train, view

EXIT_ERROR = 2
EXIT_CANCELLED = 130

#: the command modules in the order `medsr --help` lists them (catalog adds `models` and `methods`)
PARSERS = (degrade, sr, enhance, evaluate, demo, bench, segment, strip, report, view, train, export, catalog)

COMMANDS = {
    "degrade": degrade.cmd_degrade, "sr": sr.cmd_sr, "enhance": enhance.cmd_enhance, "eval": evaluate.cmd_eval,
    "demo": demo.cmd_demo, "bench": bench.cmd_bench, "segment": segment.cmd_segment, "strip": strip.cmd_strip,
    "report": report.cmd_report, "view": view.cmd_view, "train": train.cmd_train, "export": export.cmd_export,
    "models": catalog.cmd_models, "methods": catalog.cmd_methods,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medsr", description="Geometry-exact volumetric super-resolution, enhancement and evaluation.")
    parser.add_argument("--version", action="version", version=f"medsr {__version__}")
    parser.add_argument("--progress", choices=["auto", "lines", "none"], default="auto",
                        help="auto: a bar on a terminal; lines: 'medsr-progress FRACTION TEXT' lines on stderr for programs; none")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in PARSERS:
        module.add_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .console import MODE

    MODE["value"] = args.progress
    try:
        return COMMANDS[args.command](args)
    except MedSRError as error:
        print(f"medsr: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except (Cancelled, KeyboardInterrupt):
        print("medsr: cancelled; nothing was written", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `medsr models | head`: the reader left, nothing is wrong
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
