"""The MedSR module's logic against a real MRML scene and a real child process, on the bundled MNI T1."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest

import slicer_support as support
from slicer_support import SceneLogics, add_volume, assert_unchanged, current_scene, ijk_to_ras, snapshot

from MedSRLib import Grid
from MedSRLogicLib import MedSRLogic, ProcessingCancelled, ProcessingError, Request, segmentLabels
from MedSRLogicLib import nodes
from MedSRLogicLib.job import inPanelTerms
from MedSRLogicLib.process import StderrParser, parse_progress


@pytest.fixture(scope="module")
def t1_block():
    """(k, j, i) array and IJK-to-RAS of a 48^3 crop of the real T1, read with Slicer's reader."""
    return support.crop(*support.read_sample("t1"))


@pytest.fixture()
def logics():
    logics = SceneLogics()
    with current_scene(logics):
        yield logics


@pytest.fixture()
def scratch(tmp_path):
    folder = tmp_path / "scratch"
    folder.mkdir()
    return folder


@pytest.fixture()
def logic(logics, scratch):
    return MedSRLogic(scene=logics.scene, python=[sys.executable], temporaryFolder=str(scratch))


@pytest.fixture()
def t1(logics, t1_block):
    return add_volume(logics.scene, *t1_block, "T1")


@pytest.fixture()
def t1_oblique(logics, t1_block):
    return add_volume(logics.scene, t1_block[0], support.oblique_matrix(), "T1 oblique")


def _expected(node, spacing=None, scale=None) -> Grid:
    grid = Grid.from_ijk_to_ras(ijk_to_ras(node), nodes.dimensions(node))
    return grid.with_spacing(spacing) if spacing is not None else grid.scaled(scale)


def _assert_on_grid(node, grid: Grid) -> None:
    assert nodes.dimensions(node) == grid.size
    np.testing.assert_allclose(ijk_to_ras(node), grid.ijk_to_ras(), rtol=0, atol=1e-9)


# --- super-resolution: exact geometry, input untouched -------------------------------------------------------------
def test_super_resolution_is_a_new_node_on_the_contract_grid(logic, logics, t1, scratch):
    before, count = snapshot(t1), logics.scene.GetNumberOfNodes()
    result = logic.superResolve(t1, spacing=(0.5, 0.5, 2.0), method="bspline")

    assert result.GetName() == "T1 SR bspline 0.5x0.5x2mm"
    assert result.GetID() != t1.GetID() and result.GetScene() is logics.scene
    _assert_on_grid(result, _expected(t1, spacing=(0.5, 0.5, 2.0)))
    assert_unchanged(t1, before)
    assert logics.scene.GetNumberOfNodes() == count + 2  # the volume and its display node
    assert result.GetDisplayNode() is not None
    # the same tissue, finer: interpolation keeps the mean within a few percent
    source, restored = slicer_array(t1).astype(float), slicer_array(result)
    assert restored.shape == (24, 96, 96)
    assert abs(restored.mean() - source.mean()) < 0.03 * source.mean()
    assert list(scratch.iterdir()) == []


def test_oblique_volume_keeps_its_exact_geometry(logic, t1_oblique):
    before = snapshot(t1_oblique)
    result = logic.run(t1_oblique, Request(method="linear", scale=(1.0, 2.0, 3.0)))
    assert result.node.GetName() == "T1 oblique SR linear 0.9x0.55x0.4333mm"
    _assert_on_grid(result.node, _expected(t1_oblique, scale=(1.0, 2.0, 3.0)))
    assert_unchanged(t1_oblique, before)


def test_data_consistency_is_applied_and_its_residual_reported(logic, t1_oblique):
    result = logic.run(t1_oblique, Request(method="linear", scale=(1.0, 1.0, 3.0), dataConsistency=True))
    _assert_on_grid(result.node, _expected(t1_oblique, scale=(1.0, 1.0, 3.0)))
    note = next(note for note in result.notes if note.startswith("data consistency (box profile"))
    before, after = (float(v) for v in note.split("RMS residual ")[1].split(" -> "))
    sigma = float(note.split("sigma ")[1].split(")")[0])  # the scan's noise, which the projection does not fit
    assert after <= sigma + 1e-3 * before and after < before


def test_the_slice_profile_reaches_the_command_as_each_method_takes_it():
    """The panel's slice profile: `--slice-profile` for the methods that learn from the scan; the profile an
    interpolation is projected with; refused for a pretrained network, which assumes its own."""
    from MedSRLogicLib.logic import _capabilities, _info

    from MedSRLib.methods import get

    def arguments(name, **request):
        return _capabilities(_info(get("sr", name)), Request(method=name, scale=(1.0, 1.0, 3.0), **request))

    assert arguments("self", sliceProfile="box") == ["--data-consistency", "auto", "--slice-profile", "box"]
    assert arguments("auto", sliceProfile="gaussian", dataConsistency=False)[-2:] == ["--slice-profile", "gaussian"]
    assert arguments("lanczos", sliceProfile="gaussian") == ["--data-consistency", "gaussian"]
    assert arguments("adapt", sliceProfile="kspace")[-2:] == ["--slice-profile", "kspace"]  # a 3-D acquisition's
    assert arguments("lanczos") == ["--data-consistency", "box"] and "--slice-profile" not in arguments("self")
    with pytest.raises(ProcessingError, match="assumes its own slice profile"):
        arguments("cnn", sliceProfile="box")
    with pytest.raises(ProcessingError, match="assumes its own slice profile"):
        arguments("lanczos", sliceProfile="box", dataConsistency=False)


