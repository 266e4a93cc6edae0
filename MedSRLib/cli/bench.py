"""`medsr bench OUT --task ...`: the benchmarks, each writing a JSON and a Markdown report."""

from __future__ import annotations

from pathlib import Path

from ..errors import MedSRError
from .options import add_overwrite_and_quiet, method_list


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks with JSON + Markdown reports: sr (methods that need no training over "
                       "isotropic x2/x4 and thick-slice x4/x6), sr-learned (held-out data), enhance (denoisers at 3/5/9 %% Rician noise), segment (Dice and speed)")
    p.add_argument("output", help="folder for the report (bench.*, sr.*, enhance.* or segment.*)")
    p.add_argument("--task", choices=["sr", "sr-learned", "enhance", "segment", "heads", "heads-sr"], default="sr",
                   help="sr-learned: bspline, lanczos, self, cnn and gan on data held out from training (sr.*); heads: brain "
                        "extraction and tissues on held-out heads with skull, beside peers (heads.*; fetches the DATA.md heads "
                        "into $MEDSR_DATA_CACHE); heads-sr: super-resolution on a held-out head with skull, and the evidence "
                        "that orders auto (auto-sr.json)")
    p.add_argument("--device", default="cpu", help="device for learned methods (default cpu)")
    p.add_argument("--input", help="a volume to use instead of the bundled MNI ICBM152 T1")
    p.add_argument("--methods", help="comma-separated subset of the super-resolution methods")
    p.add_argument("--noise-draws", type=int, default=1, metavar="N",
                   help="enhance: also measure the learned denoisers' foreground gain on N-1 more noise draws (default 1)")
    add_overwrite_and_quiet(p)


def cmd_bench(args) -> int:
    from .console import progress_bar

    if args.noise_draws != 1 and args.task != "enhance":
        raise MedSRError("--noise-draws is for --task enhance")  # the enhance benchmark checks the number itself
    with progress_bar(f"bench {args.task}", not args.quiet) as progress:
        if args.task == "sr":
            from ..evaluation.bench import run_bench

            run_bench(Path(args.output), args.input, method_list(args.methods, "sr"), args.overwrite, progress)
            report = "bench.md"
        elif args.task == "sr-learned":
            from ..evaluation.bench_learned_sr import run_learned_sr_bench

            run_learned_sr_bench(Path(args.output), args.input, args.device, args.overwrite, progress)
            report = "sr.md"
        elif args.task == "enhance":
            from ..evaluation.bench_enhance import run_enhance_bench

            run_enhance_bench(Path(args.output), args.input, method_list(args.methods, "enhance"), args.overwrite, progress,
                              noise_draws=args.noise_draws)
            report = "enhance.md"
        elif args.task == "heads-sr":
            from ..evaluation.bench_heads_sr import run_heads_sr_bench

            run_heads_sr_bench(Path(args.output), device=args.device, overwrite=args.overwrite, progress=progress)
            report = "heads-sr.md"
        elif args.task == "heads":
            from ..evaluation.bench_heads import run_heads_bench

            run_heads_bench(Path(args.output), device=args.device, overwrite=args.overwrite, progress=progress)
            report = "heads.md"
        else:
            from ..evaluation.bench_segment import run_segment_bench

            run_segment_bench(Path(args.output), device=args.device, overwrite=args.overwrite, progress=progress)
            report = "segment.md"
    print(Path(args.output, report).read_text())
    return 0
