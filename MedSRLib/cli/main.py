"""`medsr`: the command line. Parses, calls MedSRLib, and turns every MedSRError into one line on stderr."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path
from typing import List, Optional

from .. import __version__
from ..errors import Cancelled, MedSRError

CONSISTENCY_CHOICES = ("auto", "off", "box", "gaussian")

EXIT_ERROR = 2
EXIT_CANCELLED = 130


def _add_common_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _modality(p: argparse.ArgumentParser) -> None:
    p.add_argument("--modality", choices=["MR", "CT"], help="what the intensities mean (default: from the file, else guessed: values <= -900 mean CT)")


def _device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="for learned methods: auto, cpu, cuda, cuda:N or mps (classical methods run on the CPU)")


def build_parser() -> argparse.ArgumentParser:
    from ..methods import methods
    from ..simulate import NOISE_KINDS, SAMPLINGS

    parser = argparse.ArgumentParser(prog="medsr", description="Geometry-exact volumetric super-resolution, enhancement and evaluation.")
    parser.add_argument("--version", action="version", version=f"medsr {__version__}")
    parser.add_argument("--progress", choices=["auto", "lines", "none"], default="auto",
                        help="auto: a bar on a terminal; lines: 'medsr-progress FRACTION TEXT' lines on stderr for programs; none")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("degrade", help="simulate a lower-resolution / noisier acquisition")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--factors", nargs=3, type=float, required=True, metavar=("FI", "FJ", "FK"), help="voxel size multiplier per axis (1 keeps an axis)")
    p.add_argument("--sampling", choices=SAMPLINGS, default="box", help="slice profile: box (block average), gaussian (FWHM = slice thickness) or kspace (MRI k-space truncation)")
    p.add_argument("--gap", type=float, default=0.0, metavar="MM", help="gap between slices on the coarsened axes, mm")
    p.add_argument("--noise", choices=NOISE_KINDS, help="gaussian, rician (MR magnitude) or poisson (CT-like, signal-dependent)")
    p.add_argument("--noise-level", type=float, default=0.0, metavar="FRACTION", help="noise standard deviation as a fraction of the maximum")
    p.add_argument("--seed", type=int, help="makes the noise repeatable")
    _modality(p)
    _add_common_output(p)

    p = sub.add_parser("sr", help="super-resolve onto a finer grid with the same field of view")
    p.add_argument("input", help="a volume, or a cohort: a folder of volume files or a .txt file listing one a line "
                                 "(under torchrun the cohort is split across the processes)")
    p.add_argument("output", help="the result; for a cohort a folder (the inputs' file names are kept)")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--spacing", nargs=3, type=float, metavar=("SI", "SJ", "SK"), help="target spacing, mm")
    target.add_argument("--scale", nargs="+", type=float, metavar="F", help="voxels per input voxel: one factor for all axes or three")
    p.add_argument("--method", default="auto", help="one of: " + ", ".join(m.name for m in methods("sr")) + " (default auto)")
    p.add_argument("--uncertainty", metavar="PATH", help="also write a per-voxel map of where detail was inferred: "
                                                             "the expected absolute error, in the input's units "
                                                             "(learned methods); a folder for a cohort")
    p.add_argument("--data-consistency", choices=CONSISTENCY_CHOICES, default="auto",
                   help="project the result so that re-acquiring it with a slice profile reproduces the input exactly; "
                        "auto (default): learned methods project with their own profile, interpolation stays pure; "
                        "off: never; box or gaussian: always, with that profile")
    p.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                   help="run pretrained networks (cnn, gan) with torch or ONNX Runtime")
    _device(p)
    _modality(p)
    _add_common_output(p)

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
    _device(p)
    _modality(p)
    _add_common_output(p)

    p = sub.add_parser("eval", help="compare a test volume with a reference on the same grid")
    p.add_argument("reference")
    p.add_argument("test")
    p.add_argument("--mask", help="foreground mask (voxels > 0); default: Otsu threshold of the reference")
    p.add_argument("--kind", choices=["auto", "image", "labels"], default="auto", help="image metrics or label-map metrics (auto: integer volumes with few values are label maps)")
    p.add_argument("--data-range", type=float, help="PSNR/SSIM data range (default: the reference's 0.5-99.5 percentile range)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = sub.add_parser("demo", help="simulate a thick-slice scan of the sample brain and restore it with every method "
                                    "that needs no training data")
    p.add_argument("--output", default="medsr-demo", help="folder to create (default: ./medsr-demo)")
    p.add_argument("--input", help="a volume to use instead of the bundled MNI ICBM152 T1")
    p.add_argument("--factors", nargs=3, type=float, default=(1.0, 1.0, 4.0), metavar=("FI", "FJ", "FK"))
    p.add_argument("--sampling", choices=SAMPLINGS, default="gaussian")
    p.add_argument("--methods", help="comma-separated super-resolution methods (default: all but auto and the pretrained "
                                     "cnn/gan, which were trained on part of the bundled T1)")
    _add_common_output(p)

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
    _add_common_output(p)

    p = sub.add_parser("segment", help="label brain tissue (background, CSF, grey and white matter)")
    p.add_argument("input")
    p.add_argument("output", help="label map; a Slicer colour table (.ctbl) and label volumes (.volumes.json) are written beside it")
    p.add_argument("--model", default="brain-tissue", help="segmentation model from the catalog (medsr models)")
    p.add_argument("--sr", nargs="?", const="auto", metavar="METHOD",
                   help="super-resolve the input onto the model's 1 mm grid first (METHOD: a `medsr sr` method, default auto: "
                        "the method the held-out heads benchmark ranks first for this kind of scan, among those that apply, "
                        "else Lanczos) and label that grid")
    brain = p.add_mutually_exclusive_group()
    brain.add_argument("--mask", metavar="M", help="the brain mask to label inside (voxels > 0, on the input's grid) "
                                                  "instead of extracting the brain (medsr strip) first")
    brain.add_argument("--skull-stripped", action="store_true",
                       help="the input is a skull-stripped brain already: label it as it is, without brain extraction")
    p.add_argument("--instances", help="comma-separated labels whose connected components are numbered as instances (e.g. 1 for CSF spaces)")
    p.add_argument("--probabilities", action="store_true",
                   help="also write each tissue's probability map (0-1, zero outside the brain mask; the label is the most "
                        "probable tissue, as SPM's c1/c2/c3) beside the label map: <stem>.probability-<tissue><ext>")
    p.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch", help="run the network with torch or ONNX Runtime")
    p.add_argument("--no-intensity-model", dest="intensity_model", action="store_false",
                   help="use the network's probabilities alone, without refining them by the tissues' intensities fitted "
                        "to this image (with the network as its prior, the refinement is skipped anyway when two tissues overlap in intensity)")
    p.add_argument("--no-atlas-priors", dest="atlas_priors", action="store_false",
                   help="fit the intensity model with the network's probabilities as its prior, not the tissue maps of the "
                        "head atlas placed on the scan (the default when the atlas is placed: for a given mask too)")
    p.add_argument("--no-bias-correction", dest="bias_correction", action="store_false",
                   help="label the intensities as they are, without N4 bias-field correction inside the brain mask first "
                        "(the default whenever the brain is masked)")
    _device(p)
    _modality(p)
    _add_common_output(p)

    from .report import add_parser as add_report
    from .strip import add_parser as add_strip
    from .view import add_parser as add_view

    add_strip(sub, _device, _modality, _add_common_output)
    add_report(sub)
    add_view(sub)

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

    p = sub.add_parser("export", help="write a catalog model as ONNX (checked against torch)")
    p.add_argument("model")
    p.add_argument("output", help="an .onnx file")
    p.add_argument("--overwrite", action="store_true")

    sub.add_parser("models", help="list the model catalog")
    sub.add_parser("methods", help="list the available methods")
    return parser


def _scale(values: Optional[List[float]]):
    if values is None:
        return None
    if len(values) == 1:
        return (values[0],) * 3
    if len(values) == 3:
        return tuple(values)
    raise MedSRError(f"--scale takes one factor or three, got {len(values)}")


def _method_list(text: Optional[str], task: str):
    if not text:
        return None
    from ..methods import get

    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        get(task, name)
    return names


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
    print(f"{args.output}: {acquisition.describe()}, {low.grid.size} voxels of {_mm(low.grid.spacing)} mm")
    return 0


def cmd_sr(args) -> int:
    from ..io.cohort import is_cohort
    from ..methods import get

    method = get("sr", args.method)
    if args.uncertainty and "uncertainty" not in method.options:
        raise MedSRError(f"method {method.name} gives no uncertainty map; cnn, gan, self, adapt and auto do")
    if is_cohort(args.input):
        return _sr_cohort(args, method)
    _sr_one(args, method, args.input, args.output, args.uncertainty, args.device)
    return 0


def _sr_one(args, method, source, output, uncertainty_path, device: str, label: str = "") -> None:
    from ..geometry import spacing_after
    from ..io import WrittenTogether, check_output_path, read_volume
    from ..methods.consistency import OWN_PROFILE, project
    from .console import progress_bar

    check_output_path(output, [source], args.overwrite)
    if uncertainty_path:
        check_output_path(uncertainty_path, [source, output], args.overwrite)
    volume = read_volume(source, modality=args.modality)
    target = spacing_after(volume.grid, args.spacing, _scale(args.scale))
    if args.spacing and not all(abs(a - b) < 1e-9 for a, b in zip(target.spacing, args.spacing)):
        print(f"note: spacing adjusted to {_mm(target.spacing)} mm so the voxels tile the field of view exactly", file=sys.stderr)
    options = _device_option(method, device)
    if uncertainty_path:
        options["with_uncertainty"] = True
    if args.backend != "torch":
        if "backend" not in method.options:
            raise MedSRError(f"--backend {args.backend} runs pretrained networks (cnn, gan); {method.name} has none")
        options["backend"] = args.backend
    consistency = args.data_consistency
    if "data_consistency" in method.options:  # learned methods project themselves (on by default)
        options["data_consistency"] = {"auto": OWN_PROFILE, "off": None}.get(consistency, consistency)
    with progress_bar(f"sr {method.name}{label}", not args.quiet) as progress:
        result = method.run(volume, target, progress, **options)
    uncertainty = None
    if uncertainty_path:
        result, uncertainty = result
    if "auto_choice" in result.metadata:
        print(f"note: auto chose {result.metadata['auto_choice']}", file=sys.stderr)
    if "inference_notes" in result.metadata:
        print(f"note: {result.metadata['inference_notes']}", file=sys.stderr)
    if consistency in ("box", "gaussian") and "data_consistency" not in method.options:
        result = project(result, volume, consistency)
    if "consistency_residual_after" in result.metadata:
        print(f"note: data consistency ({result.metadata['data_consistency']} profile): RMS residual "
              f"{result.metadata['consistency_residual_before']} -> {result.metadata['consistency_residual_after']}", file=sys.stderr)
    with WrittenTogether(args.overwrite, [source]) as written:  # the result and its uncertainty map, or none
        written.volume(result, output)
        if uncertainty is not None:
            written.volume(uncertainty, uncertainty_path)
    if uncertainty is not None:  # what the map's values mean, and the fit behind them
        calibration = uncertainty.metadata.get("calibration")
        print(f"note: the map written is the {uncertainty.metadata.get('kind', 'uncertainty')}"
              + (f"; fitted as {calibration}" if calibration else ""), file=sys.stderr)
    print(f"{output}: {method.name}, {result.grid.size} voxels of {_mm(result.grid.spacing)} mm")


def _sr_cohort(args, method) -> int:
    """Every volume of a folder or list file; under torchrun this process's share, on its own GPU."""
    import os

    from ..io import check_output_path
    from ..io.cohort import cohort_inputs, plan, rank_and_world

    rank, world = rank_and_world()
    device = args.device
    if world > 1 and device in ("auto", "cuda"):
        import torch

        if torch.cuda.is_available():
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
    jobs = plan(cohort_inputs(args.input), args.output, args.uncertainty, rank, world)
    made = []
    try:
        for folder in filter(None, (args.output, args.uncertainty)):
            if not Path(folder).parent.exists():
                raise MedSRError(f"cannot write into {folder}: folder {Path(folder).parent} does not exist")
            try:
                Path(folder).mkdir()
                made.append(Path(folder))
            except FileExistsError:  # there already, or made by another torchrun process just now
                pass
            except OSError as error:
                raise MedSRError(f"cannot make the folder {folder}: {error.strerror or error}") from None
        for source, output, extra in jobs:  # refuse before any work, so nothing is half done
            check_output_path(output, [source], args.overwrite)
            if extra:
                check_output_path(extra, [source, output], args.overwrite)
    except MedSRError:
        for folder in made:  # a refused run leaves no folder of its own behind (unless another process wrote there)
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    where = f" (process {rank + 1} of {world})" if world > 1 else ""
    failed = []
    for index, (source, output, extra) in enumerate(jobs, 1):
        try:
            _sr_one(args, method, source, output, extra, device, f" {index}/{len(jobs)}{where}")
        except MedSRError as error:
            print(f"medsr: error: {source}: {error}", file=sys.stderr)
            failed.append(source.name)
    if failed:
        raise MedSRError(f"{len(failed)} of {len(jobs)} volumes failed{where}: {', '.join(failed)}")
    print(f"{len(jobs)} volume{'' if len(jobs) == 1 else 's'} written to {args.output}{where}")
    return 0