def test_the_slice_thickness_reaches_the_methods_that_model_the_acquisition(logic, t1_oblique):
    """The panel's slice thickness: `--slice-thickness` for the learned methods and an interpolation made
    consistent, which the run then reports; refused where nothing models the acquisition."""
    from MedSRLogicLib.logic import _capabilities, _info

    from MedSRLib.methods import get

    def arguments(name, **request):
        return _capabilities(_info(get("sr", name)), Request(method=name, scale=(1.0, 1.0, 3.0), **request))

    assert arguments("self", sliceThicknessMm=3.5)[-2:] == ["--slice-thickness", "3.5"]
    assert arguments("lanczos", sliceThicknessMm=3.5) == ["--data-consistency", "box", "--slice-thickness", "3.5"]
    with pytest.raises(ProcessingError, match="does not model the scan's acquisition"):
        arguments("bspline", sliceThicknessMm=3.5, dataConsistency=False)
    with pytest.raises(ProcessingError, match="segmentation uses it when it super-resolves first"):
        logic.run(t1_oblique, Request(task="segment", method="brain-tissue", sliceThicknessMm=3.5))
    plan = logic._plan(t1_oblique, Request(task="segment", method="brain-tissue", superResolveFirst=True,
                                           sliceThicknessMm=3.5), None)
    assert plan.steps[0].arguments[-3:] == ["--sr", "--slice-thickness", "3.5"]
    spacing = float(t1_oblique.GetSpacing()[2])
    result = logic.run(t1_oblique, Request(method="lanczos", scale=(1.0, 1.0, 2.0), sliceThicknessMm=0.75 * spacing))
    assert any(f"{0.75 * spacing:.4g} mm thick every {spacing:.4g} mm (gaps of" in note and "(as given)" in note
               for note in result.notes), result.notes


def test_a_volume_loaded_from_dicom_takes_its_slice_thickness_from_the_dicom_database(logic, t1_oblique):
    """The exported file alone would lose the series' Slice Thickness: it goes along in the NRRD header, and a
    thickness the user gives still wins."""
    spacing = float(t1_oblique.GetSpacing()[2])
    t1_oblique.SetAttribute("DICOM.instanceUIDs", "1.2.3.1 1.2.3.2")
    request = Request(method="lanczos", scale=(1.0, 1.0, 2.0))
    with support.dicom_database({"1.2.3.1": {nodes.DICOM_SLICE_THICKNESS: f"{0.75 * spacing:.6g}"}}):
        assert nodes.dicomSliceThicknessMm(t1_oblique) == pytest.approx(0.75 * spacing)
        notes = logic.run(t1_oblique, request).notes
        assert any(f"{0.75 * spacing:.4g} mm thick every {spacing:.4g} mm (gaps of" in note
                   and "from the file's header; \"Slice thickness (mm)\" to change" in note for note in notes), notes
        assert not any("--" in note for note in notes), notes  # the panel's words, not the command line's
        told = logic.run(t1_oblique, Request(method="lanczos", scale=(1.0, 1.0, 2.0), sliceThicknessMm=1.5 * spacing))
        assert any(f"{1.5 * spacing:.4g} mm thick" in note and "(as given)" in note for note in told.notes), told.notes
    with support.dicom_database({}):  # a series the database no longer holds: the slices touch, as before
        assert nodes.dicomSliceThicknessMm(t1_oblique) is None
        assert not any("mm thick every" in note for note in logic.run(t1_oblique, request).notes)


def test_a_volume_loaded_from_a_3d_dicom_series_is_taken_with_its_kspace_profile(logic, t1_oblique, tmp_path):
    """The series' MR Acquisition Type goes along in the NRRD header MedSRLib reads (the learned methods then assume
    the k-space profile), and an interpolation made consistent is projected with it; a 2-D series or none: a box."""
    from MedSRLib.acquisition_type import acquisition_type
    from MedSRLib.io import read_volume

    t1_oblique.SetAttribute("DICOM.instanceUIDs", "1.2.3.1")
    request = Request(method="lanczos", scale=(1.0, 1.0, 2.0))
    for said, read, projected in (("3D", "3D", "kspace"), ("2D", "2D", "box"), ("", None, "box")):
        with support.dicom_database({"1.2.3.1": {nodes.DICOM_MR_ACQUISITION_TYPE: said,
                                                 nodes.DICOM_SLICE_THICKNESS: f"{t1_oblique.GetSpacing()[2]:.6g}"}}):
            assert nodes.dicomAcquisitionType(t1_oblique) == read
            written = nodes.writeVolumeNode(t1_oblique, tmp_path / f"input-{said or 'none'}.nrrd")
            volume = read_volume(written)
            assert acquisition_type(volume) == read and volume.grid.matches(nodes.gridOf(t1_oblique))
            plan = logic._plan(t1_oblique, request, None)
            arguments = plan.steps[-1].arguments
            assert arguments[arguments.index("--data-consistency") + 1] == projected
            told = logic._plan(t1_oblique, Request(method="lanczos", scale=(1.0, 1.0, 2.0), sliceProfile="gaussian"), None)
            assert told.steps[-1].arguments[told.steps[-1].arguments.index("--data-consistency") + 1] == "gaussian"
    with support.dicom_database({"1.2.3.1": {nodes.DICOM_MR_ACQUISITION_TYPE: "3D"}}):
        notes = logic.run(t1_oblique, request).notes
    assert ("data consistency with the k-space profile: the volume's DICOM series or BIDS sidecar says a 3-D "
            "acquisition") in notes, notes


