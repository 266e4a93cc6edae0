"""Outputs that cannot be written: a read-only file system, a full disk (small tmpfs mounts made by the test) and a
folder without write permission (the command run without the capability to override file permissions). Every command that writes says so in one
line, exits 2, prints no success and leaves nothing at the output path."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from MedSRLib.cli.main import main
from MedSRLib.io import write_volume

from conftest import crop

#: command line for each command that writes, given the input folder and the output folder
COMMANDS = {
    "degrade": lambda i, o: ["degrade", f"{i}/t1.nii.gz", f"{o}/low.nii.gz", "--factors", "1", "1", "2"],
    "sr": lambda i, o: ["sr", f"{i}/t1.nii.gz", f"{o}/sr.nrrd", "--scale", "1", "1", "2", "--method", "bspline",
                        "--quiet"],
    "sr to DICOM": lambda i, o: ["sr", f"{i}/t1.nii.gz", f"{o}/series", "--scale", "1", "1", "2", "--method",
                                 "bspline", "--quiet"],
    "sr cohort": lambda i, o: ["sr", f"{i}/cohort", f"{o}/cohort-out", "--scale", "1", "1", "2", "--method",
                               "linear", "--quiet"],
    "enhance": lambda i, o: ["enhance", f"{i}/t1.nii.gz", f"{o}/enhanced.nii.gz", "--method", "gradient-diffusion",
                             "--quiet"],
    "segment": lambda i, o: ["segment", f"{i}/t1.nii.gz", f"{o}/labels.nii.gz", "--skull-stripped", "--device", "cpu",
                             "--quiet"],
    "strip": lambda i, o: ["strip", f"{i}/head.nii.gz", f"{o}/mask.nii.gz", "--quiet"],
    "report": lambda i, o: ["report", f"{i}/t1.nii.gz", "--output", f"{o}/review.html", "--quiet"],
}


def mounted_tmpfs(options: str) -> Path:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    folder = Path(tempfile.mkdtemp(prefix="medsr-mount-"))
    run = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs for the test: {run.stderr.strip()}")
    return folder


def unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], check=False)
    folder.rmdir()


@pytest.fixture(scope="module")
def inputs(t1):
    """A crop of the bundled T1, a cohort of two, and a real head with skull (711-2C at 2 mm)."""
    folder = Path(tempfile.mkdtemp(prefix="medsr-inputs-"))
    small = crop(t1, (60, 70, 60), (124, 142, 108))
    write_volume(small, folder / "t1.nii.gz")
    (folder / "cohort").mkdir()
    for name in ("a", "b"):
        write_volume(small, folder / "cohort" / f"{name}.nii.gz")
    shutil.copy(Path(__file__).parents[1] / "Data" / "711-2c-2mm" / "t1.nii.gz", folder / "head.nii.gz")
    yield folder
    shutil.rmtree(folder)


def assert_refused(code: int, out: str, err: str, output_folder: Path, before=(), cohort: bool = False) -> None:
    """Exit 2, one line on stderr (a cohort: one per volume that failed and one that sums up), no success."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert lines and all(line.startswith("medsr: error: ") for line in lines), err
    assert len(lines) == 1 or (cohort and lines[-1].startswith("medsr: error: 2 of 2 volumes failed")), err
    assert not out.strip() or "medsr: error" in out, out  # no success line
    assert sorted(p.name for p in output_folder.iterdir()) == sorted(before), list(output_folder.iterdir())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_read_only_file_system_gets_one_line(command, inputs, capsys):
    folder = mounted_tmpfs("size=1m,ro")
    try:
        capsys.readouterr()
        code = main(COMMANDS[command](inputs, folder))
        captured = capsys.readouterr()
        assert_refused(code, captured.out, captured.err, folder)
        assert "Read-only file system" in captured.err
    finally:
        unmount(folder)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_full_disk_gets_one_line_and_leaves_nothing(command, inputs, capsys):
    folder = mounted_tmpfs("size=16k")  # four pages: every output here is larger
    try:
        capsys.readouterr()
        code = main(COMMANDS[command](inputs, folder))
        captured = capsys.readouterr()
        before = ["cohort-out"] if command == "sr cohort" else []  # (the output folder itself, made empty)
        assert_refused(code, captured.out, captured.err, folder, before, cohort=command == "sr cohort")
        if command == "sr cohort":
            assert not list((folder / "cohort-out").iterdir())
    finally:
        unmount(folder)


@pytest.mark.parametrize("command", ["degrade", "sr", "report", "strip"])
def test_a_folder_without_write_permission_gets_one_line(command, inputs):
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to take the right to write anywhere away from the command")
    folder = Path(tempfile.mkdtemp(prefix="medsr-locked-"))
    try:
        folder.chmod(0o555)  # no one may write here, root included once CAP_DAC_OVERRIDE is dropped
        code = "import sys; from MedSRLib.cli.main import main; sys.exit(main(sys.argv[1:]))"
        run = subprocess.run(["setpriv", "--bounding-set=-dac_override", sys.executable, "-c", code,
                              *COMMANDS[command](inputs, folder)], capture_output=True, text=True, timeout=600)
        assert_refused(run.returncode, run.stdout, run.stderr, folder)
        assert "Permission denied" in run.stderr
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)