def cmd_enhance(args) -> int:
    from ..io import check_output_path, read_volume, write_volume
    from ..methods import enhance, get
    from .console import progress_bar

    steps = _method_list(args.steps or args.method, "enhance")
    options = {name: _device_option(get("enhance", name), args.device) for name in steps}
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


def cmd_eval(args) -> int:
    from ..io import read_volume
    from ..metrics import evaluate

    reference = read_volume(args.reference)
    test = read_volume(args.test)
    mask = read_volume(args.mask) if args.mask else None
    result = evaluate(reference, test, mask, args.kind, args.data_range)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(_eval_table(result))
    return 0


def _eval_table(result: dict) -> str:
    if result["kind"] == "labels":
        lines = ["label  dice    iou     hd95_mm  ref_mL    test_mL"]
        for label, m in result["labels"].items():
            lines.append(f"{label:>5}  {m['dice']:.4f}  {m['iou']:.4f}  {m['hd95_mm']:7.2f}  {m['reference_ml']:8.2f}  {m['test_ml']:8.2f}")
        lines.append(f"mean Dice {result['mean_dice']:.4f}")
        return "\n".join(lines)
    lines = [f"data range {result['data_range']:g} ({result['data_range_source']}); mask: {result['mask_source']}",
             "region       MSE          PSNR_dB  SSIM"]
    for region in ("whole", "foreground"):
        m = result[region]
        lines.append(f"{region:<11}  {m['mse']:<11.6g}  {m['psnr']:7.3f}  {m['ssim']:.4f}")
    return "\n".join(lines)