def test_a_volume_loaded_from_a_nifti_takes_its_bids_sidecar_along(logic, logics, tmp_path):
    """A NIfTI loaded with dcm2niix's sidecar beside it: its MR Acquisition Type and Slice Thickness go along in the
    NRRD MedSRLib reads, as a DICOM series' do; the thickness only while k is still the coarsest axis."""
    from conftest import crop
    from MedSRLib.acquisition_type import acquisition_type
    from MedSRLib.io import read_volume, write_volume
    from MedSRLib.simulate import Acquisition, degrade
    from MedSRLib.sample_data import sample_path
    from MedSRLib.slice_thickness import recorded_thickness_mm

    write_volume(degrade(crop(read_volume(sample_path()), (60, 70, 60), (124, 142, 120)), Acquisition((1, 1, 5), "box")), tmp_path / "scan.nii.gz")
    node = nodes.readVolumeFile(tmp_path / "scan.nii.gz")
    logics.scene.AddNode(node)
    storage = support.slicer.vtkMRMLVolumeArchetypeStorageNode()  # as Slicer's loadVolume leaves it
    storage.SetFileName(str(tmp_path / "scan.nii.gz"))
    logics.scene.AddNode(storage)
    node.SetAndObserveStorageNodeID(storage.GetID())
    for fields, kind, thickness, projected in (({"MRAcquisitionType": "2D", "SliceThickness": 3.5}, "2D", 3.5, "box"),
                                               ({"MRAcquisitionType": "3D"}, "3D", None, "kspace"),
                                               ({}, None, None, "box")):
        (tmp_path / "scan.json").write_text(json.dumps(fields))
        volume = read_volume(nodes.writeVolumeNode(node, tmp_path / "input.nrrd"))
        assert acquisition_type(volume) == kind
        assert recorded_thickness_mm(volume, 2) == (None if thickness is None else pytest.approx(thickness))
        arguments = logic._plan(node, Request(method="lanczos", scale=(1.0, 1.0, 2.0)), None).steps[-1].arguments
        assert arguments[arguments.index("--data-consistency") + 1] == projected


def test_a_segmentation_that_super_resolves_first_is_told_the_slice_profile(logic, t1_oblique):
    plan = logic._plan(t1_oblique, Request(task="segment", method="brain-tissue", superResolveFirst=True,
                                           sliceProfile="box"), None)
    assert plan.steps[0].arguments[-3:] == ["--sr", "--slice-profile", "box"]
    with pytest.raises(ProcessingError, match="segmentation uses it when it super-resolves first"):
        logic.run(t1_oblique, Request(task="segment", method="brain-tissue", sliceProfile="box"))


def test_spacing_that_does_not_tile_is_adjusted_and_said(logic, t1_oblique):
    result = logic.run(t1_oblique, Request(method="nearest", spacing=(0.7, 0.7, 0.7)))
    expected = _expected(t1_oblique, spacing=(0.7, 0.7, 0.7))
    _assert_on_grid(result.node, expected)
    assert any("spacing adjusted" in note for note in result.notes)
    assert result.node.GetName() == "T1 oblique SR nearest " + "x".join(f"{s:.4g}" for s in expected.spacing) + "mm"


def test_label_map_input_gives_a_label_map(logic, logics, t1_block):
    labels = add_volume(logics.scene, (t1_block[0] > 100).astype(np.uint8), t1_block[1], "mask", "vtkMRMLLabelMapVolumeNode")
    result = logic.superResolve(labels, scale=2, method="nearest")
    assert result.IsA("vtkMRMLLabelMapVolumeNode")
    assert set(np.unique(slicer_array(result))) == {0, 1}


