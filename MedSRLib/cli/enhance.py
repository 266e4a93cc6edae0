"""`medsr enhance IN OUT --method M | --steps A,B`: bias-field correction, denoising, contrast."""

from __future__ import annotations

from ..errors import MedSRError
from .options import add_device_modality_overwrite_quiet, device_option, method_list


def add_parser(sub) -> None:
    from ..methods import methods

    p = sub.add_parser("enhance", help="bias-field correction, edge-preserving denoising, contrast")
    p.add_argument("input")
    p.add_argument("output")
    steps = p.add_mutually_exclusive_group(required=True)
    steps.add_argument("--method", help="one of: " + ", ".join(m.name for m in methods("enhance")))
    steps.add_argument("--steps", help="comma-separated steps run in order, e.g. n4,curvature-flow")
    p.add_argument("--noise-sigma", type=float, metavar="SIGMA",
                   help="noise standard deviation in the volume's units, for the learned denoisers "
                        "(denoise, ae); default: estimated from the volume")
    p.add_argument("--no-mirror", action="store_true",
                   help="ae: one network pass instead of averaging it over the eight mirrorings of the volume "
                        "(8x faster, a little noisier)")
    add_device_modality_overwrite_quiet(p)


def cmd_enhance(args) -> int:
    from ..io import check_output_path, read_volume, write_volume
    from ..methods import enhance, get
    from .console import progress_bar

    steps = method_list(args.steps or args.method, "enhance")
    options = {name: device_option(get("enhance", name), args.device) for name in steps}
    if args.noise_sigma is not None:
        if not args.noise_sigma > 0:
            raise MedSRError(f"--noise-sigma must be a positive number, not {args.noise_sigma:g}")
        takers = [name for name in steps if get("enhance", name).family == "learned"]
        if not takers:
            raise MedSRError("--noise-sigma is for the learned denoisers (denoise, ae); none of the steps is one")
        for name in takers:
            options[name]["sigma"] = args.noise_sigma
    if args.no_mirror:
        if "ae" not in steps:
            raise MedSRError("--no-mirror is for the denoising autoencoder (ae); it is not one of the steps")
        options["ae"]["mirror"] = False
    check_output_path(args.output, [args.input], args.overwrite)
    volume = read_volume(args.input, modality=args.modality)
    with progress_bar("enhance " + ",".join(steps), not args.quiet) as progress:
        result = enhance(volume, steps, progress, **options)
    write_volume(result, args.output, args.overwrite, [args.input])
    print(f"{args.output}: {','.join(steps)}")
    return 0