def cmd_demo(args) -> int:
    from ..evaluation.demo import run_demo
    from ..simulate import Acquisition
    from .console import progress_bar

    acquisition = Acquisition(tuple(args.factors), args.sampling)
    with progress_bar("demo", not args.quiet) as progress:
        payload = run_demo(Path(args.output), args.input, acquisition, _method_list(args.methods, "sr"), args.overwrite, progress)
    print(Path(args.output, "metrics.md").read_text())
    print(f"wrote {args.output}/ ({len(payload['files'])} files) in {payload['total_seconds']:.1f} s")
    return 0


def cmd_bench(args) -> int:
    from .console import progress_bar

    if args.noise_draws != 1 and args.task != "enhance":
        raise MedSRError("--noise-draws is for --task enhance")  # the enhance benchmark checks the number itself
    with progress_bar(f"bench {args.task}", not args.quiet) as progress:
        if args.task == "sr":
            from ..evaluation.bench import run_bench

            run_bench(Path(args.output), args.input, _method_list(args.methods, "sr"), args.overwrite, progress)
            report = "bench.md"
        elif args.task == "sr-learned":
            from ..evaluation.bench_learned_sr import run_learned_sr_bench

            run_learned_sr_bench(Path(args.output), args.input, args.device, args.overwrite, progress)
            report = "sr.md"
        elif args.task == "enhance":
            from ..evaluation.bench_enhance import run_enhance_bench

            run_enhance_bench(Path(args.output), args.input, _method_list(args.methods, "enhance"), args.overwrite, progress,
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


def cmd_segment(args) -> int:
    from ..io import WrittenTogether, check_output_path, read_volume
    from ..methods.segmentation import colour_table_text, segment
    from ..strip import NoBrainFound
    from ..strip.field_of_view import warning_of
    from .console import progress_bar

    output = Path(args.output)
    from ..io.formats import file_stem, probability_map_path

    stem = file_stem(output)
    extras = [output.with_name(stem + ".ctbl"), output.with_name(stem + ".volumes.json")]
    instances_of = [int(v) for v in args.instances.split(",")] if args.instances else []
    if instances_of:
        extras.append(output.with_name(stem + ".instances" + output.name[len(stem):]))
    probability_paths = {}
    if args.probabilities:
        from ..models.catalog import find_entry

        names = find_entry(args.model)["labels"]["names"]
        probability_paths = {int(k): probability_map_path(output, name) for k, name in names.items() if int(k) != 0}
    for path in [output] + extras + list(probability_paths.values()):
        check_output_path(path, [args.input], args.overwrite)
    volume = read_volume(args.input, modality=args.modality)
    brain_mask = read_volume(args.mask) if args.mask else (None if args.skull_stripped else "auto")
    try:
        with progress_bar("segment", not args.quiet) as progress:
            result = segment(volume, args.model, device=args.device, instances_of=instances_of, progress=progress,
                             backend=args.backend, intensity_model=args.intensity_model, super_resolution=args.sr,
                             brain_mask=brain_mask, atlas_priors=args.atlas_priors,
                             bias_correction=args.bias_correction, keep_probabilities=args.probabilities)
    except NoBrainFound as error:
        raise MedSRError(f"no brain found in {args.input}: {error}") from None
    summary = {"input": str(Path(args.input).resolve()), "model": f"{result.model['name']} {result.model['version']}",
               "grid": repr(result.labels.grid),
               "device": result.report.device if result.report else None, "volumes_ml": result.volumes_ml}
    if result.intensity_fit is not None:
        summary["intensity_model"] = dataclasses.asdict(result.intensity_fit)
    if result.super_resolved_by:
        summary["super_resolved_by"] = result.super_resolved_by
    summary["bias_field_corrected"] = result.bias_corrected
    if result.intracranial_ml is not None:
        summary["intracranial_ml"] = result.intracranial_ml
        summary["brain_mask"] = result.brain_mask_source
        if result.brain_evidence:
            summary["brain_evidence"] = result.brain_evidence
    if instances_of:
        summary["instances"] = result.instance_table
    with WrittenTogether(args.overwrite, [args.input]) as written:  # the label map and its sidecars, or none
        written.volume(result.labels, output)
        written.text(extras[0], colour_table_text(result.names, result.colours))
        if instances_of:
            written.volume(result.instances, extras[2])
        for label, path in probability_paths.items():
            written.volume(result.probabilities[label], path)
        written.text(extras[1], json.dumps(summary, indent=2) + "\n")
    for note in result.report.notes if result.report else []:
        print(f"note: {note}", file=sys.stderr)
    cut = warning_of(result.brain_evidence)
    if cut:
        print(f"warning: {cut}", file=sys.stderr)
    if result.super_resolved_by:
        print(f"super-resolved by {result.super_resolved_by} onto {result.labels.grid!r}")
    if result.bias_corrected:
        print("N4 bias-field correction inside the brain mask before labelling")
    if result.intensity_fit is not None:
        print(result.intensity_fit.describe(result.names))
    if result.intracranial_ml is not None:
        print(f"{'intracranial (mask)':<22} {result.intracranial_ml:9.2f} mL")
    for name, ml in result.volumes_ml.items():
        print(f"{name:<22} {ml:9.2f} mL")
    if probability_paths:
        print(f"probability maps -> {', '.join(str(path) for path in probability_paths.values())}")
    if instances_of:
        print(f"{len(result.instance_table)} instances of label(s) {args.instances} -> {extras[2]}")
    return 0


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


def cmd_export(args) -> int:
    import shutil
    import tempfile

    from ..io import check_output_path
    from ..models.onnx_backend import export_onnx

    output = check_output_path(args.output, [], args.overwrite)
    if output.suffix != ".onnx":
        raise MedSRError(f"the export is an ONNX file; name it *.onnx, not {output.name}")
    with tempfile.TemporaryDirectory(prefix=".medsr-", dir=output.parent) as staging:
        report = export_onnx(args.model, Path(staging) / output.name)
        shutil.move(str(Path(staging) / output.name), output)
    print(f"{output}: {report['model']}, opset {report['opset']}, sha256 {report['sha256']}, "
          f"largest difference from torch {report['max_abs_difference']:.2g}")
    return 0


def cmd_models(args) -> int:
    from ..models import load_catalog

    for entry in load_catalog():
        print(f"{entry['name']} {entry['version']}  task={entry['task']}  modality={entry['modality']}  "
              f"spacing {entry['valid_spacing_mm'][0]}-{entry['valid_spacing_mm'][1]} mm  sha256 {entry['sha256'][:12]}")
        print(f"    {entry.get('summary', '')}")
        print(f"    trained on {entry['training']['data']} ({entry['training']['device']}, {entry['training']['seconds']:.0f} s)")
        for name, value in entry.get("validation", {}).items():
            print(f"    {name}: {value}")
    return 0


def cmd_methods(args) -> int:
    from ..methods import methods

    for task, title in (("sr", "super-resolution (medsr sr --method)"), ("enhance", "enhancement (medsr enhance --method/--steps)"),
                        ("segment", "segmentation (medsr segment --model)")):
        print(title)
        for m in methods(task):
            print(f"  {m.name:<20} {m.family:<10} {m.summary}")
    return 0


def _device_option(method, device: str) -> dict:
    """Learned methods take the device; classical ones run where SimpleITK runs, so they take none."""
    if method.family == "classical":
        if device not in ("auto", "cpu"):
            print(f"note: {method.name} is a classical method and runs on the CPU", file=sys.stderr)
        return {}
    return {"device": device}


def _mm(values) -> str:
    return "x".join(f"{v:.4g}" for v in values)


def _strip(args) -> int:
    from .strip import cmd_strip

    return cmd_strip(args)


def _report(args) -> int:
    from .report import cmd_report

    return cmd_report(args)


def _view(args) -> int:
    from .view import cmd_view

    return cmd_view(args)


COMMANDS = {
    "degrade": cmd_degrade, "sr": cmd_sr, "enhance": cmd_enhance, "eval": cmd_eval, "demo": cmd_demo, "bench": cmd_bench,
    "segment": cmd_segment, "strip": _strip, "report": _report, "view": _view, "train": cmd_train, "export": cmd_export, "models": cmd_models, "methods": cmd_methods,
}


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