# --- enhancement, chain, metrics -------------------------------------------------------------------------------------
def test_enhancement_with_reference_reports_metrics(logic, t1):
    progress = []
    job = logic.start(t1, Request(task="enhance", steps=("curvature-flow",)), referenceNode=t1,
                      onProgress=lambda fraction, text: progress.append((fraction, text)))
    result = job.wait(timeout=120)
    assert result.node.GetName() == "T1 enhanced curvature-flow"
    _assert_on_grid(result.node, Grid.from_ijk_to_ras(ijk_to_ras(t1), nodes.dimensions(t1)))
    assert result.metrics["kind"] == "image"
    assert 20 < result.metrics["whole"]["psnr"] < 80 and 0.5 < result.metrics["whole"]["ssim"] <= 1
    assert json.loads(result.node.GetAttribute("MedSR.metrics")) == result.metrics
    fractions = [fraction for fraction, _ in progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(text.startswith("Enhancement (curvature-flow): ") for _, text in progress)  # the child's own words
    assert "PSNR" in result.describe()


def test_chain_is_one_new_node(logic, logics, t1):
    count = logics.scene.GetNumberOfNodes()
    result = logic.chain(t1, ["curvature-flow"], scale=(1, 1, 2), method="linear")
    assert result.GetName() == "T1 enhanced curvature-flow SR linear 1x1x0.5mm"
    _assert_on_grid(result, _expected(t1, scale=(1, 1, 2)))
    assert logics.scene.GetNumberOfNodes() == count + 2


def test_reference_on_another_grid_is_refused_before_anything_runs(logic, logics, t1, scratch):
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(ProcessingError, match="not on the result's grid"):
        logic.superResolve(t1, spacing=(0.5, 0.5, 0.5), referenceNode=t1)
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []


# --- placement ---------------------------------------------------------------------------------------------------------
def test_result_goes_beside_the_input(logic, logics, t1):
    hierarchy = logics.scene.GetSubjectHierarchyNode()
    study = hierarchy.CreateFolderItem(hierarchy.GetSceneItemID(), "Study 1")
    hierarchy.CreateItem(study, t1)
    transform = logics.scene.AddNewNodeByClass("vtkMRMLLinearTransformNode", "head position")
    t1.SetAndObserveTransformNodeID(transform.GetID())

    result = logic.superResolve(t1, scale=2, method="nearest")
    assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(result)) == study
    assert result.GetTransformNodeID() == transform.GetID()


def test_without_a_hierarchy_item_the_result_is_still_added(logic, logics, t1):
    assert not logics.scene.GetSubjectHierarchyNode().GetItemByDataNode(t1)
    assert logic.superResolve(t1, scale=2, method="nearest").GetScene() is logics.scene


# --- cancel and failure leave the scene as it was ---------------------------------------------------------------------
def test_cancel_kills_the_child_and_adds_nothing(logic, logics, t1, scratch):
    before, count = snapshot(t1), logics.scene.GetNumberOfNodes()
    jobs, finished = [], []
    job = logic.start(t1, Request(method="lanczos", scale=(4.0, 4.0, 4.0)),
                      onProgress=lambda fraction, text: ": " in text and jobs and jobs[0].cancel(),
                      onFinished=finished.append)
    jobs.append(job)
    process = job._process
    started = time.monotonic()
    with pytest.raises(ProcessingCancelled):
        job.wait(timeout=60)
    assert time.monotonic() - started < 30  # the full run takes far longer: it was killed, not waited for
    assert job.state == job.CANCELLED and finished == [job]
    assert process._process.poll() is not None
    assert logics.scene.GetNumberOfNodes() == count
    assert list(scratch.iterdir()) == []
    assert_unchanged(t1, before)


def test_cancel_right_after_start(logic, logics, t1, scratch):
    count = logics.scene.GetNumberOfNodes()
    job = logic.start(t1, Request(scale=(2.0, 2.0, 2.0)))
    job.cancel()
    assert job.state == job.CANCELLED and not job.poll()
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []


def test_unknown_method_is_reported_and_adds_nothing(logic, logics, t1, scratch):
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(ProcessingError, match="unknown sr method 'magic'"):
        logic.superResolve(t1, spacing=(1, 1, 1), method="magic")
    with pytest.raises(ProcessingError, match="unknown enhance method 'sharpen'"):
        logic.enhance(t1, ["curvature-flow", "sharpen"])
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []


def test_the_noise_level_reaches_the_learned_denoiser(logic, logics, t1, scratch):
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(ProcessingError, match="a noise level is for the learned denoisers"):
        logic.enhance(t1, ["n4"], noiseSigma=5.0)
    with pytest.raises(ProcessingError, match="must be a positive number"):
        logic.enhance(t1, ["ae"], noiseSigma=0.0)
    with pytest.raises(ProcessingError, match="not for super-resolution"):
        logic.superResolve(t1, scale=2, method="linear", noiseSigma=5.0)
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []
    with pytest.raises(ProcessingError, match="turning mirroring off is for the denoising autoencoder"):
        logic.enhance(t1, ["n4"], mirror=False)
    with pytest.raises(ProcessingError, match="turning mirroring off is an option of the denoising autoencoder"):
        logic.superResolve(t1, scale=2, method="linear", mirror=False)
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []
    source = slicer_array(t1).astype(np.float32)
    low, high = (slicer_array(logic.enhance(t1, ["ae"], noiseSigma=sigma, mirror=False)) for sigma in (2.0, 40.0))
    # told more noise, the autoencoder smooths more (measured 2.1x the change with 0.5.0)
    assert np.abs(high - source).mean() > 1.2 * np.abs(low - source).mean()
    # the default averages the eight mirrored passes: a result of its own, as close to the input as the one pass
    mirrored = slicer_array(logic.enhance(t1, ["ae"], noiseSigma=2.0)).astype(np.float32)
    assert np.abs(mirrored - low).max() > 0.01 * np.abs(source).max()
    assert 0.8 < np.abs(mirrored - source).mean() / np.abs(low - source).mean() < 1.2


