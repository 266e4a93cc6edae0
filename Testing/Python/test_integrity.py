"""Cut-short and damaged volume files are refused with one line, never read as a volume padded with zeros."""

import gzip

import numpy as np
import pytest

from MedSRLib import MedSRError, read_volume
from MedSRLib.cli.main import main
from MedSRLib.io import write_volume


@pytest.fixture()
def saved(tmp_path, t1_crop):
    files = {}
    for name in ("t1.nii.gz", "t1.nii", "t1.nrrd"):
        write_volume(t1_crop, tmp_path / name)
        files[name] = tmp_path / name
    return files


def _cut(path, keep: float, to):
    data = path.read_bytes()
    to.write_bytes(data[: int(len(data) * keep)])
    return to


@pytest.mark.parametrize("name", ["t1.nii.gz", "t1.nii", "t1.nrrd"])
def test_a_file_cut_short_is_refused(tmp_path, saved, name):
    cut = _cut(saved[name], 0.6, tmp_path / ("cut-" + name))
    with pytest.raises(MedSRError, match="truncated"):
        read_volume(cut)


def test_a_gzip_with_a_bad_checksum_is_refused(tmp_path, saved):
    data = bytearray(saved["t1.nii.gz"].read_bytes())
    data[-6] ^= 0xFF  # inside the CRC-32 trailer
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(MedSRError, match="damaged"):
        read_volume(bad)


def test_a_header_that_promises_more_voxels_than_the_file_holds(tmp_path, saved):
    text = saved["t1.nrrd"].read_bytes()
    header, _, data = text.partition(b"\n\n")
    sizes = [line for line in header.split(b"\n") if line.startswith(b"sizes:")][0]
    bigger = header.replace(sizes, b"sizes: 64 72 90")
    liar = tmp_path / "liar.nrrd"
    liar.write_bytes(bigger + b"\n\n" + data)
    with pytest.raises(MedSRError, match="truncated"):
        read_volume(liar)


def test_whole_files_still_read_and_the_cli_refuses_cut_ones_with_one_line(tmp_path, saved, capsys, t1_crop):
    for path in saved.values():
        assert np.array_equal(read_volume(path).array, t1_crop.array)
    gz = tmp_path / "two-members.nii.gz"  # concatenated gzip members are one valid stream
    raw = gzip.decompress(saved["t1.nii.gz"].read_bytes())
    gz.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))
    assert np.array_equal(read_volume(gz).array, t1_crop.array)
    cut = _cut(saved["t1.nii.gz"], 0.5, tmp_path / "cut.nii.gz")
    out = tmp_path / "out.nii.gz"
    capsys.readouterr()
    assert main(["sr", str(cut), str(out), "--scale", "2", "--method", "linear", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "truncated" in err[0]
    assert not out.exists()


def test_a_write_that_runs_out_of_space_leaves_nothing_and_says_so(tmp_path, saved):
    """The process may write at most 64 kB per file (RLIMIT_FSIZE, SIGXFSZ ignored: writes past it fail with EFBIG,
    as on a full disk); the 1 MB result cannot be written and nothing is left at the output path."""
    import subprocess
    import sys

    out = tmp_path / "out.nii.gz"
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)); "
            "from MedSRLib.cli.main import main; sys.exit(main(sys.argv[1:]))")
    run = subprocess.run([sys.executable, "-c", code, "sr", str(saved["t1.nii"]), str(out), "--scale", "2",
                          "--method", "linear", "--quiet"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("medsr")]
    assert len(lines) == 1 and lines[0].startswith("medsr: error: cannot write"), run.stderr
    assert "wrote" not in run.stdout and str(out) not in run.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(saved)  # no output, no staging folder


def test_metaimage_files_cut_short_are_refused(tmp_path, t1_crop):
    """MetaImage: .mha with its voxels attached (zlib-compressed as MedSR writes it, or raw) and .mhd beside its
    .raw data file."""
    import SimpleITK as sitk

    from MedSRLib.io import sitk_from_volume

    write_volume(t1_crop, tmp_path / "packed.mha")
    sitk.WriteImage(sitk_from_volume(t1_crop), str(tmp_path / "plain.mha"), useCompression=False)
    write_volume(t1_crop, tmp_path / "split.mhd")
    for name in ("packed.mha", "plain.mha", "split.mhd"):
        assert np.array_equal(read_volume(tmp_path / name).array, t1_crop.array)  # whole files read as before
    cut = {"packed.mha": _cut(tmp_path / "packed.mha", 0.6, tmp_path / "cut-packed.mha"),
           "plain.mha": _cut(tmp_path / "plain.mha", 0.6, tmp_path / "cut-plain.mha")}
    raw = next(tmp_path.glob("split.*raw"))
    raw.write_bytes(raw.read_bytes()[: raw.stat().st_size // 2])
    for path in (*cut.values(), tmp_path / "split.mhd"):
        with pytest.raises(MedSRError, match="truncated|damaged"):
            read_volume(path)
