"""Exact round trips through every format, the LPS/RAS convention against nibabel, atomic writes."""

from pathlib import Path

import numpy as np
import pytest

from MedSRLib import MedSRError, read_volume, write_volume
from MedSRLib.sample_data import sample_path

from conftest import oblique

FILE_FORMATS = [".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd"]
ALL_FORMATS = FILE_FORMATS + [""]  # no ending: a DICOM series folder
# NRRD/MetaImage keep float64 (NRRD stores spacing*direction, so the last bit may move); NIfTI headers
# hold float32 geometry and DICOM decimal strings: exact to what each format can store
GEOMETRY_ATOL_MM = {".nii.gz": 2e-5, ".nii": 2e-5, "": 1e-6}


def assert_same_volume(a, b, atol_mm=0.0):
    np.testing.assert_array_equal(a.array, b.array)
    assert a.array.dtype == b.array.dtype
    assert a.grid.size == b.grid.size
    np.testing.assert_allclose(a.grid.spacing, b.grid.spacing, rtol=0, atol=atol_mm)
    np.testing.assert_allclose(a.grid.origin, b.grid.origin, rtol=0, atol=atol_mm)
    np.testing.assert_allclose(a.grid.direction, b.grid.direction, rtol=0, atol=max(atol_mm, 0.0))


@pytest.mark.parametrize("ending", ALL_FORMATS)
def test_round_trip_of_the_real_sample_is_exact(tmp_path, t1, ending):
    path = tmp_path / f"t1{ending}"
    write_volume(t1, path)
    back = read_volume(path)
    assert_same_volume(t1, back, atol_mm=0 if ending else 1e-9)
    assert back.modality == "MR"


@pytest.mark.parametrize("ending", ALL_FORMATS)
def test_oblique_int16_hounsfield_round_trip(tmp_path, t1_crop, ending):
    # Hounsfield-like int16 values made from the real crop: air -1024 up to bone-like 2000
    hu = (t1_crop.array.astype(np.int16) * 12 - 1024).astype(np.int16)
    hu[:3] = -1024  # a slab of air, as at the edge of any CT field of view
    ct = oblique(t1_crop).with_array(hu)
    ct = ct.__class__(ct.array, ct.grid, "CT")
    path = tmp_path / f"ct{ending}"
    write_volume(ct, path)
    back = read_volume(path)
    assert_same_volume(ct, back, atol_mm=GEOMETRY_ATOL_MM.get(ending, 1e-12))
    assert back.array.dtype == np.int16 and back.array.min() == -1024
    assert back.modality == "CT"


def test_nifti_orientation_agrees_with_nibabel_ras(t1):
    nibabel = pytest.importorskip("nibabel")
    affine = nibabel.load(str(sample_path("t1"))).affine  # nibabel: voxel -> RAS
    np.testing.assert_allclose(t1.grid.ijk_to_ras(), affine, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(nibabel.load(str(sample_path("t1"))).dataobj), t1.array)


def test_oblique_nifti_written_by_us_reads_in_nibabel_as_ras(tmp_path, t1_crop):
    nibabel = pytest.importorskip("nibabel")
    volume = oblique(t1_crop)
    write_volume(volume, tmp_path / "o.nii.gz")
    np.testing.assert_allclose(nibabel.load(str(tmp_path / "o.nii.gz")).affine, volume.grid.ijk_to_ras(), atol=1e-5)


def test_existing_output_is_not_overwritten_without_permission(tmp_path, t1_crop):
    path = tmp_path / "x.nrrd"
    path.write_bytes(b"precious")
    with pytest.raises(MedSRError, match="--overwrite"):
        write_volume(t1_crop, path)
    assert path.read_bytes() == b"precious"
    write_volume(t1_crop, path, overwrite=True)
    assert_same_volume(read_volume(path), t1_crop)


def test_detached_header_does_not_clobber_someone_elses_data_file(tmp_path, t1_crop):
    (tmp_path / "x.raw").write_bytes(b"precious")
    with pytest.raises(MedSRError, match="data file"):
        write_volume(t1_crop, tmp_path / "x.mhd")
    assert (tmp_path / "x.raw").read_bytes() == b"precious"
    assert not (tmp_path / "x.mhd").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.raw"]  # no staging folder left behind


def test_output_equal_to_input_is_refused(tmp_path, t1_crop):
    path = tmp_path / "x.nii.gz"
    write_volume(t1_crop, path)
    with pytest.raises(MedSRError, match="is the input"):
        write_volume(t1_crop, path, overwrite=True, inputs=[path])


def test_unknown_format_is_refused(tmp_path, t1_crop):
    with pytest.raises(MedSRError, match="unknown format"):
        write_volume(t1_crop, tmp_path / "x.jpg")
    assert not list(Path(tmp_path).iterdir())


@pytest.mark.parametrize("modality", ["MR", "CT"])
def test_a_real_valued_volume_goes_to_dicom_and_back_within_half_a_quantum(tmp_path, t1_crop, modality):
    """A super-resolved result is float32: DICOM stores it as int16 with a rescale slope and intercept, which GDCM
    took only when ITK made the int16 itself (before, every float output to a DICOM folder failed)."""
    values = t1_crop.as_float32() * 3.7 - 11.3  # fractional slope and intercept needed
    volume = t1_crop.__class__(values, oblique(t1_crop).grid, modality)
    write_volume(volume, tmp_path / "series")
    back = read_volume(tmp_path / "series")
    quantum = float(np.ptp(values)) / 65000.0
    assert np.abs(back.array - values).max() <= 0.51 * quantum
    assert back.modality == modality
    np.testing.assert_allclose(back.grid.origin, volume.grid.origin, atol=1e-5)
