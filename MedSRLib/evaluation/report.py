"""Write a comparison as volumes, a Markdown and JSON table and a PNG figure."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List

import numpy as np
import SimpleITK as sitk

from ..io import write_text_atomic, write_volume
from ..io.convert import sitk_from_volume
from .comparison import Comparison, display_on


def refuse_existing_report(output: Path, stem: str, overwrite: bool) -> None:
    """A benchmark's ``stem``.json and ``stem``.md are replaced only with ``overwrite``."""
    from ..errors import MedSRError

    for name in (f"{stem}.json", f"{stem}.md"):
        if (Path(output) / name).exists() and not overwrite:
            raise MedSRError(f"{Path(output) / name} already exists; pass --overwrite to replace it")


def _fmt(value, digits=2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def markdown_table(rows: List[dict]) -> str:
    lines = [
        "| method | PSNR (dB) | SSIM | PSNR fg (dB) | SSIM fg | time (s) | peak memory (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {_fmt(r['psnr_db'])} | {_fmt(r['ssim'], 4)} | {_fmt(r['psnr_foreground_db'])} | "
            f"{_fmt(r['ssim_foreground'], 4)} | {_fmt(r['seconds'])} | {_fmt(r['peak_memory_mb'], 0)} |"
        )
    return "\n".join(lines)


def write_volumes(comparison: Comparison, folder: Path) -> List[str]:
    names = []
    for name, volume in [("ground_truth", comparison.truth), ("low_resolution", comparison.low_resolution)] + [
        (f"sr_{r.method}", r.volume) for r in comparison.results
    ]:
        write_volume(volume, folder / f"{name}.nii.gz")
        names.append(f"{name}.nii.gz")
    return names


def write_figure(comparison: Comparison, path: Path) -> None:
    """Axial and coronal crops of truth, low resolution and each method, with absolute error maps below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("ground truth", comparison.truth.as_float32()), ("low resolution", display_on(comparison.truth, comparison.low_resolution))]
    panels += [(r.method, r.volume.array) for r in comparison.results]
    oriented = [(title, _to_lps(comparison.truth, array)) for title, array in panels]
    truth = oriented[0][1]
    crop = tuple(slice(int(n * 0.12), int(n * 0.88)) for n in truth.shape)
    k_mid, j_mid = truth.shape[2] // 2, truth.shape[1] // 2
    vmax = float(np.percentile(truth, 99.5))
    emax = vmax * 0.25
    views = [
        ("axial", lambda a: a[crop[0], crop[1], k_mid].T, "upper"),
        ("coronal", lambda a: a[crop[0], j_mid, crop[2]].T, "lower"),
    ]
    columns = len(oriented)
    fig, axes = plt.subplots(4, columns, figsize=(2.2 * columns, 9.2), squeeze=False)
    for row, (view, cut, origin) in enumerate(views):
        for col, (title, array) in enumerate(oriented):
            image_ax, error_ax = axes[2 * row, col], axes[2 * row + 1, col]
            image_ax.imshow(cut(array), cmap="gray", vmin=0, vmax=vmax, origin=origin)
            image_ax.set_title(f"{title}\n{view}" if row == 0 else view, fontsize=8)
            if col == 0:
                error_ax.set_visible(True)
                error_ax.text(0.5, 0.5, f"|error|\n0 to {emax:.0f}", ha="center", va="center", fontsize=8)
            else:
                error_ax.imshow(np.abs(cut(array) - cut(truth)), cmap="inferno", vmin=0, vmax=emax, origin=origin)
            for ax in (image_ax, error_ax):
                ax.set_xticks([])
                ax.set_yticks([])
    fig.suptitle(f"{comparison.acquisition.describe()} -> {comparison.truth.grid.spacing} mm; radiological view (patient right on the left)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _to_lps(reference, array: np.ndarray) -> np.ndarray:
    """Reorder axes and flips so i runs to the patient's Left, j Posterior, k Superior (display only)."""
    image = sitk_from_volume(reference, array.astype(np.float32, copy=False))
    return sitk.GetArrayFromImage(sitk.DICOMOrient(image, "LPS")).T


def write_tables(payload: dict, rows: List[dict], folder: Path, stem: str, title: str, preamble: str) -> None:
    write_text_atomic(folder / f"{stem}.json", json.dumps(payload, indent=2, default=_json_default) + "\n")
    write_text_atomic(folder / f"{stem}.md", f"# {title}\n\n{preamble}\n\n{markdown_table(rows)}\n")


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"cannot write {type(value)} as JSON")
