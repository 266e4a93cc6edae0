"""`medsr sr` on cohorts: folders and list files of real volumes, split across torchrun processes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from MedSRLib import read_volume, write_volume
from MedSRLib.cli.main import main
from MedSRLib.geometry import resample_to_grid

from conftest import crop


@pytest.fixture()
def cohort(t1, tmp_path):
    """Three real 2 mm crops of the MNI T1 in a folder, plus one non-volume file that must be ignored."""
    folder = tmp_path / "cohort"
    folder.mkdir()
    for index, lo in enumerate([(60, 70, 60), (80, 90, 70), (100, 100, 80)]):
        part = crop(t1, lo, (lo[0] + 40, lo[1] + 40, lo[2] + 40))
        low = part.with_array(part.as_float32()[::2, ::2, ::2], part.grid.with_size((20, 20, 20)))
        write_volume(low, folder / f"case{index}.nrrd")
    (folder / "notes.txt").write_text("not a volume\n")
    return folder


def test_folder_cohort_writes_every_volume_on_its_contract_grid(cohort, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sr", str(cohort), str(out), "--scale", "2", "--method", "lanczos", "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["case0.nrrd", "case1.nrrd", "case2.nrrd"]
    for name in ("case0.nrrd", "case2.nrrd"):
        low, high = read_volume(cohort / name), read_volume(out / name)
        assert high.grid.size == (40, 40, 40)
        expected = resample_to_grid(low.as_float32(), low.grid, high.grid, "lanczos")
        assert np.allclose(high.array, expected, atol=1e-4)
    assert "3 volumes written" in capsys.readouterr().out


def test_list_file_cohort_and_refusal_before_any_work(cohort, tmp_path, capsys):
    listing = tmp_path / "cases.txt"
    listing.write_text("# two of them\ncohort/case0.nrrd\n\ncohort/case2.nrrd\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "case2.nrrd").write_text("the user's file")
    assert main(["sr", str(listing), str(out), "--scale", "2", "--method", "lanczos", "--quiet"]) != 0
    assert "already exists" in capsys.readouterr().err
    assert not (out / "case0.nrrd").exists()  # refused before the first volume was written
    assert (out / "case2.nrrd").read_text() == "the user's file"
    listing.write_text("cohort/case0.nrrd\ncohort/missing.nrrd\n")
    assert main(["sr", str(listing), str(tmp_path / "o2"), "--scale", "2", "--method", "lanczos", "--quiet"]) != 0
    assert "line 2" in capsys.readouterr().err
    # a refusal after the output folder was made (the uncertainty maps would overwrite the results) removes it again
    fresh = tmp_path / "fresh"
    assert main(["sr", str(cohort), str(fresh), "--scale", "1", "1", "2", "--method", "self", "--uncertainty", str(fresh),
                 "--quiet"]) == 2
    assert "is the input" in capsys.readouterr().err and not fresh.exists()


def test_a_bad_volume_fails_alone_and_the_exit_says_so(cohort, tmp_path, capsys):
    (cohort / "broken.nii.gz").write_bytes(b"not a nifti file")
    out = tmp_path / "out"
    assert main(["sr", str(cohort), str(out), "--scale", "2", "--method", "lanczos", "--quiet"]) != 0
    err = capsys.readouterr().err
    assert "broken.nii.gz" in err and "1 of 4 volumes failed" in err
    assert sorted(p.name for p in out.iterdir()) == ["case0.nrrd", "case1.nrrd", "case2.nrrd"]


def test_torchrun_splits_the_cohort_between_processes(cohort, tmp_path):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29534",
               "-m", "MedSRLib", "sr", str(cohort), str(out), "--scale", "2", "--method", "lanczos", "--quiet"]
    done = subprocess.run(command, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["case0.nrrd", "case1.nrrd", "case2.nrrd"]
    assert "2 volumes written to" in done.stdout and "(process 1 of 2)" in done.stdout
    assert "1 volume written to" in done.stdout and "(process 2 of 2)" in done.stdout
