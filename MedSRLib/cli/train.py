"""`medsr train sr|segment|denoise|strip OUT`: training (resumable checkpoints; torchrun for several GPUs)."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import MedSRError


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a model (writes a checkpoint folder; resumable; torchrun for several GPUs)")
    p.add_argument("task", choices=["sr", "segment", "denoise", "strip"],
                   help="sr: the 3-D super-resolution network (cnn, or gan with --gan); segment: the brain-tissue U-Net; "
                        "denoise: the denoising autoencoder (ae); strip: the head atlas of brain extraction (registers the "
                        "FreeSurfer 3T18yo head onto the bundled MNI brain; fetches it into $MEDSR_DATA_CACHE)")
    p.add_argument("output", help="folder for checkpoints and the trained weights")
    p.add_argument("--data", nargs="+", metavar="PATH",
                   help="sr: high-resolution volumes or folders of them (default: the bundled MNI T1); with two or more "
                        "the last is validation only, one volume is split along its last axis")
    p.add_argument("--kind", choices=["thick-slice", "isotropic"], default="thick-slice",
                   help="sr: one thick axis (x2-6) or isotropic x2")
    p.add_argument("--gan", action="store_true", help="sr: adversarial fine-tuning of a supervised network (needs --init)")
    p.add_argument("--init", help="start from a checkpoint folder or a catalog model (continued training, or sr --gan's generator)")
    p.add_argument("--patch", type=int, default=32, help="sr: training patch side, voxels (32)")
    p.add_argument("--consistent", action="store_true",
                   help="sr: score the network after data consistency, as inference delivers it (the L1 on what the "
                        "patch's own acquisition does not measure)")
    p.add_argument("--workers", type=int, default=0,
                   help="sr: processes that make the training pairs (0: the training process itself; a GPU wants several)")
    p.add_argument("--real-fraction", type=float, default=0.7,
                   help="segment: share of patches from the real T1, the rest synthetic contrasts (0.7)")
    p.add_argument("--head-fraction", type=float, default=0.0,
                   help="segment: share of batches cut from a whole head with skull, scalp and neck (the 3T18yo atlas head, "
                        "its non-brain classes given random intensities and labelled background; fetched into $MEDSR_DATA_CACHE)")
    p.add_argument("--average-weights", type=float, metavar="DECAY",
                   help="segment, denoise: validate and publish an exponential moving average of the weights with this "
                        "decay (e.g. 0.999) instead of the last step's")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=None, help="patches per step and process (sr 4, denoise 4, segment 2)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="Adam's initial rate, cosine decay to 0 (sr 5e-4, gan 1e-4, others 2e-3)")
    p.add_argument("--validate-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in OUTPUT")
    p.add_argument("--quiet", action="store_true")


def cmd_train(args) -> int:
    from .console import progress_bar

    if args.task != "sr" and (args.data or args.gan or args.consistent or args.workers):
        raise MedSRError("--data, --gan, --consistent and --workers are options of `medsr train sr`")
    if args.average_weights is not None and args.task == "sr":
        raise MedSRError("--average-weights is an option of `medsr train segment` and `medsr train denoise`")
    if args.average_weights is not None and not 0.0 < args.average_weights < 1.0:
        raise MedSRError(f"--average-weights must lie strictly between 0 and 1 (e.g. 0.999), not {args.average_weights}")
    if args.task == "strip":
        from ..io import check_output_path
        from ..strip.atlas import build_atlas

        folder = Path(args.output)
        check_output_path(folder, [], overwrite=False)  # a new folder: the shipped atlas is never replaced in place
        with progress_bar("train strip (atlas)", not args.quiet) as progress:
            provenance = build_atlas(folder, progress)
        print(f"atlas written to {folder} in {provenance['seconds']:.0f} s; copy its files into Resources/Atlas to ship it")
        return 0
    if args.task == "sr":
        from ..sample_data import sample_path
        from ..io.cohort import rank_and_world
        from ..train.sr import train_sr

        rate = args.learning_rate or (1e-4 if args.gan else 5e-4)
        rank, world = rank_and_world()
        with progress_bar(f"train sr ({args.kind}{', gan' if args.gan else ''})", not args.quiet and rank == 0) as progress:
            result = train_sr(args.data or [str(sample_path("t1"))], Path(args.output), args.kind, args.steps,
                              args.batch or 4, rate, args.seed, args.device, args.validate_every, args.resume, progress,
                              gan=args.gan, init=args.init, patch=args.patch, consistent=args.consistent,
                              workers=args.workers, log=print if rank == 0 else (lambda _: None))
        if rank != 0:
            return 0
    else:
        if args.task == "segment":
            from ..train.segmenter import train_segmenter as train
        else:
            from ..train.denoiser import train_denoiser as train
        options = {"real_fraction": args.real_fraction, "head_fraction": args.head_fraction} if args.task == "segment" else {}
        options["average_decay"] = args.average_weights
        with progress_bar(f"train {args.task}", not args.quiet) as progress:
            result = train(Path(args.output), args.steps, args.batch or (2 if args.task == "segment" else 4), args.learning_rate or 2e-3, args.seed,
                           args.device, args.validate_every, args.resume, progress, init=args.init, **options)
    last = result["state"]["history"][-1] if result["state"]["history"] else {}
    print(f"trained {result['state']['step']} steps in {result['state']['seconds']:.0f} s; last validation {json.dumps(last)}")
    return 0