def test_an_error_in_the_child_is_reported_and_adds_nothing(logic, logics, t1_block, scratch):
    # N4 refuses negative intensities: the child process fails with MedSRLib's own message
    shifted = add_volume(logics.scene, t1_block[0].astype(np.float32) - float(t1_block[0].mean()), t1_block[1], "shifted")
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(ProcessingError) as error:
        logic.enhance(shifted, ["n4"])
    assert str(error.value) == "Enhancement (n4) failed: N4 needs non-negative intensities (an MR magnitude image)"
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []


def test_a_crashing_interpreter_is_reported(logics, t1, scratch):
    crashing = [sys.executable, "-c", "import sys; print('half a line', file=sys.stderr); sys.exit(3)"]
    logic = MedSRLogic(scene=logics.scene, python=crashing, temporaryFolder=str(scratch))
    count = logics.scene.GetNumberOfNodes()
    finished = []
    job = logic.start(t1, Request(scale=(2.0, 2.0, 2.0)), onFinished=finished.append)
    with pytest.raises(ProcessingError, match=r"^Super-resolution \(bspline\) failed: half a line$"):
        job.wait(timeout=60)
    assert job.state == job.FAILED and finished == [job]
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []


def test_an_unavailable_segmentation_method_is_refused(logic, logics, t1, scratch):
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(ProcessingError, match="no segmentation methods yet|unknown segment method 'no-such-model'"):
        logic.segment(t1, method="no-such-model")
    assert logics.scene.GetNumberOfNodes() == count and list(scratch.iterdir()) == []


FAKE_SEGMENTER = """
import sys
import SimpleITK as sitk
assert sys.argv[1:5] == ["-m", "MedSRLib", "--progress", "lines"], sys.argv
arguments = sys.argv[5:]  # segment IN OUT --model NAME --device DEVICE
assert arguments[0] == "segment" and arguments[3:5] == ["--model", "test-tissues"] and arguments[5] == "--device", arguments
image = sitk.ReadImage(arguments[1], sitk.sitkFloat32)
mean = sitk.GetArrayViewFromImage(image).mean()
labels = sitk.Cast(image > 0.8 * mean, sitk.sitkUInt8) + sitk.Cast(image > 1.2 * mean, sitk.sitkUInt8)
sitk.WriteImage(labels, arguments[2])
with open(arguments[2].replace(".nrrd", ".ctbl"), "w") as table:
    table.write("# Color table file\\n0 background 0 0 0 0\\n1 grey_matter 128 128 128 255\\n2 white_matter 255 230 200 255\\n")
"""


def test_segmentation_plugs_in_when_medsrlib_registers_a_method(logics, t1, scratch, monkeypatch, tmp_path):
    """The whole segment path, with a stand-in child that writes what `medsr segment` writes."""
    from MedSRLib.methods import Method, registry

    if "segment" not in registry.TASKS:
        pytest.skip("this MedSRLib has no segment task")
    monkeypatch.setitem(registry._REGISTRY["segment"], "test-tissues",
                        Method(name="test-tissues", task="segment", run=None, summary="thresholds, for this test"))
    fake = tmp_path / "fake_medsr.py"
    fake.write_text(FAKE_SEGMENTER)
    hierarchy = logics.scene.GetSubjectHierarchyNode()
    study = hierarchy.CreateFolderItem(hierarchy.GetSceneItemID(), "Study 1")
    hierarchy.CreateItem(study, t1)
    logic = MedSRLogic(scene=logics.scene, python=[sys.executable, str(fake)], temporaryFolder=str(scratch))

    segmentation = logic.segment(t1, method="test-tissues", device="gpu")

    assert segmentation.GetName() == "T1 segmentation test-tissues"
    assert [(name, label) for name, label, _ in segmentLabels(segmentation)] == [("grey matter", 1), ("white matter", 2)]
    np.testing.assert_allclose(segmentLabels(segmentation)[1][2], (1.0, 230 / 255, 200 / 255))
    assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(segmentation)) == study
    assert list(scratch.iterdir()) == []


def test_bad_requests_are_refused_in_words(logic, logics, t1):
    with pytest.raises(ProcessingError, match="either a target spacing or a scale"):
        logic.run(t1, Request())
    with pytest.raises(ProcessingError, match="absurd"):
        logic.superResolve(t1, spacing=(0.0001, 1, 1))
    with pytest.raises(ProcessingError, match="unknown device"):
        logic.run(t1, Request(scale=(2, 2, 2), device="tpu"))
    with pytest.raises(ProcessingError, match="must be a scalar volume"):
        logic.superResolve(logics.scene.AddNewNodeByClass("vtkMRMLLinearTransformNode"), scale=2)


# --- what the panel lists -------------------------------------------------------------------------------------------
def test_methods_come_from_the_registry():
    from MedSRLib.methods import methods

    listed = MedSRLogic.methods("sr")
    assert [m.name for m in listed] == [m.name for m in methods("sr")]
    assert all(m.summary for m in listed)
    assert [m.name for m in MedSRLogic.methods("chain")] == [m.name for m in listed]
    assert "n4" in [m.name for m in MedSRLogic.methods("enhance")]
    adapt = {m.name: m for m in listed}["adapt"]  # the pretrained cnn adapted to the scan is offered in the panel
    assert adapt.family == "learned" and "fine-tuned" in adapt.summary


