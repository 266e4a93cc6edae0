"""`medsr segment IN OUT`: brain extraction, then tissue labels inside the brain, with their volumes."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from ..errors import MedSRError
from .options import add_device_modality_overwrite_quiet, add_slice_thickness, kspace_told_by, with_thickness_given


def add_parser(sub) -> None:
    from ..methods.consistency import PROFILES

    p = sub.add_parser("segment", help="label brain tissue (background, CSF, grey and white matter)")
    p.add_argument("input")
    p.add_argument("output", help="label map; a Slicer colour table (.ctbl) and label volumes (.volumes.json) are written beside it")
    p.add_argument("--model", default="brain-tissue", help="segmentation model from the catalog (medsr models)")
    p.add_argument("--sr", nargs="?", const="auto", metavar="METHOD",
                   help="super-resolve the input onto the model's 1 mm grid first (METHOD: a `medsr sr` method, default auto: "
                        "the method the held-out heads benchmark ranks first for this kind of scan, among those that apply, "
                        "else Lanczos) and label that grid")
    p.add_argument("--slice-profile", choices=PROFILES,
                   help="with --sr: the scan's slice profile, for the super-resolution methods that learn from the scan "
                        "(as `medsr sr --slice-profile`)")
    add_slice_thickness(p, "with --sr (as `medsr sr --slice-thickness`)")
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
    add_device_modality_overwrite_quiet(p)


def cmd_segment(args) -> int:
    from ..io import WrittenTogether, check_output_path, read_volume
    from ..methods.segmentation import colour_table_text, segment
    from ..strip import NoBrainFound
    from ..strip.field_of_view import warning_of
    from .console import progress_bar

    if args.slice_profile and not args.sr:
        raise MedSRError("--slice-profile is the scan's slice profile for --sr: it has no use without it")
    if args.slice_thickness is not None and not args.sr:
        raise MedSRError("--slice-thickness is the scan's slice thickness for --sr: it has no use without it")
    from ..methods import get

    # segmentation's interpolation is pure: only a learned super-resolution models the scan's acquisition
    models_acquisition = bool(args.sr) and get("sr", args.sr).family != "classical"
    if args.slice_thickness is not None and not models_acquisition:
        raise MedSRError(f"--slice-thickness is for the super-resolution methods that model the scan's acquisition "
                         f"(the learned ones); {args.sr} does not")
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
    if models_acquisition:
        takes_profile = "profile" in get("sr", args.sr).options
        volume = with_thickness_given(volume, args.slice_thickness,
                                      kspace_told_by(volume, args.slice_profile, takes_profile))
    brain_mask = read_volume(args.mask) if args.mask else (None if args.skull_stripped else "auto")
    try:
        with progress_bar("segment", not args.quiet) as progress:
            result = segment(volume, args.model, device=args.device, instances_of=instances_of, progress=progress,
                             backend=args.backend, intensity_model=args.intensity_model, super_resolution=args.sr,
                             slice_profile=args.slice_profile,
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
