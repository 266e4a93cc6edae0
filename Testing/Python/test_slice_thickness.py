"""Slices thinner or thicker than their spacing (slice_thickness.py): read from a file's header, recorded by
`medsr degrade --gap`, given with `medsr sr --slice-thickness`, and used by every method that models the scan's
acquisition. On crops of the bundled MNI T1 (real tissue contrast)."""

import numpy as np
import pytest

from MedSRLib.cli.main import main
from MedSRLib.errors import MedSRError
from MedSRLib.io import read_volume, write_volume
from MedSRLib.methods import get
from MedSRLib.methods.consistency import project
from MedSRLib.methods.consistent_interpolation import consistent_interpolation
from MedSRLib.metrics import image_metrics
from MedSRLib.progress import SILENT
from MedSRLib.simulate import Acquisition, add_noise, degrade
from MedSRLib.slice_thickness import (IGNORED_KEY, recorded_thickness_mm, thickness_fraction, with_slice_thickness,
                                      without_recorded_thickness)

GAPPED = Acquisition((1, 1, 5), "box", gap_mm=1.5)  # 3.5 mm slices every 5 mm, as a clinical 2-D series with gaps


def _consistency_residual(restored, scan, acquisition) -> float:
    """RMS of ``restored`` acquired again as the scan truly was, minus the scan, in % of the scan's range."""
    again = degrade(restored, acquisition).as_float32()
    return 100 * float(np.sqrt(np.mean((again - scan.as_float32()) ** 2))) / float(np.ptp(scan.as_float32()))


def _psnr(truth, restored) -> float:
    return image_metrics(truth.as_float32(), restored.as_float32())["whole"]["psnr"]


def test_a_gapped_acquisition_records_its_thickness_and_a_new_grid_drops_it(t1_crop):
    low = degrade(t1_crop, GAPPED)
    assert recorded_thickness_mm(low, 2) == pytest.approx(3.5)
    assert recorded_thickness_mm(low, 0) is None and thickness_fraction(low, 0) == 1.0
    assert thickness_fraction(low, 2) == pytest.approx(0.7)
    assert recorded_thickness_mm(degrade(t1_crop, Acquisition((1, 1, 5), "box")), 2) is None  # touching: nothing to say
    overlapping = degrade(t1_crop, Acquisition((1, 1, 2), "gaussian", gap_mm=-2.0))  # a CT's 4 mm every 2 mm
    assert thickness_fraction(overlapping, 2) == pytest.approx(2.0)
    finer = low.with_array(np.zeros(t1_crop.grid.size, np.float32), t1_crop.grid)  # e.g. a super-resolved result
    assert recorded_thickness_mm(finer, 2) is None
    with pytest.raises(MedSRError, match="overlap"):
        degrade(t1_crop, Acquisition((1, 1, 2), "box", gap_mm=-9.0))
    with pytest.raises(MedSRError, match="slice spacings"):
        with_slice_thickness(low, 2, 40.0, "--slice-thickness")


def test_a_nrrd_headers_thicknesses_and_a_dicom_series_slice_thickness_are_read(tmp_path, t1_crop):
    low = degrade(t1_crop, GAPPED)
    # a NRRD written by another tool: the standard `thicknesses` field (SimpleITK does not pass its values on)
    array = np.ascontiguousarray(low.as_float32().transpose(2, 1, 0))
    header = ("NRRD0004\ntype: float\ndimension: 3\nspace: left-posterior-superior\n"
              f"sizes: {' '.join(str(n) for n in low.grid.size)}\n"
              "space directions: (1,0,0) (0,1,0) (0,0,5)\nthicknesses: NaN NaN 3.5\nkinds: domain domain domain\n"
              "endian: little\nencoding: raw\nspace origin: (0,0,0)\n\n")
    path = tmp_path / "other-tool.nrrd"
    path.write_bytes(header.encode() + array.tobytes())
    assert recorded_thickness_mm(read_volume(path), 2) == pytest.approx(3.5)
    # a DICOM series: Slice Thickness (0018,0050), which MedSR's writer fills with the recorded thickness
    write_volume(low, tmp_path / "series")
    assert recorded_thickness_mm(read_volume(tmp_path / "series"), 2) == pytest.approx(3.5)
    # MedSR's own NRRD keeps it with the other metadata
    write_volume(low, tmp_path / "own.nrrd")
    assert recorded_thickness_mm(read_volume(tmp_path / "own.nrrd"), 2) == pytest.approx(3.5)
    # a header's figure out of range is left out, and the reason kept for the note `medsr sr` prints
    path.write_bytes(header.replace("NaN NaN 3.5", "NaN NaN 80").encode() + array.tobytes())
    odd = read_volume(path)
    assert recorded_thickness_mm(odd, 2) is None and "slice spacings" in odd.metadata[IGNORED_KEY]
    # the reason goes with the grid it was said of: an output on a new grid does not carry it on
    finer = odd.grid.with_spacing((1.0, 1.0, 1.0))
    assert IGNORED_KEY not in odd.with_array(np.zeros(finer.size, np.float32), finer).metadata