# --- conversions and reading the child's output --------------------------------------------------------------------
def test_node_and_volume_round_trip_exactly(logics, t1_block):
    node = add_volume(logics.scene, t1_block[0], support.oblique_matrix(), "oblique")
    volume = nodes.volumeFromNode(node)
    assert volume.array.shape == nodes.dimensions(node) == (48, 48, 48)
    np.testing.assert_array_equal(volume.array, slicer_array(node).transpose(2, 1, 0))
    np.testing.assert_allclose(volume.grid.ijk_to_ras(), ijk_to_ras(node), rtol=0, atol=1e-12)
    back = nodes.nodeFromVolume(volume, "back", logics.scene)
    np.testing.assert_array_equal(slicer_array(back), slicer_array(node))
    np.testing.assert_allclose(ijk_to_ras(back), ijk_to_ras(node), rtol=0, atol=1e-12)


def test_stderr_parser_reads_progress_across_chunks():
    parser = StderrParser()
    assert parser.feed("medsr-progress 0.2500 bspl") == []
    assert parser.feed("ine interpolation\nnote: spacing adjusted\nmedsr-progress 1.0000\n") == [(0.25, "bspline interpolation"), (1.0, "")]
    parser.feed("medsr sr: error: argument --method: expected one argument\n")
    assert parser.notes() == ["spacing adjusted"]
    assert parser.error(2) == "argument --method: expected one argument"
    assert parse_progress("sr bspline:  45%|####      | 00:01") is None
    crashed = StderrParser()
    crashed.feed("Traceback (most recent call last):\n  File x\nZeroDivisionError: division by zero\n")
    assert crashed.error(1) == "ZeroDivisionError: division by zero"
    assert StderrParser().error(9) == "exited with status 9"


def test_the_childs_lines_name_the_panels_fields():
    assert inPanelTerms("slice profile assumed: box (the default; --slice-profile gaussian or kspace for another)") == (
        'slice profile assumed: box (the default; "Slice profile" gaussian or kspace for another)')
    assert inPanelTerms("cannot read input.nrrd: --sr needs --slice-thickness-like --srx", "T1") == (
        "cannot read 'T1': \"Super-resolve first\" needs --slice-thickness-like --srx")


def test_importing_the_logic_loads_no_heavy_dependency():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import MedSRLogicLib, MedSRLogicLib.install; "
            "print(sorted(m for m in ('torch', 'monai', 'scipy', 'SimpleITK', 'MedSRLib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(support.MODULE_FOLDER)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def slicer_array(node) -> np.ndarray:
    import slicer.util

    return slicer.util.arrayFromVolume(node)


def test_real_segmentation_becomes_a_named_coloured_segmentation_node(logic, logics, t1, scratch):
    """The shipped brain-tissue model through the real `medsr segment` child process."""
    before, count = snapshot(t1), logics.scene.GetNumberOfNodes()
    result = logic.run(t1, Request(task="segment", method="brain-tissue", device="cpu", skullStripped=True,
                                   probabilityMaps=True))
    names = [name for name, _, _ in segmentLabels(result.node)]
    assert names == ["cerebrospinal fluid", "grey matter", "white matter"]
    assert any(note.startswith("grey matter: ") and note.endswith(" mL") for note in result.notes)
    # the tissues' probability maps, as volumes on the input's grid, named after the segmentation and the tissue
    assert list(result.probabilityNodes) == names
    maps = {tissue: slicer_array(node) for tissue, node in result.probabilityNodes.items()}
    for tissue, node in result.probabilityNodes.items():
        assert node.GetName() == f"{result.node.GetName()} {tissue} probability"
        _assert_on_grid(node, Grid.from_ijk_to_ras(ijk_to_ras(t1), nodes.dimensions(t1)))
        assert 0.0 <= maps[tissue].min() and maps[tissue].max() <= 1.0 + 1e-6 and maps[tissue].max() > 0.9
    assert_unchanged(t1, before)
    assert logics.scene.GetNumberOfNodes() > count
    assert list(scratch.iterdir()) == []


def test_uncertainty_map_becomes_a_second_node_on_the_result_grid(logic, t1_oblique):
    before = snapshot(t1_oblique)
    result = logic.run(t1_oblique, Request(method="self", scale=(1.0, 1.0, 2.0), uncertainty=True, device="cpu"))
    _assert_on_grid(result.node, _expected(t1_oblique, scale=(1.0, 1.0, 2.0)))
    _assert_on_grid(result.uncertaintyNode, _expected(t1_oblique, scale=(1.0, 1.0, 2.0)))
    assert result.uncertaintyNode.GetName() == result.node.GetName() + " uncertainty"
    assert slicer_array(result.uncertaintyNode).max() > 0
    # the panel says what the map's values are (the expected absolute error, in the scan's units)
    assert any(note.startswith("the map written is the uncertainty (expected absolute error") for note in result.notes)
    assert_unchanged(t1_oblique, before)


def test_data_consistency_is_skipped_with_a_note_when_an_axis_gets_coarser(logic, t1_oblique):
    result = logic.run(t1_oblique, Request(method="linear", scale=(0.5, 1.0, 2.0)))  # consistency is on by default
    _assert_on_grid(result.node, _expected(t1_oblique, scale=(0.5, 1.0, 2.0)))
    assert "data consistency skipped: the output is coarser than the input along some axis" in result.notes


