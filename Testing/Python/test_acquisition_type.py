"""A 3-D acquisition, where its header says so (acquisition_type.py): read from a DICOM series' MR Acquisition Type,
a NIfTI's BIDS sidecar or MedSR's own NRRD key, recorded by `medsr degrade --sampling kspace`, and the k-space slice
profile then assumed by the methods that model the acquisition unless another is given. On crops of the bundled MNI
T1 (real tissue contrast)."""

import json

import numpy as np

from MedSRLib.acquisition_type import acquisition_type
from MedSRLib.cli.main import main
from MedSRLib.io import read_volume, write_volume
from MedSRLib.methods import get
from MedSRLib.methods.consistency import scan_profile
from MedSRLib.progress import SILENT
from MedSRLib.simulate import Acquisition, degrade
from MedSRLib.slice_thickness import IGNORED_KEY, recorded_thickness_mm, with_slice_thickness

THREE_D = Acquisition((1, 1, 4), "kspace")


def test_a_kspace_simulation_is_recorded_as_a_3d_acquisition_where_a_format_can_keep_it(tmp_path, t1_crop):
    low = degrade(t1_crop, THREE_D)
    assert acquisition_type(low) == "3D" and acquisition_type(t1_crop) is None
    assert acquisition_type(degrade(t1_crop, Acquisition((1, 1, 4), "box"))) is None  # slices: nothing to say
    write_volume(low, tmp_path / "own.nrrd")
    write_volume(low, tmp_path / "series")  # DICOM: MR Acquisition Type (0018,0023)
    assert acquisition_type(read_volume(tmp_path / "own.nrrd")) == "3D"
    assert acquisition_type(read_volume(tmp_path / "series")) == "3D"
    # a NIfTI has no place for it: dcm2niix's BIDS sidecar beside it says it
    write_volume(low, tmp_path / "scan.nii.gz")
    assert acquisition_type(read_volume(tmp_path / "scan.nii.gz")) is None
    sidecar = tmp_path / "scan.json"
    for said, read in (("3D", "3D"), ("2d", "2D"), ("", None)):
        sidecar.write_text(json.dumps({"MRAcquisitionType": said, "SliceThickness": 4}))
        assert acquisition_type(read_volume(tmp_path / "scan.nii.gz")) == read
    sidecar.write_text("{not json")  # a sidecar that cannot be read says nothing, and the scan is still read
    assert acquisition_type(read_volume(tmp_path / "scan.nii.gz")) is None
    # it describes the grid it came with: a result on a finer grid is no acquisition
    assert acquisition_type(low.with_array(t1_crop.as_float32(), t1_crop.grid)) is None


def test_a_3d_series_slice_thickness_is_left_out_and_said_why(tmp_path, t1_crop):
    """A 3-D acquisition is resolved along its coarse axis by its k-space: a Slice Thickness other than the spacing
    (a scanner's nominal partition thickness after an interpolation) is no slice to model."""
    low = degrade(t1_crop, THREE_D)
    write_volume(with_slice_thickness(low, 2, 2.0, "test"), tmp_path / "series")
    read = read_volume(tmp_path / "series")
    assert acquisition_type(read) == "3D" and recorded_thickness_mm(read, 2) is None
    assert "3-D acquisition" in read.metadata[IGNORED_KEY]
    # one as thick as the spacing (what MedSR's writer and most scanners write) is no slice either, and no note
    write_volume(low, tmp_path / "touching")
    read = read_volume(tmp_path / "touching")
    assert acquisition_type(read) == "3D" and recorded_thickness_mm(read, 2) is None and IGNORED_KEY not in read.metadata


def test_the_methods_that_learn_from_the_scan_assume_what_its_header_says(t1_crop):
    """Not given a profile, `self` on a scan whose header says 3-D learns and projects as told ``kspace`` (the same
    result, bit for bit); given one, the one given. `auto` on an isotropic 3-D scan takes `adapt`, told the same."""
    low = degrade(t1_crop, THREE_D)
    assert (scan_profile(low), scan_profile(low, "box"), scan_profile(t1_crop)) == ("kspace", "box", "box")
    header, told, box = (get("sr", "self").run(low, t1_crop.grid, SILENT, device="cpu", steps=8, **options)
                         for options in ({}, {"profile": "kspace"}, {"profile": "box"}))
    assert header.metadata["slice_profile"] == "kspace" and box.metadata["slice_profile"] == "box"
    assert np.array_equal(header.array, told.array) and not np.array_equal(header.array, box.array)
    isotropic = degrade(t1_crop, Acquisition((2, 2, 2), "kspace"))
    result = get("sr", "auto").run(isotropic, t1_crop.grid, SILENT, device="cpu")
    assert result.metadata["auto_choice"].startswith("adapt") and result.metadata["slice_profile"] == "kspace"


def test_sr_says_the_header_chose_the_profile_and_refuses_a_thickness_with_it(tmp_path, capsys, t1_crop):
    scan = tmp_path / "three-d"  # a DICOM series: MR Acquisition Type 3D, and a Slice Thickness as its spacing
    write_volume(t1_crop, tmp_path / "crop.nrrd")
    assert main(["degrade", str(tmp_path / "crop.nrrd"), str(scan), "--factors", "1", "1", "4", "--sampling", "kspace",
                 "--quiet"]) == 0
    assert "note" not in capsys.readouterr().err  # a DICOM series keeps it
    assert main(["degrade", str(tmp_path / "crop.nrrd"), str(tmp_path / "three-d.nii.gz"), "--factors", "1", "1", "4",
                 "--sampling", "kspace", "--quiet"]) == 0  # a NIfTI does not, and the user is told so
    assert "a NIfTI has no place for a 3-D acquisition's type (tell `medsr sr --slice-profile kspace`)" in capsys.readouterr().err
    assert main(["sr", str(scan), str(tmp_path / "out.nrrd"), "--scale", "1", "1", "4", "--method", "adapt",
                 "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "slice profile assumed: kspace (the header says a 3-D acquisition" in err, err
    assert "thick every" not in err, err  # its Slice Thickness describes no slices (before: "4 mm thick every 4 mm")
    # a k-space truncated axis has no slice thickness: refused before any note or work, nothing written
    crop = tmp_path / "crop.nrrd"
    for source, extra, said in ((scan, [], "the kspace profile (the header says a 3-D acquisition)"),
                                (crop, ["--method", "self", "--slice-profile", "kspace"], "--slice-profile kspace"),
                                (crop, ["--method", "lanczos", "--data-consistency", "kspace"], "--data-consistency kspace")):
        code = main(["sr", str(source), str(tmp_path / "refused.nrrd"), "--scale", "1", "1", "4",
                     "--slice-thickness", "3", "--quiet", *extra])
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and said in lines[0] and "box or gaussian" in lines[0], lines
        assert not (tmp_path / "refused.nrrd").exists()
    # and so for a segmentation that super-resolves first
    code = main(["segment", str(scan), str(tmp_path / "labels.nrrd"), "--sr", "self", "--slice-thickness", "3", "--quiet"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "the header says a 3-D acquisition" in lines[0], lines
    assert not list(tmp_path.glob("labels*"))
    # told a box, the header's profile gives way, and so a thickness is a slice's again
    assert main(["sr", str(scan), str(tmp_path / "box.nrrd"), "--scale", "1", "1", "4", "--method", "lanczos",
                 "--data-consistency", "box", "--slice-thickness", "3", "--quiet"]) == 0

