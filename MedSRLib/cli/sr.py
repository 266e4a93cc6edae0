"""`medsr sr IN OUT --spacing|--scale ...`: super-resolution of one volume or of a cohort."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import List, Optional

from ..errors import MedSRError
from .options import (add_device_modality_overwrite_quiet, add_slice_thickness, device_option, kspace_told_by, mm,
                      with_thickness_given)


def add_parser(sub) -> None:
    from ..methods import methods
    from ..methods.consistency import PROFILES

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
    p.add_argument("--data-consistency", choices=("auto", "off") + PROFILES, default="auto",
                   help="project the result so that re-acquiring it with a slice profile reproduces the input, down to the "
                        "noise the input shows (exactly when it shows none); "
                        "auto (default): learned methods project with their own profile, interpolation stays pure; "
                        "off: never; box, gaussian or kspace: always, with that profile")
    p.add_argument("--slice-profile", choices=PROFILES,
                   help="the scan's slice profile, for the methods that learn from the scan itself (self, adapt, and auto "
                        "when it takes one of them): box (a 2-D acquisition's near-rectangular profile, or slices "
                        "averaged from a finer volume; the default), gaussian (FWHM = slice thickness) or kspace (a 3-D "
                        "acquisition's coarsely encoded axis: its central frequencies kept; the default where the "
                        "DICOM MR Acquisition Type or a NIfTI's BIDS sidecar says 3D). A wrong one can "
                        "cost several dB (README)")
    add_slice_thickness(p, "for the methods that model the acquisition: the learned ones and an interpolation's "
                           "projection")
    p.add_argument("--backend", choices=["torch", "onnxruntime"], default="torch",
                   help="run pretrained networks (cnn, gan) with torch or ONNX Runtime")
    add_device_modality_overwrite_quiet(p)


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
    from ..methods.consistency import OWN_PROFILE, PROFILES, profile_source
    from ..methods.consistent_interpolation import consistent_interpolation
    from .console import progress_bar

    check_output_path(output, [source], args.overwrite)
    if uncertainty_path:
        check_output_path(uncertainty_path, [source, output], args.overwrite)
    volume = _with_thickness(read_volume(source, modality=args.modality), args, method)
    target = spacing_after(volume.grid, args.spacing, _scale(args.scale))
    if args.spacing and not all(abs(a - b) < 1e-9 for a, b in zip(target.spacing, args.spacing)):
        print(f"note: spacing adjusted to {mm(target.spacing)} mm so the voxels tile the field of view exactly", file=sys.stderr)
    options = device_option(method, device)
    if uncertainty_path:
        options["with_uncertainty"] = True
    if args.backend != "torch":
        if "backend" not in method.options:
            raise MedSRError(f"--backend {args.backend} runs pretrained networks (cnn, gan); {method.name} has none")
        options["backend"] = args.backend
    if args.slice_profile:
        if "profile" not in method.options:
            raise MedSRError(f"--slice-profile is for the methods that learn from the scan itself (self, adapt, auto); "
                             f"{method.name} assumes its own")
        options["profile"] = args.slice_profile
    consistency = args.data_consistency
    run = method.run
    if "data_consistency" in method.options:  # learned methods project themselves (on by default)
        options["data_consistency"] = {"auto": OWN_PROFILE, "off": None}.get(consistency, consistency)
    elif consistency in PROFILES:  # an interpolation, projected (a masked scan's outside left out)
        run = consistent_interpolation(method.run, consistency)
    with progress_bar(f"sr {method.name}{label}", not args.quiet) as progress:
        result = run(volume, target, progress, **options)
    uncertainty = None
    if uncertainty_path:
        result, uncertainty = result
    if "auto_choice" in result.metadata:
        print(f"note: auto chose {result.metadata['auto_choice']}", file=sys.stderr)
    if "slice_profile" in result.metadata:  # a wrong one costs (README): say which was assumed, and why
        print(f"note: slice profile assumed: {result.metadata['slice_profile']} "
              f"({profile_source(volume, args.slice_profile)})", file=sys.stderr)
    if "inference_notes" in result.metadata:
        print(f"note: {result.metadata['inference_notes']}", file=sys.stderr)
    if "unmeasured" in result.metadata:  # a scan masked on its own grid (methods/unmeasured.py)
        print(f"note: the scan's outside was cut by a mask, not measured: {result.metadata['unmeasured']}", file=sys.stderr)
    if "consistency_residual_after" in result.metadata:
        noise = (f", down to the scan's noise, sigma {result.metadata['consistency_noise_sigma']}"
                 if "consistency_noise_sigma" in result.metadata else "")
        print(f"note: data consistency ({result.metadata['data_consistency']} profile{noise}): RMS residual "
              f"{result.metadata['consistency_residual_before']} -> {result.metadata['consistency_residual_after']}", file=sys.stderr)
    with WrittenTogether(args.overwrite, [source]) as written:  # the result and its uncertainty map, or none
        written.volume(result, output)
        if uncertainty is not None:
            written.volume(uncertainty, uncertainty_path)
    if uncertainty is not None:  # what the map's values mean, and the fit behind them
        calibration = uncertainty.metadata.get("calibration")
        print(f"note: the map written is the {uncertainty.metadata.get('kind', 'uncertainty')}"
              + (f"; fitted as {calibration}" if calibration else ""), file=sys.stderr)
    print(f"{output}: {method.name}, {result.grid.size} voxels of {mm(result.grid.spacing)} mm")


def _with_thickness(volume, args, method):
    """``volume`` with the slice thickness given (``--slice-thickness``), and a note of the one the methods that model
    the acquisition will use, when it is not the spacing. A k-space truncated axis has no thickness of its own: a
    thickness with the ``kspace`` profile is refused here, before any note."""
    from ..methods.consistency import PROFILES

    models_acquisition = method.family in ("learned", "dispatch") or args.data_consistency in PROFILES
    if args.slice_thickness is not None and not models_acquisition:
        raise MedSRError(f"--slice-thickness is for the methods that model the scan's acquisition (the learned ones, "
                         f"or an interpolation with --data-consistency {'|'.join(PROFILES)}); {method.name} does not")
    if not models_acquisition:
        return volume
    told_by = kspace_told_by(volume, args.slice_profile, "profile" in method.options, args.data_consistency)
    return with_thickness_given(volume, args.slice_thickness, told_by)


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


def _scale(values: Optional[List[float]]):
    if values is None:
        return None
    if len(values) == 1:
        return (values[0],) * 3
    if len(values) == 3:
        return tuple(values)
    raise MedSRError(f"--scale takes one factor or three, got {len(values)}")