def test_a_niftis_bids_sidecar_gives_the_slice_thickness_along_its_slice_axis(tmp_path, t1_crop):
    """dcm2niix keeps a series' Slice Thickness in the sidecar beside the NIfTI and its slices along k; a file
    reoriented since, whose k is no longer the coarsest axis, has its figure left out and said why."""
    import json

    import SimpleITK as sitk

    from MedSRLib.io.convert import sitk_from_volume, volume_from_sitk

    low = without_recorded_thickness(degrade(t1_crop, GAPPED))  # what a NIfTI alone keeps
    write_volume(low, tmp_path / "scan.nii.gz")
    (tmp_path / "scan.json").write_text(json.dumps({"SliceThickness": 3.5, "MRAcquisitionType": "2D"}))
    read = read_volume(tmp_path / "scan.nii.gz")
    assert recorded_thickness_mm(read, 2) == pytest.approx(3.5) and IGNORED_KEY not in read.metadata
    (tmp_path / "scan.json").write_text(json.dumps({"SliceThickness": 5}))  # touching: nothing to record
    read = read_volume(tmp_path / "scan.nii.gz")
    assert recorded_thickness_mm(read, 2) is None and IGNORED_KEY not in read.metadata
    reoriented = volume_from_sitk(sitk.PermuteAxes(sitk_from_volume(low), [2, 0, 1]))  # the 5 mm axis now first
    write_volume(reoriented, tmp_path / "reoriented.nii.gz")
    (tmp_path / "reoriented.json").write_text(json.dumps({"SliceThickness": 3.5}))
    read = read_volume(tmp_path / "reoriented.nii.gz")
    assert all(recorded_thickness_mm(read, axis) is None for axis in range(3))
    assert "reoriented since?" in read.metadata[IGNORED_KEY]


def test_the_projection_models_the_recorded_thickness(t1_crop):
    """Told its slices' thickness, the projection reproduces the gapped scan as it was acquired (exactly; down to the
    noise the scan shows: the uint8 template's quantisation) and the result comes closer to the truth; taking the
    slices to touch, it imposes a profile the scan never had."""
    truth = t1_crop.with_array(t1_crop.as_float32())
    low = degrade(truth, GAPPED)
    interpolated = get("sr", "lanczos").run(low, truth.grid, SILENT)
    assert _consistency_residual(project(interpolated, low, "box"), low, GAPPED) < 1e-3
    assert _consistency_residual(project(interpolated, without_recorded_thickness(low), "box"), low, GAPPED) > 0.1
    run = consistent_interpolation(get("sr", "lanczos").run, "box")
    told, untold = run(low, truth.grid, SILENT), run(without_recorded_thickness(low), truth.grid, SILENT)
    assert _consistency_residual(told, low, GAPPED) < 0.5 * _consistency_residual(untold, low, GAPPED)
    assert _psnr(truth, told) > _psnr(truth, untold) + 0.05