def test_segmentation_of_thick_slices_can_be_super_resolved_first(logic, logics, t1_block, scratch):
    """A 1x1x4 mm version of the T1 block: with superResolveFirst the segments lie on the 1 mm grid of its field of
    view (auto's first choice for thick slices restores them first), without it on the input's 4 mm grid."""
    import slicer

    array, matrix = t1_block  # (k, j, i)
    thick = array.astype(np.float32).reshape(array.shape[0] // 4, 4, *array.shape[1:]).mean(axis=1)
    thickMatrix = np.array(matrix, dtype=float)
    thickMatrix[:3, 3] += 1.5 * thickMatrix[:3, 2]  # the centre of the first four slices
    thickMatrix[:3, 2] *= 4
    node = add_volume(logics.scene, thick, thickMatrix, "T1 thick")
    before = snapshot(node)
    fine = logic.run(node, Request(task="segment", method="brain-tissue", device="cpu", superResolveFirst=True, skullStripped=True))
    coarse = logic.run(node, Request(task="segment", method="brain-tissue", device="cpu", skullStripped=True))
    assert any(note.startswith("super-resolved first by self (ranked 1 of 2") for note in fine.notes), fine.notes
    assert "intensity model applied" in fine.notes and not any(n.startswith("super-resolved") for n in coarse.notes)
    labelmap = slicer.vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()

    def spacing(segmentation):  # the column norms of the first segment's image-to-world matrix
        first = segmentation.GetSegmentation().GetNthSegment(0).GetRepresentation(labelmap)
        return np.linalg.norm(vtk_matrix(first)[:3, :3], axis=0)

    np.testing.assert_allclose(spacing(fine.node), [1.0, 1.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(spacing(coarse.node), [1.0, 1.0, 4.0], atol=1e-6)
    assert_unchanged(node, before)
    assert list(scratch.iterdir()) == []
    with pytest.raises(ProcessingError, match="option of segmentation"):
        logic.run(node, Request(task="sr", method="bspline", spacing=(1, 1, 1), superResolveFirst=True))
    with pytest.raises(ProcessingError, match="not for segmentation"):
        logic.run(node, Request(task="segment", method="brain-tissue", noiseSigma=3.0))
    assert list(scratch.iterdir()) == []


def vtk_matrix(orientedImage) -> np.ndarray:
    import vtk

    matrix = vtk.vtkMatrix4x4()
    orientedImage.GetImageToWorldMatrix(matrix)
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


# --- brain mask: a real head with skull ---------------------------------------------------------------------------
@pytest.fixture()
def itk_head(logics):
    """ITK's KmeansTest subject (real, with skull; 2x2x3 mm) as a scalar volume node, read with MedSRLib."""
    from pathlib import Path

    from MedSRLib import read_volume

    volume = read_volume(Path(__file__).resolve().parents[1] / "Data" / "itk-subject" / "t1.nii.gz")
    return add_volume(logics.scene, np.ascontiguousarray(volume.array.T).astype(np.float32), volume.grid.ijk_to_ras(), "KmeansTest")


def test_brain_mask_is_a_segmentation_named_after_the_input_with_the_masked_volume(logic, logics, itk_head, scratch):
    before = snapshot(itk_head)
    result = logic.stripBrain(itk_head, maskedVolume=True, device="cpu")
    assert result.node.GetName() == "KmeansTest brain mask"
    assert [name for name, _, _ in segmentLabels(result.node)] == ["brain"]
    assert any(note.startswith("intracranial volume ") and note.endswith(" mL") for note in result.notes)
    assert "contrast read from the image: T1-weighted (white > grey matter > CSF)" in " ".join(result.notes)
    assert not any(note.startswith("warning:") for note in result.notes)  # the whole brain is in the field of view
    assert 1000 < result.volumesMl["intracranial (brain mask)"] < 2000  # its skull-stripped twin holds 1,542 mL
    masked = slicer_array(result.maskedNode)
    source = slicer_array(itk_head)
    inside = masked != 0
    assert 0.08 < inside.mean() < 0.3  # the brain, not the head (the head fills about a quarter of this field of view)
    np.testing.assert_array_equal(masked[inside], source[inside])
    np.testing.assert_allclose(ijk_to_ras(result.maskedNode), ijk_to_ras(itk_head), atol=1e-9)
    assert_unchanged(itk_head, before)
    assert list(scratch.iterdir()) == []


def test_a_head_with_skull_is_labelled_inside_its_brain_after_n4(logic, itk_head, scratch):
    """Segmentation of a real head with skull in the panel: the brain is extracted, the field flattened inside it, and
    the tissue it labels fits inside the intracranial volume (its skull-stripped twin holds 1,542 mL)."""
    before = snapshot(itk_head)
    result = logic.run(itk_head, Request(task="segment", method="brain-tissue", device="cpu"))
    assert "N4 bias-field correction inside the brain mask before labelling" in result.notes, result.notes
    assert any(note.startswith("brain mask (") for note in result.notes), result.notes
    # a real T1: its CSF lies apart from grey matter
    assert any(note.startswith("CSF's prior weighed by 0.1 (CSF ") and note.endswith(" summed spreads from grey matter)")
               for note in result.notes), result.notes
    intracranial = result.volumesMl["intracranial (brain mask)"]
    assert 1000 < intracranial < 2000
    tissue = sum(ml for name, ml in result.volumesMl.items() if name != "intracranial (brain mask)")
    assert 0.995 * intracranial <= tissue <= intracranial + 1.0  # every voxel of the mask is tissue (measured: all)
    assert_unchanged(itk_head, before)
    assert list(scratch.iterdir()) == []


def test_a_brain_cut_by_the_field_of_view_is_said_first_in_the_panel(logic, logics, scratch):
    """ITK's subject with the top 2 cm of its brain outside the field of view (slices j >= 85 dropped): the
    segmentation is made, and the first note says that its volumes are of the part of the brain inside the scan."""
    from pathlib import Path

    from MedSRLib import read_volume

    volume = read_volume(Path(__file__).resolve().parents[1] / "Data" / "itk-subject" / "t1.nii.gz")
    cut = np.ascontiguousarray(volume.array[:, :85].T).astype(np.float32)
    node = add_volume(logics.scene, cut, volume.grid.ijk_to_ras(), "KmeansTest cut")
    result = logic.run(node, Request(task="segment", method="brain-tissue", device="cpu"))
    assert result.notes[0].startswith("warning: the brain reaches the edge of the field of view: superior ("), result.notes
    assert 1200 < result.volumesMl["intracranial (brain mask)"] < 1500  # measured 1,416 mL (the twin cut alike: 1,435)
    assert list(scratch.iterdir()) == []


def test_brain_mask_of_noise_is_refused_in_the_panel_terms_and_adds_nothing(logic, logics, scratch):
    rng = np.random.default_rng(1)
    node = add_volume(logics.scene, rng.random((80, 100, 100), dtype=np.float32) * 100, np.diag([1.5, 1.5, 1.5, 1.0]), "noise")
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(ProcessingError, match="no brain found in 'noise': "):
        logic.stripBrain(node, device="cpu")
    with pytest.raises(ProcessingError, match="no brain found"):
        logic.run(node, Request(task="segment", method="brain-tissue", device="cpu"))
    assert logics.scene.GetNumberOfNodes() == count
    assert list(scratch.iterdir()) == []
    with pytest.raises(ProcessingError, match="option of the brain mask task"):
        logic.run(node, Request(task="segment", method="brain-tissue", maskedVolume=True))
    with pytest.raises(ProcessingError, match="probability maps are an option of segmentation"):
        logic.stripBrain(node, probabilityMaps=True)


class _SliceWidget:
    """Stands in for the application's slice widget only; its slice and composite nodes are real MRML nodes."""

    def __init__(self, scene, name):
        import slicer

        self.node = slicer.vtkMRMLSliceNode()
        self.node.SetLayoutName(name)
        scene.AddNode(self.node)
        self.composite = slicer.vtkMRMLSliceCompositeNode()
        scene.AddNode(self.composite)

    def mrmlSliceNode(self):
        return self.node

    def mrmlSliceCompositeNode(self):
        return self.composite

    def sliceLogic(self):
        return type("Logic", (), {"FitSliceToAll": lambda self: None})()


class _LayoutManager:
    def __init__(self, scene):
        self.widgets = {name: _SliceWidget(scene, name) for name in ("Red", "Yellow", "Green")}
        self.layout = None

    def setLayout(self, layout):
        self.layout = layout

    def sliceWidget(self, name):
        return self.widgets[name]

    def sliceViewNames(self):
        return list(self.widgets)


@pytest.fixture()
def main_window(logics, monkeypatch):
    import slicer

    manager = _LayoutManager(logics.scene)
    monkeypatch.setattr(slicer, "app", type("App", (), {"layoutManager": lambda self: manager})(), raising=False)
    return manager


def test_super_resolution_is_shown_beside_its_input_with_linked_slices(logic, t1, main_window):
    import slicer

    result = logic.superResolve(t1, spacing=(1.0, 1.0, 0.5), method="linear")
    assert main_window.layout == slicer.vtkMRMLLayoutNode.SlicerLayoutSideBySideView
    red, yellow = main_window.widgets["Red"].composite, main_window.widgets["Yellow"].composite
    assert red.GetBackgroundVolumeID() == t1.GetID() and yellow.GetBackgroundVolumeID() == result.GetID()
    assert red.GetLinkedControl() and yellow.GetLinkedControl()


def test_a_segmentation_centres_the_views_and_carries_its_volumes(logic, t1, main_window):
    result = logic.run(t1, Request(task="segment", method="brain-tissue", device="cpu", skullStripped=True))
    assert set(result.volumesMl) == {"cerebrospinal fluid", "grey matter", "white matter"}
    assert all(ml > 0 for ml in result.volumesMl.values())
    bounds = [0.0] * 6
    result.node.GetRASBounds(bounds)
    centre = np.array([(bounds[2 * a] + bounds[2 * a + 1]) / 2 for a in range(3)])
    for widget in main_window.widgets.values():
        matrix = widget.node.GetSliceToRAS()
        np.testing.assert_allclose([matrix.GetElement(a, 3) for a in range(3)], centre, atol=1e-6)
