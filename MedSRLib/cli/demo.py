"""`medsr demo`: a thick-slice scan of the sample brain simulated and restored by every method that needs no training."""

from __future__ import annotations

from pathlib import Path

from .options import add_overwrite_and_quiet, method_list


def add_parser(sub) -> None:
    from ..simulate import SAMPLINGS

    p = sub.add_parser("demo", help="simulate a thick-slice scan of the sample brain and restore it with every method "
                                    "that needs no training data")
    p.add_argument("--output", default="medsr-demo", help="folder to create (default: ./medsr-demo)")
    p.add_argument("--input", help="a volume to use instead of the bundled MNI ICBM152 T1")
    p.add_argument("--factors", nargs=3, type=float, default=(1.0, 1.0, 4.0), metavar=("FI", "FJ", "FK"))
    p.add_argument("--sampling", choices=SAMPLINGS, default="gaussian")
    p.add_argument("--methods", help="comma-separated super-resolution methods (default: all but auto and the pretrained "
                                     "cnn/gan, which were trained on part of the bundled T1)")
    add_overwrite_and_quiet(p)


def cmd_demo(args) -> int:
    from ..evaluation.demo import run_demo
    from ..simulate import Acquisition
    from .console import progress_bar

    acquisition = Acquisition(tuple(args.factors), args.sampling)
    with progress_bar("demo", not args.quiet) as progress:
        payload = run_demo(Path(args.output), args.input, acquisition, method_list(args.methods, "sr"), args.overwrite, progress)
    print(Path(args.output, "metrics.md").read_text())
    print(f"wrote {args.output}/ ({len(payload['files'])} files) in {payload['total_seconds']:.1f} s")
    return 0