def test_self_learns_and_projects_with_the_recorded_thickness(t1_crop):
    """(Untold, `self`'s result re-acquired as the scan was is 0.66 % of its range away from it.)"""
    truth = t1_crop.with_array(t1_crop.as_float32())
    low = degrade(truth, GAPPED)
    restored = get("sr", "self").run(low, truth.grid, device="cpu", steps=30)
    assert _consistency_residual(restored, low, GAPPED) < 0.4
    assert "slice_thickness_mm_k" not in restored.metadata  # the result's slices are its voxels


def test_sr_says_which_thickness_it_took_and_refuses_one_where_it_means_nothing(tmp_path, capsys, t1_crop):
    low = tmp_path / "gapped.nrrd"
    write_volume(t1_crop, tmp_path / "crop.nii.gz")
    assert main(["degrade", str(tmp_path / "crop.nii.gz"), str(low), "--factors", "1", "1", "5", "--gap", "1.5",
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["sr", str(low), str(tmp_path / "a.nii.gz"), "--spacing", "1", "1", "1", "--method", "lanczos",
                 "--data-consistency", "box", "--quiet"]) == 0
    assert "3.5 mm thick every 5 mm (gaps of 1.5 mm) (from the file's header" in capsys.readouterr().err
    assert main(["sr", str(low), str(tmp_path / "b.nii.gz"), "--spacing", "1", "1", "1", "--method", "lanczos",
                 "--data-consistency", "box", "--slice-thickness", "6", "--quiet"]) == 0
    assert "6 mm thick every 5 mm (overlapping by 1 mm) (as given)" in capsys.readouterr().err
    for bad, message in ((["--method", "bspline", "--slice-thickness", "3"], "model the scan's acquisition"),
                         (["--method", "lanczos", "--data-consistency", "box", "--slice-thickness", "40"], "slice spacings"),
                         (["--method", "lanczos", "--data-consistency", "box", "--slice-thickness", "-1"], "positive")):
        assert main(["sr", str(low), str(tmp_path / "c.nii.gz"), "--spacing", "1", "1", "1", "--quiet", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        assert not (tmp_path / "c.nii.gz").exists()


def test_segment_passes_a_slice_thickness_to_its_super_resolution_and_refuses_one_without_it(tmp_path, capsys, t1_crop):
    low = tmp_path / "gapped.nrrd"
    write_volume(degrade(t1_crop, GAPPED), low)
    for bad, message in (([], "no use without it"), (["--sr", "lanczos"], "model the scan's acquisition"),
                         (["--sr", "self"], "slice spacings")):
        assert main(["segment", str(low), str(tmp_path / "labels.nrrd"), "--slice-thickness", "40", "--quiet",
                     *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        assert not list(tmp_path.glob("labels*"))


def test_with_noise_the_projection_onto_overlapping_slices_does_not_amplify_it(t1_crop):
    """Overlapping slices (4 mm every 2 mm, a CT reconstructed at half its thickness) measure some patterns almost not
    at all (singular values near 0): an exact projection, or a Wiener gain whose power is read on a few voxels, brings
    those back multiplied by 1/s, noise with them. Pooled over the residual there (WEAK_SINGULAR_SHARE), the gain is ~0
    for what the noise buries. Measured on this crop with 1 % Rician noise, the sinc made consistent inside it over
    B-spline: exact -5.11 dB, the gain's power read locally everywhere (before 2026-12-07) +0.57, pooled where weak
    +1.71 (on the whole held-out head the local gain gave -5.81: Docs/super-resolution.md)."""
    truth = t1_crop.with_array(t1_crop.as_float32())
    overlapping = Acquisition((1, 1, 2), "box", gap_mm=-2.0)
    clean = degrade(truth, overlapping)
    low = clean.with_array(add_noise(clean.as_float32(), "rician", 0.01, np.random.default_rng(0)))
    sigma = float(np.std(low.as_float32() - clean.as_float32()))
    interpolated = get("sr", "lanczos").run(low, truth.grid, SILENT)
    bspline = _psnr(truth, get("sr", "bspline").run(low, truth.grid, SILENT))
    exact = _psnr(truth, project(interpolated, low, "box")) - bspline
    weighed = _psnr(truth, project(interpolated, low, "box", noise_sigma=sigma)) - bspline
    assert exact < -4.0 and weighed > 1.2, (exact, weighed)
