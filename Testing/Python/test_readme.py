"""The README's Python example runs as written, on real volumes, and gives what its comments say."""

import re
from pathlib import Path

import numpy as np

from MedSRLib import read_volume, write_volume
from MedSRLib.methods import get
from MedSRLib.metrics import evaluate

from conftest import crop

ROOT = Path(__file__).resolve().parents[2]


def readme_python_example() -> str:
    section = ROOT.joinpath("README.md").read_text().split("\n## Python\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_python_example_runs_on_real_volumes(tmp_path, t1, monkeypatch):
    """t1.nii.gz: a 96x112x88 crop of the bundled T1 (skull-stripped); head-with-skull.nii.gz: FreeSurfer's 711-2C
    head at 2 mm (Testing/Data). The example's names are read back from its namespace."""
    write_volume(crop(t1, (50, 60, 50), (146, 172, 138)), tmp_path / "t1.nii.gz")
    write_volume(read_volume(ROOT / "Testing" / "Data" / "711-2c-2mm" / "t1.nii.gz"), tmp_path / "head-with-skull.nii.gz")
    monkeypatch.chdir(tmp_path)
    names = {}
    exec(compile(readme_python_example(), "README.md", "exec"), names)
    truth, low, grid = names["truth"], names["low"], names["grid"]
    assert grid.matches(truth.grid, atol_mm=1e-6)  # 4 mm slices of a 1 mm volume: back onto its grid
    restored = read_volume(tmp_path / "restored.nrrd")
    assert restored.grid.matches(truth.grid, atol_mm=1e-6)
    bspline = evaluate(truth, get("sr", "bspline").run(low, grid, names["progress"]))["foreground"]["psnr"]
    for result in (restored, names["baseline"]):  # both data-consistent, both above plain B-spline
        assert evaluate(truth, result)["foreground"]["psnr"] > bspline + 1.0
        assert "consistency_residual_after" in result.metadata
    assert names["denoised"].grid == truth.grid
    brain, head = names["brain"], names["head"]
    mask = brain.mask.array > 0
    reference = read_volume(ROOT / "Testing" / "Data" / "711-2c-2mm" / "intracranial-mask.nii.gz").array > 0
    assert 2 * np.sum(mask & reference) / (mask.sum() + reference.sum()) > 0.93
    assert read_volume(tmp_path / "brain.nii.gz").grid.matches(head.grid, atol_mm=1e-6)
    labels = names["tissues"].labels
    assert labels.grid == head.grid
    assert set(np.unique(labels.array)) == {0, 1, 2, 3} and not np.any(labels.array[~mask])  # inside the brain only
