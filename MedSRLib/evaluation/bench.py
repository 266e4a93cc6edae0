"""`medsr bench`: every super-resolution method over several simulated acquisitions, timed and measured."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Dict, Optional, Sequence

from ..io import read_volume, write_text_atomic
from ..progress import SILENT, Progress
from ..sample_data import sample_path
from ..simulate import Acquisition
from .comparison import compare_methods, machine_description
from .report import markdown_table, refuse_existing_report

DEGRADATIONS: Dict[str, Acquisition] = {
    "isotropic x2": Acquisition(factors=(2.0, 2.0, 2.0), sampling="box"),
    "isotropic x4": Acquisition(factors=(4.0, 4.0, 4.0), sampling="box"),
    "thick-slice x4": Acquisition(factors=(1.0, 1.0, 4.0), sampling="gaussian"),
    "thick-slice x6": Acquisition(factors=(1.0, 1.0, 6.0), sampling="gaussian"),
}


def run_bench(
    output: Path,
    input_path: Optional[Path] = None,
    method_names: Optional[Sequence[str]] = None,
    overwrite: bool = False,
    progress: Progress = SILENT,
) -> dict:
    """Write bench.json and bench.md into the folder ``output`` (created if needed)."""
    import json

    output = Path(output)
    refuse_existing_report(output, "bench", overwrite)
    source = Path(input_path) if input_path else sample_path("t1")
    truth = read_volume(source)
    results = {}
    for index, (name, acquisition) in enumerate(DEGRADATIONS.items()):
        part = progress.sub(index / len(DEGRADATIONS), (index + 1) / len(DEGRADATIONS))
        part.update(0.0, name)
        comparison = compare_methods(truth, acquisition, method_names, part)
        results[name] = {
            "acquisition": acquisition.as_dict(),
            "low_resolution_size": list(comparison.low_resolution.grid.size),
            "low_resolution_spacing_mm": list(comparison.low_resolution.grid.spacing),
            "data_range": comparison.data_range,
            "methods": comparison.rows(),
            "not_applicable": comparison.not_applicable,
        }
    machine = machine_description()
    payload = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": source.name,
        "truth_size": list(truth.grid.size),
        "truth_spacing_mm": list(truth.grid.spacing),
        "machine": machine,
        "notes": "Numbers are recorded, not asserted. Time is wall time of the method alone (file I/O excluded); "
        "peak memory is resident memory above the level before the method, sampled every 5 ms.",
        "degradations": results,
    }
    output.mkdir(parents=True, exist_ok=True)
    sections = [
        "# MedSR benchmark",
        "",
        f"Date {payload['date']}; input `{source.name}` {tuple(truth.grid.size)} at {truth.grid.spacing} mm; "
        f"machine: {machine['cpu']}, {machine['cpu_cores_usable']} usable cores, {machine['platform']}, "
        f"torch {machine['torch']}; device: {machine['device']}.",
        "",
        payload["notes"] + " PSNR data range: the truth's 0.5-99.5 percentile range; fg = foreground (Otsu mask of the truth).",
    ]
    for name, result in results.items():
        sections += ["", f"## {name} ({Acquisition(**result['acquisition']).describe()})", "", markdown_table(result["methods"])]
        sections += [f"\nNot applicable: {method}: {reason}" for method, reason in result["not_applicable"].items()]
    write_text_atomic(output / "bench.json", json.dumps(payload, indent=2) + "\n")
    write_text_atomic(output / "bench.md", "\n".join(sections) + "\n")
    progress.update(1.0, f"benchmark written to {output}")
    return payload
