"""`medsr report`: one self-contained HTML file to review volumes and label maps offline (fMRIPrep/MRIQC style).

Every picture is a PNG embedded in the page (data: URIs); the page loads nothing from the network. A cohort
report has one section per case and flags, at the top, the cases whose label volumes are outliers in the cohort
(more than 3.5 robust standard deviations from the cohort's median: |x - median| / (1.4826 MAD)).
"""

from __future__ import annotations

import base64
import datetime
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

from .. import __version__
from ..errors import MedSRError
from ..io import read_volume
from ..io.formats import file_stem, is_volume_file
from ..metrics.labels import looks_like_labels
from ..progress import SILENT, Progress
from ..strip.field_of_view import warning_of
from ..volume import Volume
from .mosaic import VIEWS, display_window, mosaic_png, on_world_grid, world_aligned_grid

#: colours of labels a colour table does not name (tab10-like)
FALLBACK_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
                    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
OUTLIER_Z = 3.5


@dataclass
class Case:
    name: str
    image: Optional[Volume]
    labels: Optional[Volume] = None
    compare: Optional[Volume] = None
    names: Dict[int, str] = field(default_factory=dict)
    colours: Dict[int, Tuple[int, int, int]] = field(default_factory=dict)
    volumes_ml: Dict[str, float] = field(default_factory=dict)
    provenance: Dict[str, str] = field(default_factory=dict)
    #: what the making of its labels warned of (a brain cut by the field of view: strip/field_of_view.py)
    warnings: List[str] = field(default_factory=list)


def read_colour_table(path: Path) -> Tuple[Dict[int, str], Dict[int, Tuple[int, int, int]]]:
    """A 3D Slicer colour table (``index name R G B A`` per line, as `medsr segment` writes)."""
    names, colours = {}, {}
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) < 5:
            raise MedSRError(f"{path}: '{line}' is not a colour table line (index name R G B A)")
        index = int(parts[0])
        names[index] = parts[1].replace("_", " ")
        colours[index] = tuple(int(v) for v in parts[2:5])
    return names, colours


def sidecars(labels_path: Path) -> Tuple[Optional[Path], Optional[Path]]:
    stem = file_stem(labels_path)
    table, volumes = labels_path.with_name(stem + ".ctbl"), labels_path.with_name(stem + ".volumes.json")
    return (table if table.exists() else None), (volumes if volumes.exists() else None)


def load_case(image_path: Optional[str], labels_path: Optional[str] = None, compare_path: Optional[str] = None,
              name: Optional[str] = None) -> Case:
    image = read_volume(image_path) if image_path else None
    case = Case(name or Path(image_path or labels_path).name, image)
    if compare_path:
        case.compare = read_volume(compare_path)
        if image is not None and not case.compare.grid.matches(image.grid):
            raise MedSRError(f"{compare_path} is not on the grid of {image_path}: {case.compare.grid.describe_difference(image.grid)}")
    if image is not None:
        case.provenance.update({k: v for k, v in image.metadata.items() if k != "source"})
    if labels_path:
        labels = read_volume(labels_path)
        if not looks_like_labels(labels):
            raise MedSRError(f"{labels_path} is not a label map (its voxels are not a few whole numbers)")
        if image is not None and not labels.grid.matches(image.grid):
            raise MedSRError(f"the label map {labels_path} is not on the grid of {image_path}: "
                             f"{labels.grid.describe_difference(image.grid)}")
        case.labels = labels
        table, volumes = sidecars(Path(labels_path))
        if table is not None:
            case.names, case.colours = read_colour_table(table)
        if volumes is not None:
            summary = json.loads(volumes.read_text())
            case.volumes_ml = {k: float(v) for k, v in summary.get("volumes_ml", {}).items()}
            if summary.get("intracranial_ml") is not None:
                case.volumes_ml = {"intracranial (brain mask)": float(summary["intracranial_ml"]), **case.volumes_ml}
            for key in ("model", "super_resolved_by", "brain_mask"):
                if summary.get(key):
                    case.provenance[key] = str(summary[key])
            cut = warning_of(summary.get("brain_evidence", {}))
            if cut:
                case.warnings.append(cut)
        present = sorted(int(v) for v in np.unique(labels.array) if v > 0)
        for index, label in enumerate(present):
            case.names.setdefault(label, f"label {label}")
            case.colours.setdefault(label, FALLBACK_COLOURS[index % len(FALLBACK_COLOURS)])
        if not case.volumes_ml:
            voxel_ml = float(np.prod(labels.grid.spacing)) / 1000.0
            counts = np.bincount(labels.array.astype(np.int64).ravel())
            case.volumes_ml = {case.names[k]: float(counts[k] * voxel_ml) for k in present}
        case.provenance.update({k: v for k, v in labels.metadata.items() if k != "source"})
    return case


