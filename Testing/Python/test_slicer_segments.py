"""Label map -> segmentation node, with names and colours, on label maps made from the real GM/WM sample maps."""

from __future__ import annotations

import numpy as np
import pytest
import slicer.util

import slicer_support as support
from slicer_support import SceneLogics, add_volume, current_scene, snapshot, assert_unchanged

from MedSRLogicLib import segmentationFromLabelMap, segmentLabels
from MedSRLogicLib.segments import readColourTable

NAMES = {1: "grey matter", 2: "white matter"}
COLOURS = {1: (0.5, 0.5, 0.5), 2: (1.0, 0.9, 0.8)}


@pytest.fixture(scope="module")
def tissue_labels():
    """1 where the GM probability > 0.5, 2 where the WM probability > 0.5 (disjoint), on the T1 crop's grid."""
    gm, matrix = support.crop(*support.read_sample("gm"))
    wm, _ = support.crop(*support.read_sample("wm"))
    scale = max(gm.max(), wm.max())  # the maps may be stored as probabilities or as 0-255
    labels = np.zeros(gm.shape, np.uint8)
    labels[gm > 0.5 * scale] = 1
    labels[(wm > 0.5 * scale) & (wm > gm)] = 2
    assert (labels == 1).sum() > 1000 and (labels == 2).sum() > 1000
    return labels, matrix


@pytest.fixture()
def logics():
    logics = SceneLogics()
    with current_scene(logics):
        yield logics


def test_segments_get_the_given_names_and_colours(logics, tissue_labels):
    labels, matrix = tissue_labels
    labelMap = add_volume(logics.scene, labels, matrix, "tissues", "vtkMRMLLabelMapVolumeNode")
    before = snapshot(labelMap)

    segmentation = segmentationFromLabelMap(labelMap, NAMES, COLOURS, name="T1 tissues")

    assert segmentation.GetName() == "T1 tissues" and segmentation.GetScene() is logics.scene
    found = segmentLabels(segmentation)
    assert [(name, label) for name, label, _ in found] == [("grey matter", 1), ("white matter", 2)]
    for _, label, colour in found:
        np.testing.assert_allclose(colour, COLOURS[label])
    for index, (_, label, _) in enumerate(found):
        segmentId = segmentation.GetSegmentation().GetNthSegmentID(index)
        voxels = slicer.util.arrayFromSegmentBinaryLabelmap(segmentation, segmentId, labelMap)
        np.testing.assert_array_equal(voxels > 0, labels == label)
    assert_unchanged(labelMap, before)


def test_labels_without_a_name_keep_slicer_defaults(logics, tissue_labels):
    labels, matrix = tissue_labels
    labelMap = add_volume(logics.scene, labels, matrix, "tissues", "vtkMRMLLabelMapVolumeNode")
    segmentation = segmentationFromLabelMap(labelMap, {2: "white matter"})
    names = [name for name, _, _ in segmentLabels(segmentation)]
    assert names[1] == "white matter" and names[0] and names[0] != "white matter"


def test_a_label_map_outside_the_scene_can_be_imported(logics, tissue_labels):
    # a method's output is read straight from its file into a node that never joins the scene
    labels, matrix = tissue_labels
    scratch = SceneLogics()
    labelMap = add_volume(scratch.scene, labels, matrix, "tissues", "vtkMRMLLabelMapVolumeNode")
    segmentation = segmentationFromLabelMap(labelMap, NAMES, COLOURS, scene=logics.scene)
    assert len(segmentLabels(segmentation)) == 2
    assert logics.scene.GetFirstNodeByName("tissues") is None


def test_a_bad_colour_adds_nothing(logics, tissue_labels):
    labels, matrix = tissue_labels
    labelMap = add_volume(logics.scene, labels, matrix, "tissues", "vtkMRMLLabelMapVolumeNode")
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(ValueError, match="colour of label 2"):
        segmentationFromLabelMap(labelMap, NAMES, {2: (255, 0, 0)})
    assert logics.scene.GetNumberOfNodes() == count


def test_a_failed_import_adds_nothing(logics, tissue_labels):
    labels, matrix = tissue_labels
    labelMap = add_volume(logics.scene, labels, matrix, "tissues", "vtkMRMLLabelMapVolumeNode")
    labelMap.SetAndObserveImageData(None)  # nothing to import
    count = logics.scene.GetNumberOfNodes()
    with pytest.raises(RuntimeError, match="could not import label map 'tissues'"):
        segmentationFromLabelMap(labelMap, NAMES, COLOURS)
    assert logics.scene.GetNumberOfNodes() == count


def test_colour_tables_give_names_and_colours(tmp_path):
    table = tmp_path / "labels.ctbl"
    table.write_text("# Color table file written by MedSR\n# 3 values\n0 background 0 0 0 0\n1 CSF 0 0 255 255\n"
                     "3 white_matter 255 255 255 255\n")
    assert readColourTable(table) == ({1: "CSF", 3: "white matter"}, {1: (0.0, 0.0, 1.0), 3: (1.0, 1.0, 1.0)})
    assert readColourTable(tmp_path / "missing.ctbl") == (None, None)
    table.write_text("1 CSF 0 0 255\n")
    with pytest.raises(ValueError, match="line 1"):
        readColourTable(table)