def cohort_cases(folder: Path) -> List[Case]:
    """Every label map with a ``<stem>.volumes.json`` beside it (a `medsr segment` output) is a case, shown over
    the image it was made from when that file still exists; every other volume file is an image case."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if is_volume_file(p) and not p.name.startswith("."))
    if not files:
        raise MedSRError(f"{folder} holds no volume files to report on")
    label_maps = {p for p in files if sidecars(p)[1] is not None}
    used = set()
    cases = []
    for labels in sorted(label_maps):
        summary = json.loads(sidecars(labels)[1].read_text())
        source = summary.get("input")
        image = None
        if source:  # the image it was made from: beside it (a moved cohort) or where it was
            beside = folder / Path(source).name
            image = beside if beside.exists() else (Path(source) if Path(source).exists() else None)
        if image is not None and image.parent.resolve() == folder.resolve():
            used.add(image.resolve())
        cases.append(load_case(str(image) if image else None, str(labels), name=file_stem(labels)))
    for path in files:
        if path not in label_maps and path.resolve() not in used:
            cases.append(load_case(str(path), name=file_stem(path)))
    return cases


def outliers(cases: List[Case]) -> List[str]:
    """Lines naming each case whose volume of some label lies more than OUTLIER_Z robust SDs from the median."""
    found = []
    labels = sorted({name for case in cases for name in case.volumes_ml})
    for label in labels:
        values = np.array([case.volumes_ml.get(label, np.nan) for case in cases], float)
        present = values[np.isfinite(values)]
        if present.size < 3:
            continue
        median = float(np.median(present))
        spread = 1.4826 * float(np.median(np.abs(present - median)))
        spread = max(spread, 0.05 * abs(median), 1e-9)
        for case, value in zip(cases, values):
            if np.isfinite(value) and abs(value - median) / spread > OUTLIER_Z:
                found.append(f"{case.name}: {label} {value:.1f} mL (cohort median {median:.1f} mL)")
    return found


def write_report(cases: List[Case], output: Path, title: str, progress: Progress = SILENT) -> Path:
    from ..io import write_text_atomic

    flagged = (outliers(cases) if len(cases) > 1 else []) + [f"{case.name}: {warning}" for case in cases
                                                             for warning in case.warnings]
    parts = [_HEAD.format(title=html.escape(title)), f"<h1>{html.escape(title)}</h1>",
             f"<p class=meta>medsr {__version__}, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; "
             f"{len(cases)} case{'s' if len(cases) != 1 else ''}. Slices in world orientation: the patient's right on "
             "the left; axial anterior up, coronal and sagittal superior up.</p>"]
    if len(cases) > 1:
        parts.append("<section id=outliers><h2>Outliers and warnings</h2>" + (
            "<ul>" + "".join(f"<li class=flag>{html.escape(line)}</li>" for line in flagged) + "</ul>" if flagged else
            f"<p>No case has a label volume more than {OUTLIER_Z} robust standard deviations from the cohort's median.</p>")
            + "</section>")
        parts.append(_cohort_table(cases))
    for number, case in enumerate(cases):
        progress.update(number / len(cases), f"case {number + 1} of {len(cases)}")
        parts.append(_section(case, flagged))
    parts.append("</body></html>\n")
    output = Path(output)
    write_text_atomic(output, "\n".join(parts))
    progress.update(1.0, "report written")
    return output


def _section(case: Case, flagged: List[str]) -> str:
    reference = case.image if case.image is not None else case.labels
    grid = world_aligned_grid(reference.grid, max(1.0, min(reference.grid.spacing)))
    image = on_world_grid(case.image, grid) if case.image is not None else None
    labels = on_world_grid(case.labels, grid, labels=True) if case.labels is not None else None
    compare = on_world_grid(case.compare, grid) if case.compare is not None else None
    rows = []
    window = display_window(image) if image is not None else None  # one window for the volume and the compared one
    for view in VIEWS:
        rows.append(f"<figure><figcaption>{view}</figcaption>{_img(mosaic_png(image, labels, case.colours, view, window=window))}</figure>")
        if compare is not None:
            rows.append(f"<figure><figcaption>{view}, compared volume</figcaption>"
                        f"{_img(mosaic_png(compare, labels, case.colours, view, window=window))}</figure>")
    mark = " flagged" if any(line.startswith(case.name + ":") for line in flagged) else ""
    table = ""
    if case.volumes_ml:
        swatch = {case.names.get(k, ""): v for k, v in case.colours.items()}
        table = "<table class=volumes><tr><th>label</th><th>volume (mL)</th></tr>" + "".join(
            f"<tr><td><span class=swatch style='background:rgb{tuple(swatch.get(name, (0, 0, 0)))}'></span>"
            f"{html.escape(name)}</td><td>{ml:.1f}</td></tr>" for name, ml in case.volumes_ml.items()) + "</table>"
    source = reference.grid
    facts = {"grid": f"{'x'.join(map(str, source.size))} voxels of {'x'.join(f'{s:.3g}' for s in source.spacing)} mm",
             **case.provenance, **{"warning": warning for warning in case.warnings}}
    info = "<table class=facts>" + "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                                            for k, v in facts.items()) + "</table>"
    return f"<section class='case{mark}' id='{html.escape(case.name)}'><h2>{html.escape(case.name)}</h2>{info}{table}{''.join(rows)}</section>"


def _cohort_table(cases: List[Case]) -> str:
    labels = sorted({name for case in cases for name in case.volumes_ml})
    if not labels:
        return ""
    head = "".join(f"<th>{html.escape(label)} (mL)</th>" for label in labels)
    body = "".join("<tr><td><a href='#{0}'>{0}</a></td>".format(html.escape(case.name)) + "".join(
        f"<td>{case.volumes_ml[label]:.1f}</td>" if label in case.volumes_ml else "<td></td>" for label in labels) + "</tr>"
        for case in cases)
    return f"<section id=cohort><h2>Label volumes</h2><table class=volumes><tr><th>case</th>{head}</tr>{body}</table></section>"


def _img(png: bytes) -> str:
    return f"<img alt='' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"


_HEAD = """<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<style>
body {{ font-family: sans-serif; margin: 1.5em; background: #fafafa; color: #222; }}
section {{ margin: 1.5em 0; padding: 0.5em 1em; background: white; border: 1px solid #ddd; }}
section.flagged {{ border: 3px solid #c00; }}
li.flag {{ color: #c00; font-weight: bold; }}
figure {{ margin: 0.4em 0; }} figcaption {{ font-size: 0.85em; color: #555; }}
img {{ width: 100%; max-width: 1000px; display: block; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }} td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: left; }}
.swatch {{ display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: middle; }}
.meta {{ color: #555; }}
</style></head><body>"""
